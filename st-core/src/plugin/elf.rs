//! Checks that a file is a complete ELF shared object for this host before `dlopen` maps it.
//!
//! `dlopen` maps a library's segments straight from the file: a segment that reaches past the end
//! of a truncated file is mapped anyway, and touching its missing pages raises SIGBUS inside the
//! loader. So the header (magic, class, byte order, version, type `ET_DYN`, machine), the program
//! and section header tables, and the file range of every program header must lie within the
//! file. This reads only the headers. (The file may still change between this check and `dlopen`;
//! the check guards against damaged files, not against a concurrent writer.)

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Whether this host loads ELF libraries (the check is skipped elsewhere).
pub(crate) const HOST_IS_ELF: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_os = "solaris"
));

const ET_DYN: u16 = 3;
const PT_NULL: u32 = 0;
const PT_LOAD: u32 = 1;
/// `e_phnum` value meaning "more than 0xfffe program headers" (not used by shared libraries).
const PN_XNUM: u16 = 0xffff;

/// `e_machine` of this host, if known.
const fn host_machine() -> Option<u16> {
    if cfg!(target_arch = "x86_64") {
        Some(62)
    } else if cfg!(target_arch = "aarch64") {
        Some(183)
    } else if cfg!(target_arch = "x86") {
        Some(3)
    } else if cfg!(target_arch = "arm") {
        Some(40)
    } else if cfg!(any(target_arch = "riscv64", target_arch = "riscv32")) {
        Some(243)
    } else if cfg!(target_arch = "powerpc64") {
        Some(21)
    } else if cfg!(target_arch = "powerpc") {
        Some(20)
    } else if cfg!(target_arch = "s390x") {
        Some(22)
    } else if cfg!(target_arch = "loongarch64") {
        Some(258)
    } else {
        None
    }
}

/// Field widths of one ELF class.
#[derive(Clone, Copy)]
struct Class {
    wide: bool,
}

impl Class {
    fn header_size(self) -> usize {
        if self.wide {
            64
        } else {
            52
        }
    }
    fn phdr_size(self) -> usize {
        if self.wide {
            56
        } else {
            32
        }
    }
    fn shdr_size(self) -> usize {
        if self.wide {
            64
        } else {
            40
        }
    }
}

