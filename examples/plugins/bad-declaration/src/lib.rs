//! Test fixture for st-core's plugin fault tests (`st-core/tests/plugins_faults.rs`): exports
//! `ST_PLUGIN_DECLARATION` with a valid ABI version, magic number and size, but with string and
//! function pointers that point outside the library (to unmapped addresses). A loader that reads
//! the strings before checking them crashes with SIGSEGV; st-core's must refuse the library.

use st_core::plugin::{PluginDeclaration, PLUGIN_ABI_VERSION, PLUGIN_DECLARATION_MAGIC};

/// A string field as raw numbers.
#[repr(C)]
pub struct RawStr {
    /// Address of the bytes.
    pub ptr: usize,
    /// Length in bytes.
    pub len: usize,
}

/// The layout of [`PluginDeclaration`] with every pointer as a plain number.
#[repr(C)]
pub struct RawDeclaration {
    /// A valid ABI version.
    pub abi_version: u32,
    /// A valid magic number.
    pub magic: u32,
    /// A valid size.
    pub size: usize,
    /// st-core version, rustc version, plugin id: all outside the library.
    pub strings: [RawStr; 3],
    /// std fingerprint, layout fingerprint, create: all outside the library.
    pub functions: [usize; 3],
}

const _: () = assert!(size_of::<RawDeclaration>() == size_of::<PluginDeclaration>());

/// The malformed declaration.
#[unsafe(no_mangle)]
pub static ST_PLUGIN_DECLARATION: RawDeclaration = RawDeclaration {
    abi_version: PLUGIN_ABI_VERSION,
    magic: PLUGIN_DECLARATION_MAGIC,
    size: size_of::<PluginDeclaration>(),
    strings: [
        RawStr { ptr: 0x10, len: 5 },
        RawStr {
            ptr: 0xdead_0000,
            len: 16,
        },
        RawStr {
            ptr: usize::MAX - 64,
            len: 8,
        },
    ],
    functions: [0x20, 0x30, 0x40],
};
