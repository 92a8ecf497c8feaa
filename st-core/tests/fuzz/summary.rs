//! The printed summary: totals, per-op counts, and the failures grouped by (op, site) with
//! the first message, the shortest reproduction text and a command that re-runs the case.

use super::config::Config;
use super::parent::{Counts, Failure, Summary};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Failures grouped by (site, op), in that order.
pub fn groups(sum: &Summary) -> BTreeMap<(String, String), Vec<&Failure>> {
    let mut g: BTreeMap<(String, String), Vec<&Failure>> = BTreeMap::new();
    for f in &sum.failures {
        g.entry((f.site.clone(), f.op.clone())).or_default().push(f);
    }
    g
}

/// The summary text.
pub fn render(cfg: &Config, sum: &Summary, elapsed: f64) -> String {
    let mut s = String::new();
    let total = sum.counts.values().fold(Counts::default(), |a, c| Counts {
        ok: a.ok + c.ok,
        err: a.err + c.err,
        skip: a.skip + c.skip,
        fail: a.fail + c.fail,
        us: a.us + c.us,
    });
    let _ = writeln!(
        s,
        "st-core fuzz_api: seed {}, {} cases in {elapsed:.1} s ({} child processes, {} jobs): \
         ok {}, err {}, setup err {}, failed {}",
        cfg.seed, sum.cases, sum.children, cfg.jobs, total.ok, total.err, total.skip, total.fail
    );
    for t in &sum.traces {
        let _ = writeln!(s, "{t}");
    }
    let _ = writeln!(s, "\nper op (ok/err/setup err/failed):");
    let cells: Vec<String> = sum
        .counts
        .iter()
        .map(|(op, c)| format!("{op} {}/{}/{}/{}", c.ok, c.err, c.skip, c.fail))
        .collect();
    for row in cells.chunks(4) {
        let r: Vec<String> = row.iter().map(|c| format!("{c:<36}")).collect();
        let _ = writeln!(s, "  {}", r.join("  ").trim_end());
    }
    let mut slow: Vec<(&String, &Counts)> = sum.counts.iter().collect();
    slow.sort_by_key(|(_, c)| std::cmp::Reverse(c.us));
    let slow: Vec<String> = slow
        .iter()
        .take(8)
        .map(|(op, c)| format!("{op} {:.2} s", c.us as f64 / 1e6))
        .collect();
    let _ = writeln!(s, "most time: {}", slow.join(", "));
    let never: Vec<&str> = sum
        .counts
        .iter()
        .filter(|(_, c)| c.ok == 0)
        .map(|(op, _)| op.as_str())
        .collect();
    if !never.is_empty() {
        let _ = writeln!(s, "never Ok: {}", never.join(", "));
    }
    let groups = groups(sum);
    let mut by_site: BTreeMap<&str, Vec<(&str, &Vec<&Failure>)>> = BTreeMap::new();
    for ((site, op), fs) in &groups {
        by_site.entry(site).or_default().push((op, fs));
    }
    let _ = writeln!(
        s,
        "\n{} failing cases in {} distinct classes (op, site), at {} sites:",
        sum.failures.len(),
        groups.len(),
        by_site.len()
    );
    for (i, (site, ops)) in by_site.iter().enumerate() {
        let all: Vec<&Failure> = ops.iter().flat_map(|(_, fs)| fs.iter().copied()).collect();
        let shortest = all
            .iter()
            .min_by_key(|f| f.text.iter().map(String::len).sum::<usize>())
            .copied()
            .unwrap_or(all[0]);
        let _ = writeln!(s, "\n[{}] at {site}: {} cases", i + 1, all.len());
        for (op, fs) in ops {
            let f = fs[0];
            let _ = writeln!(
                s,
                "    {op} ({} cases): {}",
                fs.len(),
                f.msg.replace('\n', " | ")
            );
            if !f.note.is_empty() {
                let _ = writeln!(s, "      note: {}", f.note);
            }
            let _ = writeln!(s, "      repro: {}", cfg.repro(f.idx));
        }
        let _ = writeln!(
            s,
            "    shortest case ({}, case {}):",
            shortest.op, shortest.idx
        );
        for l in &shortest.text {
            let _ = writeln!(s, "      {l}");
        }
    }
    s
}
