//! The kernel table: built once from the `inventory` records into a dense array indexed by
//! (op, backend, dtype), so a lookup is three multiplications and a load.

use super::kernel::{KernelCaps, KernelFn, KernelIntoFn, KernelReg};
use crate::backend::backend_names;
use crate::device::BackendId;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::op::{OpId, OpKind};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One resolved table entry.
#[derive(Clone, Copy)]
pub struct Entry {
    /// The kernel.
    pub kernel: KernelFn,
    /// Its output-buffer form (in-place and `out=` ops write through it without allocating;
    /// without it the dispatcher computes out of place and copies).
    pub into: Option<KernelIntoFn>,
    /// Its capabilities.
    pub caps: KernelCaps,
    /// Where it was registered.
    pub source: &'static str,
}

/// The (op, backend, dtype) → kernel matrix.
pub type Coverage = BTreeMap<(OpId, BackendId), Vec<DType>>;

/// The kernel registry.
pub struct Registry {
    backends: Vec<&'static str>,
    table: Vec<Option<Entry>>,
    dangling: Vec<String>,
}

impl Registry {
    /// Builds a registry from records and backend names (index = [`BackendId`]).
    ///
    /// # Errors
    /// [`Error::Registry`] naming both sources when two records claim the same key.
    pub fn build<'a>(
        backends: &[&'static str],
        records: impl IntoIterator<Item = &'a KernelReg>,
    ) -> Result<Registry> {
        let nb = backends.len();
        let mut table: Vec<Option<Entry>> = vec![None; OpId::COUNT * nb * DType::COUNT];
        let mut dangling = Vec::new();
        let mut records: Vec<&KernelReg> = records.into_iter().collect();
        records.sort_by_key(|r| (r.op, r.backend, r.source));
        for r in records {
            let Some(b) = backends.iter().position(|n| *n == r.backend) else {
                dangling.push(format!(
                    "{} for unknown backend '{}' at {}",
                    r.op.name(),
                    r.backend,
                    r.source
                ));
                continue;
            };
            // A kernel for a composite op is its fused override (`dispatch/fused.rs`).
            if r.op.def().kind == OpKind::View {
                dangling.push(format!(
                    "{} is a {:?} op and takes no kernel (registered at {})",
                    r.op.name(),
                    r.op.def().kind,
                    r.source
                ));
                continue;
            }
            for &dt in r.dtypes {
                let slot = &mut table[index(nb, r.op, b, dt)];
                if let Some(prev) = slot {
                    return Err(Error::Registry(format!(
                        "duplicate kernel for ({}, {}, {}): registered at {} and at {}",
                        r.op.name(),
                        r.backend,
                        dt,
                        prev.source,
                        r.source
                    )));
                }
                *slot = Some(Entry {
                    kernel: r.kernel,
                    into: r.into,
                    caps: r.caps,
                    source: r.source,
                });
            }
        }
        Ok(Registry {
            backends: backends.to_vec(),
            table,
            dangling,
        })
    }

    /// The kernel for a key, if registered.
    #[inline]
    pub fn get(&self, op: OpId, backend: BackendId, dtype: DType) -> Option<&Entry> {
        self.table
            .get(index(self.backends.len(), op, backend.index(), dtype))
            .and_then(|e| e.as_ref())
    }

    /// The error for a missing key, listing what exists for the op.
    pub fn not_found(&self, op: OpId, backend: BackendId, dtype: DType) -> Error {
        let mut avail = Vec::new();
        for (b, name) in self.backends.iter().enumerate() {
            let dts: Vec<&str> = DType::ALL
                .iter()
                .filter(|dt| self.table[index(self.backends.len(), op, b, **dt)].is_some())
                .map(|dt| dt.as_str())
                .collect();
            if !dts.is_empty() {
                avail.push(format!("{name}: [{}]", dts.join(", ")));
            }
        }
        Error::KernelNotFound {
            op: op.name(),
            backend: backend.name().to_string(),
            dtype,
            available: if avail.is_empty() {
                "none".into()
            } else {
                avail.join("; ")
            },
        }
    }