/// Reads integers of the file's byte order, failing (not panicking) past the end of `b`.
struct Fields<'a> {
    b: &'a [u8],
    little: bool,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N], String> {
        at.checked_add(N)
            .and_then(|end| self.b.get(at..end))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| format!("header field at byte {at} is past the end of the data"))
    }
    fn u16(&self, at: usize) -> Result<u16, String> {
        let b = self.bytes::<2>(at)?;
        Ok(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: usize) -> Result<u32, String> {
        let b = self.bytes::<4>(at)?;
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, at: usize) -> Result<u64, String> {
        let b = self.bytes::<8>(at)?;
        Ok(if self.little {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
    /// An address-sized field: 8 bytes in 64-bit files, 4 in 32-bit ones.
    fn word(&self, class: Class, at: usize) -> Result<u64, String> {
        if class.wide {
            self.u64(at)
        } else {
            self.u32(at).map(u64::from)
        }
    }
}

/// `offset + count * entry` as a file range end, if it does not overflow.
fn table_end(offset: u64, count: u64, entry: u64) -> Option<u64> {
    count.checked_mul(entry)?.checked_add(offset)
}

/// Checks the headers of a would-be shared library of `file_len` bytes; `read_at(offset, len)`
/// returns the bytes there (only called for ranges already checked to lie within the file).
fn check(
    file_len: u64,
    mut read_at: impl FnMut(u64, usize) -> std::io::Result<Vec<u8>>,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("cannot read the headers: {e}");
    let ident = read_at(0, 16.min(file_len as usize)).map_err(io)?;
    if ident.len() < 16 || ident[..4] != *b"\x7fELF" {
        return Err("is not an ELF file (bad magic)".into());
    }
    let class = match ident[4] {
        1 => Class { wide: false },
        2 => Class { wide: true },
        c => return Err(format!("has an unknown ELF class {c}")),
    };
    if class.wide != cfg!(target_pointer_width = "64") {
        return Err(format!(
            "is a {}-bit ELF file, this host is {}-bit",
            if class.wide { 64 } else { 32 },
            usize::BITS
        ));
    }
    let little = match ident[5] {
        1 => true,
        2 => false,
        d => return Err(format!("has an unknown ELF byte order {d}")),
    };
    if little != cfg!(target_endian = "little") {
        return Err("has the other byte order than this host".into());
    }
    if ident[6] != 1 {
        return Err(format!("has an unknown ELF version {}", ident[6]));
    }
    if file_len < class.header_size() as u64 {
        return Err(format!(
            "is truncated: {file_len} bytes, shorter than an ELF header"
        ));
    }
    let header = read_at(0, class.header_size()).map_err(io)?;
    let f = Fields { b: &header, little };
    let w = if class.wide { 8 } else { 4 };
    let e_type = f.u16(16)?;
    let e_machine = f.u16(18)?;
    let e_phoff = f.word(class, 24 + w)?;
    let e_shoff = f.word(class, 24 + 2 * w)?;
    let rest = 24 + 3 * w + 4; // after e_entry, e_phoff, e_shoff and e_flags
    let e_ehsize = f.u16(rest)?;
    let e_phentsize = f.u16(rest + 2)?;
    let e_phnum = f.u16(rest + 4)?;
    let e_shentsize = f.u16(rest + 6)?;
    let e_shnum = f.u16(rest + 8)?;
    if e_type != ET_DYN {
        return Err(format!(
            "is not a shared object (ELF type {e_type}, expected {ET_DYN})"
        ));
    }
    if let Some(host) = host_machine() {
        if e_machine != host {
            return Err(format!(
                "is built for machine {e_machine}, this host is machine {host}"
            ));
        }
    }
    if f.u32(20)? != 1 {
        return Err("has an unknown ELF header version".into());
    }
    if usize::from(e_ehsize) < class.header_size() {
        return Err(format!("declares a {e_ehsize}-byte ELF header"));
    }
    if usize::from(e_phentsize) != class.phdr_size() || e_phnum == 0 || e_phnum == PN_XNUM {
        return Err(format!(
            "has an unusable program header table ({e_phnum} entries of {e_phentsize} bytes)"
        ));
    }
    let ph_end = table_end(e_phoff, u64::from(e_phnum), u64::from(e_phentsize));
    if ph_end.is_none_or(|end| end > file_len) {
        return Err(format!(
            "is truncated: its program header table ends past the end of the file \
             ({file_len} bytes)"
        ));
    }
    if e_shoff != 0 {
        if usize::from(e_shentsize) != class.shdr_size() {
            return Err(format!("has {e_shentsize}-byte section headers"));
        }
        // e_shnum 0 with a table means "more than 0xfeff sections": at least entry 0 exists.
        let count = u64::from(e_shnum.max(1));
        let sh_end = table_end(e_shoff, count, u64::from(e_shentsize));
        if sh_end.is_none_or(|end| end > file_len) {
            return Err(format!(
                "is truncated: its section header table ends past the end of the file \
                 ({file_len} bytes)"
            ));
        }
    }
    let table = read_at(e_phoff, usize::from(e_phnum) * class.phdr_size()).map_err(io)?;
    let t = Fields { b: &table, little };
    let mut loads = 0;
    for i in 0..usize::from(e_phnum) {
        let at = i * class.phdr_size();
        let p_type = t.u32(at)?;
        let (p_offset, p_filesz, p_memsz) = if class.wide {
            (t.u64(at + 8)?, t.u64(at + 32)?, t.u64(at + 40)?)
        } else {
            let g = |k: usize| t.u32(at + k).map(u64::from);
            (g(4)?, g(16)?, g(20)?)
        };
        if p_type == PT_NULL || p_filesz == 0 {
            continue;
        }
        let end = p_offset.checked_add(p_filesz);
        if end.is_none_or(|end| end > file_len) {
            return Err(format!(
                "is truncated: program header {i} (type {p_type:#x}) covers bytes {p_offset}..+\
                 {p_filesz}, past the end of the file ({file_len} bytes)"
            ));
        }
        if p_type == PT_LOAD {
            if p_filesz > p_memsz {
                return Err(format!(
                    "has a loadable segment (program header {i}) larger in the file than in \
                     memory"
                ));
            }
            loads += 1;
        }
    }
    if loads == 0 {
        return Err("has no loadable segment".into());
    }
    Ok(())
}

/// Checks that `path` is a complete ELF shared object for this host.
///
/// # Errors
/// A reason ("is truncated: ...", "is not an ELF file ...") for the caller to name the file with.
pub(crate) fn check_file(path: &Path) -> Result<(), String> {
    let mut file = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot be inspected: {e}"))?
        .len();
    check(len, |offset, n| {
        file.seek(SeekFrom::Start(offset))?;
        let mut buf = vec![0u8; n];
        file.read_exact(&mut buf)?;
        Ok(buf)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal 64-bit little-endian x86-64 shared object header with one PT_LOAD segment
    /// covering the whole `len`-byte file, and a section header table at its end.
    fn tiny_so(len: u64) -> Vec<u8> {
        let mut b = vec![0u8; len as usize];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[16..18].copy_from_slice(&ET_DYN.to_le_bytes());
        b[18..20].copy_from_slice(&host_machine().unwrap_or(62).to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        b[40..48].copy_from_slice(&(len - 64).to_le_bytes()); // e_shoff: one header at the end
        b[52..54].copy_from_slice(&64u16.to_le_bytes());
        b[54..56].copy_from_slice(&56u16.to_le_bytes());
        b[56..58].copy_from_slice(&1u16.to_le_bytes());
        b[58..60].copy_from_slice(&64u16.to_le_bytes());
        b[60..62].copy_from_slice(&1u16.to_le_bytes());
        let ph = 64;
        b[ph..ph + 4].copy_from_slice(&PT_LOAD.to_le_bytes());
        b[ph + 32..ph + 40].copy_from_slice(&len.to_le_bytes()); // p_filesz
        b[ph + 40..ph + 48].copy_from_slice(&len.to_le_bytes()); // p_memsz
        b
    }

    fn check_bytes(b: &[u8], claimed_len: u64) -> Result<(), String> {
        check(claimed_len, |offset, n| {
            let start = offset as usize;
            b.get(start..start + n)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))
        })
    }

    #[cfg(all(target_arch = "x86_64", target_endian = "little"))]
    #[test]
    fn accepts_a_complete_header_and_rejects_truncation() {
        let so = tiny_so(4096);
        assert_eq!(check_bytes(&so, 4096), Ok(()));
        // The same headers in a file cut to 2048 bytes: the segment reaches past the end.
        let cut = &so[..2048];
        let e = check_bytes(cut, 2048).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = check_bytes(&so[..100], 100).unwrap_err();
        assert!(e.contains("program header table"), "{e}");
        let e = check_bytes(&so[..10], 10).unwrap_err();
        assert!(e.contains("not an ELF"), "{e}");
    }

    #[cfg(all(target_arch = "x86_64", target_endian = "little"))]
    #[test]
    fn rejects_wrong_type_machine_class_and_tables() {
        let mut exe = tiny_so(4096);
        exe[16] = 2; // ET_EXEC
        assert!(check_bytes(&exe, 4096)
            .unwrap_err()
            .contains("not a shared object"));
        let mut arm = tiny_so(4096);
        arm[18..20].copy_from_slice(&183u16.to_le_bytes());
        assert!(check_bytes(&arm, 4096).unwrap_err().contains("machine 183"));
        let mut narrow = tiny_so(4096);
        narrow[4] = 1;
        assert!(check_bytes(&narrow, 4096).unwrap_err().contains("32-bit"));
        let mut far = tiny_so(4096);
        far[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(check_bytes(&far, 4096)
            .unwrap_err()
            .contains("section header"));
        let mut huge = tiny_so(4096);
        huge[64 + 8..64 + 16].copy_from_slice(&u64::MAX.to_le_bytes()); // p_offset overflows
        assert!(check_bytes(&huge, 4096)
            .unwrap_err()
            .contains("program header 0"));
        let mut none = tiny_so(4096);
        none[64..68].copy_from_slice(&6u32.to_le_bytes()); // PT_PHDR, no PT_LOAD left
        assert!(check_bytes(&none, 4096)
            .unwrap_err()
            .contains("no loadable"));
    }

    #[test]
    fn the_test_binary_itself_passes_and_a_truncated_copy_does_not() {
        if !HOST_IS_ELF {
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&exe).unwrap();
        // Executables are ET_EXEC unless built as PIE (ET_DYN, the default on Linux).
        if bytes.get(16) != Some(&(ET_DYN as u8)) {
            return;
        }
        assert_eq!(check_file(&exe), Ok(()));
        let dir = std::env::temp_dir().join(format!("st-elf-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cut = dir.join("cut.so");
        std::fs::write(&cut, &bytes[..8192]).unwrap();
        let e = check_file(&cut).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
