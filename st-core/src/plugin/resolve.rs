//! Dependency resolution for `initialize_all`: semver checks, failure propagation, cycle
//! detection, and a load order in which every plugin comes after its dependencies.

use super::traits::PluginState;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One registered plugin as the resolver sees it.
pub(crate) struct Node {
    pub(crate) id: String,
    pub(crate) version: semver::Version,
    pub(crate) state: PluginState,
    /// (dependency id, parsed requirement, requirement as written).
    pub(crate) deps: Vec<(String, semver::VersionReq, String)>,
}

/// What `initialize_all` should do.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Plugins to load, dependencies first (ties keep registration order).
    pub(crate) order: Vec<String>,
    /// Plugins that cannot load, with the reason naming the plugins involved.
    pub(crate) failed: Vec<(String, String)>,
}

/// Plans the loading of every `Registered` node; `nodes` is in registration order.
pub(crate) fn plan(nodes: &[Node]) -> Plan {
    let by_id: HashMap<&str, &Node> = nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let pending: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.state == PluginState::Registered)
        .collect();
    let mut bad: BTreeMap<String, String> = BTreeMap::new();

    // Missing dependencies, version mismatches and failed dependencies, propagated to dependents
    // until nothing changes.
    loop {
        let mut changed = false;
        for n in &pending {
            if bad.contains_key(&n.id) {
                continue;
            }
            for (dep, req, req_text) in &n.deps {
                let reason = match by_id.get(dep.as_str()) {
                    None => Some(format!(
                        "missing dependency {dep} (requires {dep} {req_text})"
                    )),
                    Some(d) if !req.matches(&d.version) => Some(format!(
                        "requires {dep} {req_text} but {dep} {} is registered",
                        d.version
                    )),
                    Some(d) => match &d.state {
                        PluginState::Failed(m) => Some(format!("dependency {dep} failed: {m}")),
                        _ if bad.contains_key(dep) => {
                            Some(format!("dependency {dep} cannot be loaded"))
                        }
                        _ => None,
                    },
                };
                if let Some(r) = reason {
                    bad.insert(n.id.clone(), r);
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            break;
        }
    }

    // Kahn's algorithm over the remaining pending plugins.
    let live: Vec<&Node> = pending
        .iter()
        .copied()
        .filter(|n| !bad.contains_key(&n.id))
        .collect();
    let live_ids: HashSet<&str> = live.iter().map(|n| n.id.as_str()).collect();
    let pending_deps = |n: &Node| -> Vec<String> {
        n.deps
            .iter()
            .map(|d| d.0.clone())
            .filter(|d| live_ids.contains(d.as_str()))
            .collect()
    };
    let mut done: HashSet<String> = HashSet::new();
    let mut order = Vec::new();
    loop {
        let next = live
            .iter()
            .find(|n| !done.contains(&n.id) && pending_deps(n).iter().all(|d| done.contains(d)));
        match next {
            Some(n) => {
                done.insert(n.id.clone());
                order.push(n.id.clone());
            }
            None => break,
        }
    }

    // Whatever is left has a dependency on a cycle or lies on one: name the cycle.
    let mut stuck: Vec<&Node> = live
        .iter()
        .copied()
        .filter(|n| !done.contains(&n.id))
        .collect();
    while let Some(start) = stuck.first().map(|n| n.id.clone()) {
        let mut path: Vec<String> = vec![start.clone()];
        let mut cur = start;
        let outcome = loop {
            let node = by_id[cur.as_str()];
            let next = pending_deps(node).into_iter().find(|d| !done.contains(d));
            let Some(next) = next else { break None };
            if bad.contains_key(&next) {
                break Some((path.clone(), Some(next)));
            }
            if let Some(pos) = path.iter().position(|p| *p == next) {
                let mut cycle: Vec<String> = path[pos..].to_vec();
                cycle.push(next.clone());
                let text = format!("dependency cycle {}", cycle.join(" -> "));
                for c in &path[pos..] {
                    bad.insert(c.clone(), text.clone());
                }
                break Some((path[..pos].to_vec(), Some(path[pos].clone())));
            }
            path.push(next.clone());
            cur = next;
        };
        match outcome {
            Some((prefix, Some(blocker))) => {
                for p in prefix.iter().rev() {
                    if !bad.contains_key(p) {
                        bad.insert(
                            p.clone(),
                            format!("depends on {blocker}, which cannot load"),
                        );
                    }
                }
            }
            _ => {
                // No unresolved dependency (cannot happen after Kahn); do not loop forever.
                bad.entry(path[0].clone())
                    .or_insert_with(|| "unresolvable dependency order".to_string());
            }
        }
        stuck.retain(|n| !bad.contains_key(&n.id));
    }

    let failed = pending
        .iter()
        .filter_map(|n| bad.get(&n.id).map(|r| (n.id.clone(), r.clone())))
        .collect();
    Plan { order, failed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, v: &str, deps: &[(&str, &str)]) -> Node {
        Node {
            id: id.into(),
            version: semver::Version::parse(v).unwrap(),
            state: PluginState::Registered,
            deps: deps
                .iter()
                .map(|(d, r)| {
                    (
                        d.to_string(),
                        semver::VersionReq::parse(r).unwrap(),
                        r.to_string(),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn orders_dependencies_first_and_names_cycles() {
        let p = plan(&[
            node("c", "1.0.0", &[("b", "^1")]),
            node("b", "1.2.0", &[("a", ">=1")]),
            node("a", "1.0.0", &[]),
        ]);
        assert_eq!(p.order, vec!["a", "b", "c"]);
        assert!(p.failed.is_empty());

        let p = plan(&[
            node("x", "1.0.0", &[("y", "*")]),
            node("y", "1.0.0", &[("x", "*")]),
            node("z", "1.0.0", &[("x", "*")]),
            node("ok", "1.0.0", &[]),
        ]);
        assert_eq!(p.order, vec!["ok"]);
        let f: BTreeMap<_, _> = p.failed.into_iter().collect();
        assert!(
            f["x"].contains("x -> y -> x") || f["x"].contains("y -> x -> y"),
            "{f:?}"
        );
        assert!(f["y"].contains("cycle"));
        assert!(f["z"].contains("x"), "{f:?}");
    }
}