    /// Registrations that could not be placed (unknown backend, non-kernel op). Must be empty.
    pub fn dangling(&self) -> &[String] {
        &self.dangling
    }

    /// Backend names, indexed by [`BackendId`].
    pub fn backends(&self) -> &[&'static str] {
        &self.backends
    }

    /// The full (op, backend) → dtypes matrix.
    pub fn coverage(&self) -> Coverage {
        let mut out = Coverage::new();
        for &op in OpId::ALL {
            for b in 0..self.backends.len() {
                let dts: Vec<DType> = DType::ALL
                    .iter()
                    .copied()
                    .filter(|dt| self.table[index(self.backends.len(), op, b, *dt)].is_some())
                    .collect();
                if !dts.is_empty() {
                    out.insert((op, BackendId(b as u16)), dts);
                }
            }
        }
        out
    }

    /// `docs/op-support.md`: one row per op and one column per backend in this registry, in
    /// [`BackendId`] order (so every linked backend gets a column), the dtypes in each cell.
    /// Needs no device: kernels and backends are link-time registrations.
    pub fn op_support_markdown(&self) -> String {
        let cov = self.coverage();
        let mut s = String::from(
            "# Op support\n\nGenerated from `Registry::coverage()` by \
             `ST_BLESS=1 cargo test -p st-examples --test op_support`, which links every backend \
             (also re-run by CI, which fails when this file is stale). One column per backend; \
             each cell lists the dtypes that have a registered kernel. *view* ops are \
             metadata-only and *composite* ops are built from other ops, so both work on every \
             backend that has the kernels they use. *into* marks kernels with an output-buffer \
             form: in-place ops (`add_`, `copy_`, ...) and `out=` variants write through it and \
             allocate nothing; for the others the dispatcher computes out of place and copies \
             the result in (Note [Writing into a tensor] in `dispatch/into.rs`).\n\n| op | family |",
        );
        for b in &self.backends {
            s.push_str(&format!(" {b} |"));
        }
        s.push_str("\n|---|---|");
        for _ in &self.backends {
            s.push_str("---|");
        }
        s.push('\n');
        for &op in OpId::ALL {
            let def = op.def();
            s.push_str(&format!("| `{}` | {} |", def.name, def.family));
            for b in 0..self.backends.len() {
                let cell = match def.kind {
                    OpKind::View => "*view*".to_string(),
                    OpKind::Composite => match cov.get(&(op, BackendId(b as u16))) {
                        Some(d) => format!(
                            "*composite* · fused: {}",
                            d.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(" ")
                        ),
                        None => "*composite*".to_string(),
                    },
                    OpKind::Kernel => match cov.get(&(op, BackendId(b as u16))) {
                        Some(d) => {
                            let mut cell =
                                d.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(" ");
                            let nb = self.backends.len();
                            let into: Vec<&str> = d
                                .iter()
                                .filter(|dt| {
                                    self.table[index(nb, op, b, **dt)]
                                        .is_some_and(|e| e.into.is_some())
                                })
                                .map(|dt| dt.as_str())
                                .collect();
                            if into.len() == d.len() {
                                cell.push_str(" · *into*");
                            } else if !into.is_empty() {
                                cell.push_str(&format!(" · *into*: {}", into.join(" ")));
                            }
                            cell
                        }
                        None => "—".to_string(),
                    },
                };
                s.push_str(&format!(" {cell} |"));
            }
            s.push('\n');
        }
        s.push_str(&custom_ops_markdown(&self.backends));
        s
    }
}

