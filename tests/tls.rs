//! libmrt.so can be dlopen'ed (as ctypes does): its static TLS block (PT_TLS MemSiz)
//! stays within 256 bytes, and a dlopen'ed copy creates Ms.

use std::ffi::{c_void, CStr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

fn cdylib() -> PathBuf {
    // target/<profile>/deps/tls-<hash> -> target/<profile>/libmrt.so
    let exe = std::env::current_exe().unwrap();
    let so = exe.parent().unwrap().parent().unwrap().join("libmrt.so");
    assert!(so.exists(), "{} not built", so.display());
    so
}

fn u16_at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

#[test]
fn static_tls_is_at_most_256_bytes() {
    let b = std::fs::read(cdylib()).unwrap();
    assert_eq!(&b[..4], b"\x7fELF");
    assert_eq!(b[4], 2, "64-bit ELF");
    let phoff = u64_at(&b, 0x20) as usize;
    let (phentsize, phnum) = (u16_at(&b, 0x36), u16_at(&b, 0x38));
    let mut tls = None;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        const PT_TLS: u32 = 7;
        if u32::from_le_bytes(b[ph..ph + 4].try_into().unwrap()) == PT_TLS {
            tls = Some(u64_at(&b, ph + 0x28));
        }
    }
    let memsz = tls.expect("libmrt.so has a PT_TLS segment (the TLS slot)");
    assert!(memsz <= 256, "PT_TLS MemSiz is {memsz} bytes, over 256");
}

static STARTED: AtomicI32 = AtomicI32::new(0);
extern "C" fn start(_arg: *mut c_void) {
    STARTED.fetch_add(1, Ordering::SeqCst);
}

type NewM = unsafe extern "C" fn(
    Option<extern "C" fn(*mut c_void)>,
    *mut c_void,
    *mut c_void,
    *mut *mut c_void,
) -> i32;
type Shutdown = unsafe extern "C" fn(i64) -> i32;

#[test]
fn dlopened_library_creates_ms() {
    let path = std::ffi::CString::new(cdylib().to_str().unwrap()).unwrap();
    // SAFETY: dlopen/dlsym with valid C strings; the symbols have these signatures
    // in mrt.h.
    unsafe {
        let h = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        assert!(
            !h.is_null(),
            "dlopen: {:?}",
            CStr::from_ptr(libc::dlerror())
        );
        let newm: NewM = std::mem::transmute(libc::dlsym(h, c"rt_newm".as_ptr()));
        let shutdown: Shutdown = std::mem::transmute(libc::dlsym(h, c"rt_shutdown".as_ptr()));
        for _ in 0..4 {
            let rc = newm(
                Some(start),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            assert_eq!(rc, 0);
        }
        // rt_shutdown joins every M, so each start function has run by then.
        assert_eq!(shutdown(-1), 0);
        assert_eq!(STARTED.load(Ordering::SeqCst), 4);
    }
}
