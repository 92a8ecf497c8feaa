//! Declaring plugins: `submit_plugin!` (link-time, through `inventory`) and `declare_plugin!`
//! (a C-ABI declaration exported from a `cdylib`, read by `DynamicPluginLoader`).
//!
//! Note [Dynamic plugin ABI]: a dynamic plugin is Rust code built separately against its own
//! copy of st-core and std, and it exchanges Rust types (`Box<dyn Plugin>`, `PluginContext`,
//! `PluginEvent`) with the host. That is sound only when both sides were compiled from the same
//! st-core by the same rustc, so the declaration carries, behind a `#[repr(C)]` prefix the host
//! can always read: the declaration ABI version, the st-core version, the rustc version string
//! (when the build provides `ST_RUSTC_VERSION`), a fingerprint of std (the `TypeId` of std types,
//! which rustc derives from the compiler version and the std build) and a fingerprint of the
//! layouts of the types crossing the boundary. The host refuses the library on any mismatch
//! before running any of its Rust code. Panics cannot unwind from one Rust runtime into another
//! (the catching runtime aborts on a panic it did not raise), so the plugin side wraps every
//! hook in [`Contained`], whose `catch_unwind` is compiled into the plugin, and bus subscriptions
//! are wrapped by the subscribing copy (see `contain` in `events.rs`).
//!
//! The library file and the declaration are not trusted either: before `dlopen` the loader checks
//! the ELF headers (`elf.rs`), and it reads the declaration in steps, each only after checking
//! that the bytes lie in the library's mapped segments (`loader_dynamic.rs`): the ABI version
//! first (a mismatch stops there), then the magic number and the declared size, then every
//! string (pointer and length, at most [`MAX_DECLARATION_STR`] bytes) and function pointer.

use super::contained::Contained;
use super::context::PluginContext;
use super::metadata::PluginMetadata;
use super::traits::Plugin;
use crate::error::{Error, Result};
use crate::events::{panic_message, PluginEvent, PluginEventBus};
use std::any::{Any, TypeId};
use std::ffi::c_void;
use std::hash::{Hash, Hasher};

/// A link-time plugin factory, collected with `inventory` (see [`crate::submit_plugin!`]).
pub struct PluginFactory {
    create: fn() -> Box<dyn Plugin>,
}

impl PluginFactory {
    /// A factory calling `create`.
    pub const fn new(create: fn() -> Box<dyn Plugin>) -> Self {
        PluginFactory { create }
    }

    /// Builds the plugin.
    pub fn create(&self) -> Box<dyn Plugin> {
        (self.create)()
    }
}

inventory::collect!(PluginFactory);

/// Every plugin factory linked into this binary.
pub fn linked_plugins() -> impl Iterator<Item = &'static PluginFactory> {
    inventory::iter::<PluginFactory>.into_iter()
}

/// Registers a plugin constructor at link time; `init_plugin_system()` loads it.
///
/// ```
/// use st_core::plugin::{Plugin, PluginContext, PluginMetadata};
/// use st_core::Result;
/// use std::any::Any;
///
/// #[derive(Default)]
/// pub struct MyPlugin;
///
/// impl Plugin for MyPlugin {
///     fn metadata(&self) -> PluginMetadata {
///         PluginMetadata::new("my_plugin", "1.0.0")
///     }
///     fn on_load(&mut self, _ctx: &mut PluginContext) -> Result<()> {
///         Ok(())
///     }
///     fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
///         Ok(())
///     }
///     fn as_any(&self) -> &dyn Any {
///         self
///     }
///     fn as_any_mut(&mut self) -> &mut dyn Any {
///         self
///     }
/// }
///
/// st_core::submit_plugin!(MyPlugin::default);
///
/// # fn main() {
/// let ids: Vec<String> =
///     st_core::plugin::linked_plugins().map(|f| f.create().metadata().id).collect();
/// assert!(ids.iter().any(|id| id == "my_plugin"));
/// # }
/// ```
#[macro_export]
macro_rules! submit_plugin {
    ($ctor:expr) => {
        const _: () = {
            fn __st_plugin_factory() -> ::std::boxed::Box<dyn $crate::plugin::Plugin> {
                ::std::boxed::Box::new(($ctor)())
            }
            $crate::inventory::submit! {
                $crate::plugin::PluginFactory::new(__st_plugin_factory)
            }
        };
    };
}

/// Version of the [`PluginDeclaration`] layout. Version 2 added `magic` and `size`, made the
/// function pointers nullable (and checked), and limits string lengths.
pub const PLUGIN_ABI_VERSION: u32 = 2;

/// [`PluginDeclaration::magic`]: the bytes `STPD`.
pub const PLUGIN_DECLARATION_MAGIC: u32 = u32::from_le_bytes(*b"STPD");