/// The custom ops registered in this process (see `dispatch/custom.rs`), one row each, for
/// [`Registry::op_support_markdown`]; empty when there are none.
fn custom_ops_markdown(backends: &[&'static str]) -> String {
    let cov = super::custom::custom_ops().coverage();
    if cov.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n## Custom ops\n\n| op |");
    for b in backends {
        s.push_str(&format!(" {b} |"));
    }
    s.push_str("\n|---|");
    for _ in backends {
        s.push_str("---|");
    }
    s.push('\n');
    let mut names: Vec<&String> = cov.keys().map(|(n, _)| n).collect();
    names.dedup();
    for name in names {
        s.push_str(&format!("| `{name}` |"));
        for b in backends {
            let cell = cov
                .get(&(name.clone(), b.to_string()))
                .map(|d| d.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|| "—".into());
            s.push_str(&format!(" {cell} · *into* |").replace("— · *into*", "—"));
        }
        s.push('\n');
    }
    s
}

#[inline]
fn index(nb: usize, op: OpId, backend: usize, dtype: DType) -> usize {
    (op.index() * nb + backend) * DType::COUNT + dtype.index()
}

static REGISTRY: OnceLock<std::result::Result<Registry, String>> = OnceLock::new();

/// The process-wide registry, built on first use from every linked `register_kernel!`.
///
/// # Errors
/// [`Error::Registry`] when two registrations collide.
#[inline]
pub fn registry() -> Result<&'static Registry> {
    REGISTRY
        .get_or_init(|| {
            Registry::build(backend_names(), inventory::iter::<KernelReg>)
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Registry(e.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Storage;
    use crate::dispatch::KernelArgs;

    fn k(_: &KernelArgs<'_>) -> Result<Storage> {
        Err(Error::Internal("test kernel".into()))
    }

    fn reg(op: OpId, backend: &'static str, source: &'static str) -> KernelReg {
        KernelReg {
            op,
            backend,
            dtypes: &[DType::F32],
            kernel: k,
            into: None,
            caps: KernelCaps::STRIDED,
            source,
        }
    }

    #[test]
    fn duplicate_key_names_both_sources() {
        let recs = [
            reg(OpId::Add, "cpu", "a.rs:1"),
            reg(OpId::Add, "cpu", "b.rs:2"),
        ];
        let err = Registry::build(&["cpu"], recs.iter())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("a.rs:1") && err.contains("b.rs:2"), "{err}");
    }

    #[test]
    fn unknown_backend_and_view_ops_are_dangling() {
        let recs = [
            reg(OpId::Add, "nope", "a.rs:1"),
            reg(OpId::Reshape, "cpu", "b.rs:2"),
        ];
        let r = Registry::build(&["cpu"], recs.iter()).unwrap();
        assert_eq!(r.dangling().len(), 2);
        assert!(r.coverage().is_empty());
    }

    #[test]
    fn miss_lists_available_kernels() {
        let recs = [reg(OpId::Exp, "cpu", "a.rs:1")];
        let r = Registry::build(&["cpu", "gpu"], recs.iter()).unwrap();
        assert!(r.get(OpId::Exp, BackendId(0), DType::F32).is_some());
        let e = r.not_found(OpId::Exp, BackendId(0), DType::F64);
        assert!(matches!(&e, Error::KernelNotFound { available, .. } if available == "cpu: [f32]"));
    }

    #[test]
    fn op_support_has_a_column_per_backend_in_id_order() {
        let recs = [
            reg(OpId::Exp, "cpu", "a.rs:1"),
            reg(OpId::Exp, "gpu", "b.rs:2"),
            reg(OpId::Add, "cpu", "c.rs:3"),
        ];
        let md = Registry::build(&["cpu", "gpu"], recs.iter())
            .unwrap()
            .op_support_markdown();
        assert!(
            md.contains("| op | family | cpu | gpu |\n|---|---|---|---|\n"),
            "{md}"
        );
        let row = |op: OpId| {
            let start = format!("| `{}` |", op.name());
            md.lines()
                .find(|l| l.starts_with(&start))
                .unwrap()
                .to_string()
        };
        let fam = |op: OpId| op.def().family;
        assert_eq!(
            row(OpId::Exp),
            format!("| `exp` | {} | f32 | f32 |", fam(OpId::Exp))
        );
        assert_eq!(
            row(OpId::Add),
            format!("| `add` | {} | f32 | — |", fam(OpId::Add))
        );
        let view = format!("| `reshape` | {} | *view* | *view* |", fam(OpId::Reshape));
        assert_eq!(row(OpId::Reshape), view);
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| `")).count(),
            OpId::COUNT
        );
    }

    #[test]
    fn linked_registry_has_no_dangling_entries() {
        assert_eq!(registry().unwrap().dangling(), &[] as &[String]);
    }
}
