//! The mapped segments of a loaded shared object (Linux, through `dl_iterate_phdr`), so the
//! loader can check that every byte it is about to read from a plugin's declaration, and every
//! function it is about to call, lies inside that plugin's library.

use std::ffi::{c_int, c_void};

/// One `PT_LOAD` segment as mapped: `[start, end)` and its `PF_*` flags.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: usize,
    end: usize,
    flags: u32,
}

/// The loadable segments of one loaded object.
#[derive(Debug)]
pub(crate) struct Segments {
    segments: Vec<Segment>,
}

struct Search {
    addr: usize,
    found: Option<Vec<Segment>>,
}

/// `dl_iterate_phdr` callback: records the segments of the object containing `Search::addr`
/// and stops (returns 1) there. Never panics (it is called from C).
unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut c_void,
) -> c_int {
    if info.is_null() || data.is_null() {
        return 0;
    }
    // SAFETY: `data` is the `&mut Search` passed to `dl_iterate_phdr` below, and `info` points to
    // a valid `dl_phdr_info` for the duration of this call (dl_iterate_phdr's contract).
    let (search, info) = unsafe { (&mut *(data as *mut Search), &*info) };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: `dlpi_phdr` points to `dlpi_phnum` program headers of the object (same contract).
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    let Ok(base) = usize::try_from(info.dlpi_addr) else {
        return 0;
    };
    let mut segments = Vec::new();
    for p in phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD) {
        let (Ok(vaddr), Ok(memsz)) = (usize::try_from(p.p_vaddr), usize::try_from(p.p_memsz))
        else {
            continue;
        };
        let Some(start) = base.checked_add(vaddr) else {
            continue;
        };
        let Some(end) = start.checked_add(memsz) else {
            continue;
        };
        segments.push(Segment {
            start,
            end,
            flags: p.p_flags,
        });
    }
    if segments
        .iter()
        .any(|s| s.start <= search.addr && search.addr < s.end)
    {
        search.found = Some(segments);
        1
    } else {
        0
    }
}

impl Segments {
    /// The segments of the loaded object that maps `addr`, or `None` when no object does.
    pub(crate) fn containing(addr: usize) -> Option<Segments> {
        let mut search = Search { addr, found: None };
        // SAFETY: `visit` matches the callback signature, only reads what the loader passes, and
        // `search` outlives the call.
        unsafe { libc::dl_iterate_phdr(Some(visit), &mut search as *mut Search as *mut c_void) };
        search.found.map(|segments| Segments { segments })
    }

    /// True when `[addr, addr + len)` lies inside one readable segment (`len` may be 0).
    pub(crate) fn readable(&self, addr: usize, len: usize) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        self.segments
            .iter()
            .any(|s| s.flags & libc::PF_R != 0 && s.start <= addr && end <= s.end && addr < s.end)
    }

    /// True when `addr` lies inside an executable segment.
    pub(crate) fn executable(&self, addr: usize) -> bool {
        self.segments
            .iter()
            .any(|s| s.flags & libc::PF_X != 0 && s.start <= addr && addr < s.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DATA: [u8; 16] = [7; 16];

    fn a_function() -> u64 {
        42
    }

    #[test]
    fn finds_this_binary_and_classifies_its_memory() {
        let data = DATA.as_ptr() as usize;
        let segs = Segments::containing(data).expect("the test binary is a loaded object");
        assert!(segs.readable(data, DATA.len()));
        let code = a_function as fn() -> u64 as usize;
        assert!(segs.executable(code));
        assert!(!segs.readable(usize::MAX - 8, 4));
        let on_stack = 0u64;
        assert!(!segs.readable(&on_stack as *const u64 as usize, 8));
        assert!(Segments::containing(16).is_none());
    }
}