/// Longest string a declaration may carry, in bytes.
pub const MAX_DECLARATION_STR: usize = 256;

/// Version of st-core a plugin was built against.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The rustc version st-core was built with (`rustc --version`, recorded by st-core's build
/// script as `ST_RUSTC_VERSION`; "unknown" only when the build script could not run rustc).
/// The std fingerprint is checked as well.
pub const RUSTC_VERSION: &str = match option_env!("ST_RUSTC_VERSION") {
    Some(v) => v,
    None => "unknown",
};

/// Name of the exported declaration symbol.
pub const PLUGIN_DECLARATION_SYMBOL: &str = "ST_PLUGIN_DECLARATION";

/// A string in a C-ABI struct: pointer and length of UTF-8 bytes.
///
/// The fields are private so that safe code can only make one from a `&'static str`; the loader
/// reads one from a library only after checking that its bytes lie in the library's mapped
/// segments, so an `FfiStr` always points to `len` readable bytes (while its library is mapped).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FfiStr {
    ptr: *const u8,
    len: usize,
}

impl FfiStr {
    /// Wraps a static string.
    pub const fn new(s: &'static str) -> Self {
        FfiStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// The string, if the pointer is not null, the length at most [`MAX_DECLARATION_STR`] and
    /// the bytes UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        if self.ptr.is_null() || self.len > MAX_DECLARATION_STR {
            return None;
        }
        // SAFETY: by the type's invariant (see above) `ptr` points to `len` readable bytes, which
        // live at least as long as `self` is borrowed.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).ok()
    }

    /// Address and length, for the loader's range checks.
    pub(crate) fn raw(&self) -> (usize, usize) {
        (self.ptr as usize, self.len)
    }
}

/// What `declare_plugin!` exports as `ST_PLUGIN_DECLARATION`. See Note [Dynamic plugin ABI].
#[repr(C)]
#[derive(Debug)]
pub struct PluginDeclaration {
    /// [`PLUGIN_ABI_VERSION`] of the plugin; always the first field, read before anything else.
    pub abi_version: u32,
    /// [`PLUGIN_DECLARATION_MAGIC`].
    pub magic: u32,
    /// `size_of::<PluginDeclaration>()` as the plugin was compiled.
    pub size: usize,
    /// [`CORE_VERSION`] of the plugin.
    pub core_version: FfiStr,
    /// [`RUSTC_VERSION`] of the plugin.
    pub rustc_version: FfiStr,
    /// Id the plugin is declared under.
    pub plugin_id: FfiStr,
    /// [`std_fingerprint`] as computed by the plugin.
    pub std_fingerprint: Option<extern "C" fn() -> u64>,
    /// [`layout_fingerprint`] as computed by the plugin.
    pub layout_fingerprint: Option<extern "C" fn() -> u64>,
    /// Builds the plugin: a `Box<Box<dyn Plugin>>` as a raw pointer, or null if it panicked.
    pub create: Option<extern "C" fn() -> *mut c_void>,
}

// SAFETY: the declaration holds only pointers to immutable static strings and functions.
unsafe impl Sync for PluginDeclaration {}

impl PluginDeclaration {
    /// The declaration for plugin `id` built by `create`, with this st-core's versions.
    pub const fn new(id: &'static str, create: extern "C" fn() -> *mut c_void) -> Self {
        PluginDeclaration {
            abi_version: PLUGIN_ABI_VERSION,
            magic: PLUGIN_DECLARATION_MAGIC,
            size: std::mem::size_of::<PluginDeclaration>(),
            core_version: FfiStr::new(CORE_VERSION),
            rustc_version: FfiStr::new(RUSTC_VERSION),
            plugin_id: FfiStr::new(id),
            std_fingerprint: Some(std_fingerprint_c),
            layout_fingerprint: Some(layout_fingerprint_c),
            create: Some(create),
        }
    }
}

/// Identifies the std (hence the rustc) this code was compiled with: the `TypeId`s of std types
/// are derived from the compiler version and the std build.
pub fn std_fingerprint() -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    TypeId::of::<String>().hash(&mut h);
    TypeId::of::<Vec<u8>>().hash(&mut h);
    TypeId::of::<std::sync::Mutex<u64>>().hash(&mut h);
    TypeId::of::<Box<dyn Any + Send>>().hash(&mut h);
    h.finish()
}

