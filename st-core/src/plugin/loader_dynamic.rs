//! [`DynamicPluginLoader`]: loads `declare_plugin!` plugins from shared libraries (`.so`,
//! `.dylib`, `.dll`) with `libloading`, after checking their declaration against this host
//! (Note [Dynamic plugin ABI] in `declare.rs`). A refused library is closed again without its
//! plugin ever being built; an accepted one stays mapped as long as its plugin exists.

use super::declare::{
    layout_fingerprint, std_fingerprint, PluginDeclaration, CORE_VERSION, PLUGIN_ABI_VERSION,
    PLUGIN_DECLARATION_SYMBOL, RUSTC_VERSION,
};
use super::loader_static::PluginLoader;
use super::registry::PluginRegistry;
use super::traits::Plugin;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Loads plugins from the shared libraries in a directory.
///
/// ```no_run
/// use st_core::plugin::{global_registry, DynamicPluginLoader};
/// let registry = global_registry();
/// DynamicPluginLoader::new().load_into(std::path::Path::new("./plugins"), registry)?;
/// registry.initialize_all()?;
/// # Ok::<(), st_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct DynamicPluginLoader {
    extensions: Vec<String>,
}

impl Default for DynamicPluginLoader {
    fn default() -> Self {
        Self::new()
    }
}

fn refuse(path: &Path, reason: impl Into<String>) -> Error {
    Error::Plugin {
        plugin: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks a plugin declaration against this host.
///
/// # Errors
/// [`Error::Plugin`] (named after `path`) describing the first mismatch: declaration ABI
/// version, st-core version, compiler (std fingerprint and rustc version), type layouts, or an
/// unreadable id.
pub fn check_declaration(decl: &PluginDeclaration, path: &Path) -> Result<String> {
    if decl.abi_version != PLUGIN_ABI_VERSION {
        return Err(refuse(
            path,
            format!(
                "plugin ABI version {} but this host reads version {PLUGIN_ABI_VERSION}; rebuild \
                 the plugin against this st-core",
                decl.abi_version
            ),
        ));
    }
    // SAFETY: ABI version 1 declarations hold pointers to static strings of the library, which
    // is mapped while `decl` is borrowed.
    let (core, rustc, id) = unsafe {
        (
            decl.core_version.as_str(),
            decl.rustc_version.as_str(),
            decl.plugin_id.as_str(),
        )
    };
    let core = core.ok_or_else(|| refuse(path, "declaration has an unreadable st-core version"))?;
    if core != CORE_VERSION {
        return Err(refuse(
            path,
            format!("built against st-core {core} but this host uses st-core {CORE_VERSION}"),
        ));
    }
    let rustc = rustc.unwrap_or("unknown");
    let both_known = rustc != "unknown" && RUSTC_VERSION != "unknown";
    let theirs = (decl.std_fingerprint)();
    if theirs != std_fingerprint() || (both_known && rustc != RUSTC_VERSION) {
        return Err(refuse(
            path,
            format!(
                "built with a different Rust compiler (rustc {rustc}, std fingerprint {theirs:#x}) \
                 than this host (rustc {RUSTC_VERSION}, std fingerprint {:#x}); Rust has no \
                 stable ABI, rebuild the plugin with the host's toolchain",
                std_fingerprint()
            ),
        ));
    }
    let theirs = (decl.layout_fingerprint)();
    if theirs != layout_fingerprint() {
        return Err(refuse(
            path,
            format!(
                "plugin-boundary type layouts differ (fingerprint {theirs:#x}, host {:#x}); \
                 rebuild the plugin with the same st-core features and profile",
                layout_fingerprint()
            ),
        ));
    }
    let id = id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(path, "declaration has no id"))?;
    Ok(id.to_string())
}

impl DynamicPluginLoader {
    /// A loader for this platform's library extensions (`so`, `dylib`, `dll`).
    pub fn new() -> Self {
        DynamicPluginLoader {
            extensions: vec!["so".into(), "dylib".into(), "dll".into()],
        }
    }

    /// The shared libraries in `dir`, sorted by file name.
    ///
    /// # Errors
    /// [`Error::Io`] when `dir` cannot be read.
    pub fn scan(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading plugin directory {}", dir.display()), e))?;
        let mut libs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .filter(|p| {
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                self.extensions.iter().any(|x| x == ext)
            })
            .collect();
        libs.sort();
        Ok(libs)
    }

    /// Loads one library and registers its plugin; returns the plugin id.
    ///
    /// # Errors
    /// [`Error::Plugin`] named after the file when it cannot be opened, has no declaration, does
    /// not match this host, fails to build its plugin, or the id is already registered.
    pub fn load_file(&self, path: &Path, registry: &PluginRegistry) -> Result<String> {
        // SAFETY: opening a library runs its initializers. Plugins are trusted code: loading a
        // directory of libraries means trusting them, as with any native extension.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| refuse(path, format!("cannot open library: {e}")))?;
        let symbol = format!("{PLUGIN_DECLARATION_SYMBOL}\0");
        // SAFETY: `declare_plugin!` exports the symbol as a `PluginDeclaration` static; the first
        // field (the ABI version) is checked before anything else is read.
        let decl: *const PluginDeclaration = unsafe {
            match library.get::<*const PluginDeclaration>(symbol.as_bytes()) {
                Ok(sym) => *sym,
                Err(_) => {
                    return Err(refuse(
                        path,
                        format!(
                        "no {PLUGIN_DECLARATION_SYMBOL} symbol (not built with declare_plugin!)"
                    ),
                    ))
                }
            }
        };
        if decl.is_null() {
            return Err(refuse(path, "null plugin declaration"));
        }
        // SAFETY: non-null pointer to the library's static declaration, mapped while `library`
        // lives (it outlives this borrow).
        let decl: &PluginDeclaration = unsafe { &*decl };
        let id = check_declaration(decl, path)?;
        let raw = (decl.create)();
        if raw.is_null() {
            return Err(Error::Plugin {
                plugin: id,
                reason: format!("{} failed to build its plugin (see stderr)", path.display()),
            });
        }
        // SAFETY: `create` returns `Box::into_raw(Box<Box<dyn Plugin>>)`; the declaration check
        // guarantees both sides agree on the layout of `Box<dyn Plugin>` and on the allocator.
        let plugin: Box<Box<dyn Plugin>> = unsafe { Box::from_raw(raw as *mut Box<dyn Plugin>) };
        registry.register_cell(*plugin, Some(Arc::new(library)), Some(path.to_path_buf()))
    }
}

impl DynamicPluginLoader {
    /// Registers the plugin of every shared library in `dir` (see [`PluginLoader::load_into`]).
    ///
    /// # Errors
    /// As [`PluginLoader::load_into`].
    pub fn load_into(&self, dir: &Path, registry: &PluginRegistry) -> Result<Vec<String>> {
        PluginLoader::load_into(self, dir, registry)
    }
}

impl PluginLoader for DynamicPluginLoader {
    fn load_into(&self, dir: &Path, registry: &PluginRegistry) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut errors: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for lib in self.scan(dir)? {
            match self.load_file(&lib, registry) {
                Ok(id) => ids.push(id),
                Err(e) => {
                    names.push(lib.display().to_string());
                    errors.push(e.to_string());
                }
            }
        }
        if errors.is_empty() {
            Ok(ids)
        } else {
            Err(Error::Plugin {
                plugin: names.join(", "),
                reason: errors.join("; "),
            })
        }
    }
}
