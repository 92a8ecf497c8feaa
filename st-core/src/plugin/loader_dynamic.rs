//! [`DynamicPluginLoader`]: loads `declare_plugin!` plugins from shared libraries (`.so`,
//! `.dylib`, `.dll`) with `libloading`, after checking the file (`elf.rs`) and the declaration
//! against this host (Note [Dynamic plugin ABI] in `declare.rs`). A refused library is closed
//! again without its plugin ever being built; an accepted one stays mapped as long as its plugin,
//! or anything its code may still run in, exists (Note [Keeping plugin libraries mapped]).

use super::declare::{
    layout_fingerprint, std_fingerprint, PluginDeclaration, CORE_VERSION, PLUGIN_ABI_VERSION,
    PLUGIN_DECLARATION_MAGIC, PLUGIN_DECLARATION_SYMBOL, RUSTC_VERSION,
};
use super::elf;
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

/// Checks a plugin declaration against this host: ABI version first (nothing else is read on a
/// mismatch), then magic number, declared size, null function pointers, then the strings (null,
/// longer than [`MAX_DECLARATION_STR`](crate::plugin::MAX_DECLARATION_STR) or not UTF-8 count
/// as unreadable), st-core version, compiler and type layouts.
///
/// # Errors
/// [`Error::Plugin`] (named after `path`) describing the first mismatch: declaration ABI
/// version, magic, size, a null function, st-core version, compiler (std fingerprint and rustc
/// version), type layouts, or an unreadable id.
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
    if decl.magic != PLUGIN_DECLARATION_MAGIC {
        return Err(refuse(
            path,
            format!("declaration has a bad magic number {:#010x}", decl.magic),
        ));
    }
    let size = std::mem::size_of::<PluginDeclaration>();
    if decl.size != size {
        return Err(refuse(
            path,
            format!(
                "declaration is {} bytes, this host's is {size} bytes",
                decl.size
            ),
        ));
    }
    let (Some(std_fp), Some(layout_fp), Some(_)) =
        (decl.std_fingerprint, decl.layout_fingerprint, decl.create)
    else {
        return Err(refuse(path, "declaration has a null function pointer"));
    };
    let core = decl
        .core_version
        .as_str()
        .ok_or_else(|| refuse(path, "declaration has an unreadable st-core version"))?;
    if core != CORE_VERSION {
        return Err(refuse(
            path,
            format!("built against st-core {core} but this host uses st-core {CORE_VERSION}"),
        ));
    }
    let rustc = decl.rustc_version.as_str().unwrap_or("unknown");
    let both_known = rustc != "unknown" && RUSTC_VERSION != "unknown";
    let theirs = std_fp();
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
    let theirs = layout_fp();
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
    let id = decl
        .plugin_id
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse(path, "declaration has no readable id"))?;
    Ok(id.to_string())
}

/// Checks, before the declaration at `addr` is read as a [`PluginDeclaration`], that every byte
/// reading it will touch lies in the readable segments of the object mapping it, and that its
/// functions lie in that object's code: the ABI version alone first (a mismatch is reported
/// without reading further), then the whole struct, then each string range and function.
#[cfg(target_os = "linux")]
fn check_declaration_memory(addr: *const PluginDeclaration, path: &Path) -> Result<()> {
    use super::declare::MAX_DECLARATION_STR;
    use super::segments::Segments;
    let at = addr as usize;
    let outside = |what: &str| {
        refuse(
            path,
            format!("declaration {what} lies outside the library's mapped memory (malformed)"),
        )
    };
    let segs = Segments::containing(at).ok_or_else(|| outside("symbol"))?;
    if !at.is_multiple_of(std::mem::align_of::<PluginDeclaration>()) {
        return Err(refuse(path, "declaration symbol is misaligned (malformed)"));
    }
    if !segs.readable(at, std::mem::size_of::<u32>()) {
        return Err(outside("symbol"));
    }
    // SAFETY: the first field (a u32, the declaration's first 4 bytes) is aligned and lies in a
    // readable segment of the library, checked just above.
    let abi_version = unsafe { std::ptr::read(addr.cast::<u32>()) };
    if abi_version != PLUGIN_ABI_VERSION {
        return Ok(()); // check_declaration reports it, reading only this field
    }
    if !segs.readable(at, std::mem::size_of::<PluginDeclaration>()) {
        return Err(outside("struct"));
    }
    // SAFETY: the whole struct lies in readable memory of the library (checked above) and every
    // bit pattern is valid for its fields (integers, raw pointers, nullable function pointers).
    let decl = unsafe { &*addr };
    for (name, s) in [
        ("st-core version", &decl.core_version),
        ("rustc version", &decl.rustc_version),
        ("plugin id", &decl.plugin_id),
    ] {
        let (ptr, len) = s.raw();
        // Null or over-long strings are refused by `as_str` without being read.
        if ptr != 0 && len <= MAX_DECLARATION_STR && !segs.readable(ptr, len) {
            return Err(outside(name));
        }
    }
    let functions = [
        decl.std_fingerprint.map(|f| f as usize),
        decl.layout_fingerprint.map(|f| f as usize),
        decl.create.map(|f| f as usize),
    ];
    if functions.into_iter().flatten().any(|f| !segs.executable(f)) {
        return Err(outside("function pointer"));
    }
    Ok(())
}

/// Without `dl_iterate_phdr` only the checks of [`check_declaration`] apply: the fields and
/// strings a plugin declares are trusted to be readable.
#[cfg(not(target_os = "linux"))]
fn check_declaration_memory(_addr: *const PluginDeclaration, _path: &Path) -> Result<()> {
    Ok(())
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
    /// [`Error::Plugin`] named after the file when it is not a complete shared object for this
    /// machine (truncated, foreign, not ELF on ELF hosts), cannot be opened, has no declaration
    /// or a malformed one (pointers outside the library), does not match this host, fails to
    /// build its plugin, or the id is already registered.
    pub fn load_file(&self, path: &Path, registry: &PluginRegistry) -> Result<String> {
        if elf::HOST_IS_ELF {
            // A truncated or foreign file would crash inside dlopen (SIGBUS), not fail.
            elf::check_file(path).map_err(|reason| refuse(path, reason))?;
        }
        // SAFETY: opening a library runs its initializers. Plugins are trusted code: loading a
        // directory of libraries means trusting them, as with any native extension. The file
        // was checked to be a complete shared object for this machine.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| refuse(path, format!("cannot open library: {e}")))?;
        let symbol = format!("{PLUGIN_DECLARATION_SYMBOL}\0");
        // SAFETY: only the symbol's address is taken here; nothing is read through it yet.
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
        check_declaration_memory(decl, path)?;
        // SAFETY: non-null pointer to the library's static declaration, mapped while `library`
        // lives (it outlives this borrow); on Linux its bytes, strings and functions were just
        // checked to lie in the library's mapped segments (elsewhere the library is trusted).
        let decl: &PluginDeclaration = unsafe { &*decl };
        let id = check_declaration(decl, path)?;
        let Some(create) = decl.create else {
            return Err(refuse(path, "declaration has a null function pointer"));
        };
        let raw = create();
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