/// Size, alignment and name of every type that crosses the plugin boundary, hashed (FNV-1a).
pub fn layout_fingerprint() -> u64 {
    fn mix(h: &mut u64, bytes: &[u8]) {
        for b in bytes {
            *h ^= u64::from(*b);
            *h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    macro_rules! layouts {
        ($h:ident; $($t:ty),*) => {$(
            mix(&mut $h, std::any::type_name::<$t>().as_bytes());
            mix(&mut $h, &std::mem::size_of::<$t>().to_le_bytes());
            mix(&mut $h, &std::mem::align_of::<$t>().to_le_bytes());
        )*};
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    layouts!(h; Box<dyn Plugin>, PluginMetadata, PluginContext, PluginEvent, PluginEventBus,
        Error, Result<()>, crate::device::Device, super::metadata::PluginCapability,
        PluginDeclaration, String, Vec<Vec<usize>>, crate::events::PluginFault,
        crate::events::EventCallback, crate::dispatch::custom_op::CustomOp, crate::dispatch::custom_op::Attrs,
        crate::dispatch::custom_op::CustomArgs<'static>, crate::dispatch::KernelInput<'static>,
        crate::dispatch::KernelOut<'static>, crate::dispatch::KernelArgs<'static>,
        crate::op::OpParams, crate::layout::Layout, crate::shape::Shape, crate::tensor::Tensor);
    h
}

extern "C" fn std_fingerprint_c() -> u64 {
    std_fingerprint()
}

extern "C" fn layout_fingerprint_c() -> u64 {
    layout_fingerprint()
}

/// Used by `declare_plugin!`: builds `ctor()` wrapped in [`Contained`] and boxed twice, or
/// returns null when construction panics or the plugin's id differs from the declared one.
#[doc(hidden)]
pub fn __create_contained<P: Plugin + 'static>(id: &str, ctor: fn() -> P) -> *mut c_void {
    let built = std::panic::catch_unwind(|| {
        let plugin = Contained::new(ctor());
        (plugin.id() == id).then(|| Box::new(Box::new(plugin) as Box<dyn Plugin>))
    });
    match built {
        Ok(Some(b)) => Box::into_raw(b) as *mut c_void,
        Ok(None) => {
            eprintln!("spiraltorch: plugin declared as {id} reports a different id");
            std::ptr::null_mut()
        }
        Err(p) => {
            eprintln!(
                "spiraltorch: plugin {id} panicked while being built: {}",
                panic_message(&p)
            );
            std::ptr::null_mut()
        }
    }
}

/// Exports plugin `Type` (built with `Default`, or with the given constructor) from a `cdylib`
/// under `id`, for `DynamicPluginLoader`. Use once per library.
///
/// In the plugin crate (`crate-type = ["cdylib"]`):
///
/// ```no_run
/// use st_core::plugin::{Plugin, PluginContext, PluginMetadata};
/// use st_core::Result;
/// use std::any::Any;
///
/// #[derive(Default)]
/// pub struct MyPlugin;
///
/// impl Plugin for MyPlugin {
///     fn metadata(&self) -> PluginMetadata {
///         PluginMetadata::new("my_plugin", "1.0.0")
///     }
///     fn on_load(&mut self, _ctx: &mut PluginContext) -> Result<()> {
///         Ok(())
///     }
///     fn on_unload(&mut self, _ctx: &mut PluginContext) -> Result<()> {
///         Ok(())
///     }
///     fn as_any(&self) -> &dyn Any {
///         self
///     }
///     fn as_any_mut(&mut self) -> &mut dyn Any {
///         self
///     }
/// }
///
/// st_core::declare_plugin!("my_plugin", MyPlugin);
/// // or, with a constructor: st_core::declare_plugin!("my_plugin", MyPlugin, || MyPlugin);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! declare_plugin {
    ($id:expr, $ty:ty) => {
        $crate::declare_plugin!($id, $ty, <$ty as ::core::default::Default>::default);
    };
    ($id:expr, $ty:ty, $ctor:expr) => {
        #[doc(hidden)]
        extern "C" fn __st_plugin_create() -> *mut ::core::ffi::c_void {
            $crate::plugin::__create_contained::<$ty>($id, $ctor)
        }

        /// The plugin declaration read by `st_core::plugin::DynamicPluginLoader`.
        #[unsafe(no_mangle)]
        pub static ST_PLUGIN_DECLARATION: $crate::plugin::PluginDeclaration =
            $crate::plugin::PluginDeclaration::new($id, __st_plugin_create);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_script_records_the_compiler_version() {
        // "rustc 1.95.0 (59807616e 2026-04-14)": the build script ran the compiler.
        let mut words = RUSTC_VERSION.split_whitespace();
        assert_eq!(words.next(), Some("rustc"), "{RUSTC_VERSION}");
        let version = words.next().unwrap_or_default();
        let parsed = semver::Version::parse(version.split('-').next().unwrap_or_default());
        assert!(parsed.is_ok(), "{RUSTC_VERSION}");
    }
}
