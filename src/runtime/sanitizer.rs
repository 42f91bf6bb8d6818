//! What a sanitized host's AddressSanitizer or ThreadSanitizer is told about libmrt's
//! stack switches and hand-offs. The library itself is not instrumented; a host built
//! with `-fsanitize=address` or `-fsanitize=thread` is, and without being told, its
//! sanitizer takes every G for code running on the thread's own stack, with the
//! thread's own history: ASan keeps poison left on a G stack by a G that never
//! returned (rt_goexit, longjmp) and refuses `__asan_handle_no_return` on a stack it
//! does not know; TSan sees the accesses of Gs that hand data over through channels,
//! rt_mutex and rt_wg (whose synchronisation it cannot see) as races.
//!
//! The sanitizer's entry points are looked up once, when the library is loaded, with
//! `dlsym(RTLD_DEFAULT, ...)`: in a host without a sanitizer none exists, [`on`] stays
//! 0 and the switch pays one load of a cached flag and a branch. `MRT_DEBUG=nosan`
//! leaves them unused even when present, `MRT_DEBUG=nosan-<family>` drops one family
//! of TSan's edges (see [`Edge`]): to see what the sanitizer reports otherwise.
//!
//! ASan: every switch between stacks (g0 to G, G to g0, G to G) is bracketed by
//! `__sanitizer_start_switch_fiber` (before, with the target's stack bounds and where
//! to keep the leaving side's fake stack; null for a G that is exiting) and
//! `__sanitizer_finish_switch_fiber` (after, on the new stack, with the fake stack it
//! saved when it last left). A g0's bounds are the ones ASan itself reports when a G
//! is first entered from it. A G stack handed to a new G is unpoisoned first.
//!
//! TSan: each G runs as a TSan fiber made when it starts and destroyed when it exits;
//! each M's g0 is its thread's own fiber. A switch to a G does not synchronise (Gs
//! that happen to share an M are no more ordered than Gs on different Ms); a switch
//! back to g0 does (g0 runs the G's park callback on its behalf). Happens-before
//! edges, each a release by one side and an acquire by the other on one address:
//! rt_go -> the new G's start (the G's descriptor), rt_ready -> the return of the
//! rt_park it wakes (the same), a G's exit -> rt_main's return (the same), a G's exit
//! -> the start of the next G on its stack (the stack), send or close -> receive (the
//! channel) and receive -> the completion of a send (the channel + 8), unlock ->
//! lock (the rt_mutex), done -> wait (the rt_wg). The copies a channel operation
//! makes (through the intercepted memcpy) are hidden from TSan: they are the
//! hand-off itself, which the edges describe.

use core::ffi::{c_char, c_void};
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use once_cell::sync::OnceCell;

use super::g::G;

/// Bits of [`on`].
const ASAN: u8 = 1;
const TSAN: u8 = 2;

/// Which sanitizer the host runs under (0: none). Written once by [`detect`], before
/// the first G exists; read on every switch. Each bit also has a flag of its own, so
/// that every test on a hot path is one compare of a byte with 0.
static ON: AtomicU8 = AtomicU8::new(0);
static ASAN_ON: AtomicBool = AtomicBool::new(false);
static TSAN_ON: AtomicBool = AtomicBool::new(false);

/// The families of happens-before edges (`Edge` bits) that MRT_DEBUG switched off.
static EDGES_OFF: AtomicU8 = AtomicU8::new(0);

/// A family of happens-before edges (TSan), each of which MRT_DEBUG can switch off
/// (`nosan-go`, `nosan-chan`, `nosan-sync`, `nosan-park`) to see what TSan reports
/// without it: the tests show each one is needed that way.
#[derive(Clone, Copy)]
#[repr(u8)]
pub enum Edge {
    /// rt_go -> the G's start, a G's exit -> rt_main's return and -> the next G on
    /// its stack.
    Go = 1,
    /// Channel send and close -> receive, receive -> the end of the send.
    Chan = 2,
    /// rt_mutex unlock -> lock, rt_wg done -> wait.
    Sync = 4,
    /// rt_ready -> the return of rt_park.
    Park = 8,
}

/// The entry points found by [`detect`].
static FNS: OnceCell<Fns> = OnceCell::new();

type StartSwitch = unsafe extern "C" fn(*mut *mut c_void, *const c_void, usize);
type FinishSwitch = unsafe extern "C" fn(*mut c_void, *mut *const c_void, *mut usize);
type Range = unsafe extern "C" fn(*const c_void, usize);
type FiberGet = unsafe extern "C" fn() -> *mut c_void;
type FiberCreate = unsafe extern "C" fn(u32) -> *mut c_void;
type FiberDestroy = unsafe extern "C" fn(*mut c_void);
type FiberSwitch = unsafe extern "C" fn(*mut c_void, u32);
type Addr = unsafe extern "C" fn(*mut c_void);
type Void = unsafe extern "C" fn();
type Annotate = unsafe extern "C" fn(*const c_char, i32);

/// TSan's `__tsan_switch_to_fiber_no_sync`.
const TSAN_NO_SYNC: u32 = 1;

struct Fns {
    start_switch: StartSwitch,
    finish_switch: FinishSwitch,
    unpoison: Range,
    current_fiber: FiberGet,
    create_fiber: FiberCreate,
    destroy_fiber: FiberDestroy,
    switch_fiber: FiberSwitch,
    acquire: Addr,
    release: Addr,
    ignore_begin: Void,
    ignore_end: Void,
    sync_ignore_begin: Annotate,
    sync_ignore_end: Annotate,
}

/// What a G (or g0) carries for the sanitizers. Touched only while one is on, by the
/// G's owner (the switch, gdestroy).
pub struct GSan {
    /// ASan's fake-stack handle saved when this G last switched away.
    fake: *mut c_void,
    /// Its TSan fiber (for a g0: its thread's; null until first needed).
    fiber: *mut c_void,
    /// The G that switched to this one last (set by the leaving side).
    from: *mut G,
    /// A g0's stack as ASan knows it, [lo, hi): reported the first time a G is
    /// entered from it (0, 0 until then).
    lo: usize,
    hi: usize,
}

impl GSan {
    pub const fn new() -> GSan {
        GSan {
            fake: ptr::null_mut(),
            fiber: ptr::null_mut(),
            from: ptr::null_mut(),
            lo: 0,
            hi: 0,
        }
    }
}

impl Default for GSan {
    fn default() -> Self {
        GSan::new()
    }
}

/// Which sanitizer is on (ASAN / TSAN bits; 0 in an unsanitized host).
#[inline(always)]
pub fn on() -> u8 {
    ON.load(Ordering::Relaxed)
}

/// Whether the host runs under ASan.
#[inline(always)]
pub fn asan() -> bool {
    ASAN_ON.load(Ordering::Relaxed)
}

/// Whether the host runs under TSan.
#[inline(always)]
pub fn tsan() -> bool {
    TSAN_ON.load(Ordering::Relaxed)
}

#[inline(always)]
fn fns() -> &'static Fns {
    match FNS.get() {
        Some(f) => f,
        None => super::throw("sanitizer: annotation without entry points"),
    }
}

fn sym<T: Copy>(name: &core::ffi::CStr) -> Option<T> {
    const { assert!(core::mem::size_of::<T>() == core::mem::size_of::<*mut c_void>()) };
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the global scope.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr() as *const c_char) };
    if p.is_null() {
        return None;
    }
    // SAFETY: T is a function pointer type (same size, asserted) whose signature is
    // the one the sanitizer runtime documents for `name`.
    Some(unsafe { core::mem::transmute_copy::<*mut c_void, T>(&p) })
}

/// The lookup runs when the library is loaded (before any API call, so that [`on`]
/// never changes while one runs: [`runtime_call`] and [`host_call`] pair up); rt_init
/// calls [`detect`] too, which then does nothing.
#[used]
#[link_section = ".init_array"]
static DETECT_AT_LOAD: extern "C" fn() = detect_at_load;

extern "C" fn detect_at_load() {
    // SAFETY: getenv with a NUL-terminated name; the result, if any, is a C string
    // that nothing modifies while the library loads.
    let v = unsafe { libc::getenv(c"MRT_DEBUG".as_ptr()) };
    let debug = if v.is_null() {
        ""
    } else {
        // SAFETY: getenv returned a non-null pointer, which points at the
        // environment's NUL-terminated value; nothing changes it during loading.
        unsafe { core::ffi::CStr::from_ptr(v) }
            .to_str()
            .unwrap_or("")
    };
    detect(debug);
}

/// Looks the sanitizer entry points up (once per process; later calls do nothing).
/// Called by rt_init before any M or G exists with the words of MRT_DEBUG: `nosan`
/// leaves the sanitizer untold, `nosan-<family>` drops one family of [`Edge`]s.
pub fn detect(debug: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut off = 0;
        for w in debug.split(',').map(str::trim) {
            match w {
                "nosan" => return,
                "nosan-go" => off |= Edge::Go as u8,
                "nosan-chan" => off |= Edge::Chan as u8,
                "nosan-sync" => off |= Edge::Sync as u8,
                "nosan-park" => off |= Edge::Park as u8,
                _ => {}
            }
        }
        EDGES_OFF.store(off, Ordering::Relaxed);
        let asan = (
            sym::<StartSwitch>(c"__sanitizer_start_switch_fiber"),
            sym::<FinishSwitch>(c"__sanitizer_finish_switch_fiber"),
            sym::<Range>(c"__asan_unpoison_memory_region"),
        );
        let tsan = (
            sym::<FiberGet>(c"__tsan_get_current_fiber"),
            sym::<FiberCreate>(c"__tsan_create_fiber"),
            sym::<FiberDestroy>(c"__tsan_destroy_fiber"),
            sym::<FiberSwitch>(c"__tsan_switch_to_fiber"),
            sym::<Addr>(c"__tsan_acquire"),
            sym::<Addr>(c"__tsan_release"),
            sym::<Void>(c"__tsan_ignore_thread_begin"),
            sym::<Void>(c"__tsan_ignore_thread_end"),
            sym::<Annotate>(c"AnnotateIgnoreSyncBegin"),
            sym::<Annotate>(c"AnnotateIgnoreSyncEnd"),
        );
        let mut bits = 0;
        let mut f = Fns {
            start_switch: nop_start,
            finish_switch: nop_finish,
            unpoison: nop_range,
            current_fiber: nop_get,
            create_fiber: nop_create,
            destroy_fiber: nop_addr,
            switch_fiber: nop_switch,
            acquire: nop_addr,
            release: nop_addr,
            ignore_begin: nop_void,
            ignore_end: nop_void,
            sync_ignore_begin: nop_annotate,
            sync_ignore_end: nop_annotate,
        };
        if let (Some(s), Some(fi), Some(u)) = asan {
            (f.start_switch, f.finish_switch, f.unpoison) = (s, fi, u);
            bits |= ASAN;
        }
        if let (
            Some(g),
            Some(c),
            Some(d),
            Some(s),
            Some(a),
            Some(r),
            Some(ib),
            Some(ie),
            Some(sb),
            Some(se),
        ) = tsan
        {
            f.sync_ignore_begin = sb;
            f.sync_ignore_end = se;
            f.current_fiber = g;
            f.create_fiber = c;
            f.destroy_fiber = d;
            f.switch_fiber = s;
            f.acquire = a;
            f.release = r;
            f.ignore_begin = ib;
            f.ignore_end = ie;
            bits |= TSAN;
        }
        if bits != 0 && FNS.set(f).is_ok() {
            ASAN_ON.store(bits & ASAN != 0, Ordering::Release);
            TSAN_ON.store(bits & TSAN != 0, Ordering::Release);
            ON.store(bits, Ordering::Release);
        }
    });
}

// Stand-ins for the entry points of the sanitizer that is not there (never called:
// each use is behind its bit of ON).
unsafe extern "C" fn nop_start(_: *mut *mut c_void, _: *const c_void, _: usize) {}
unsafe extern "C" fn nop_finish(_: *mut c_void, _: *mut *const c_void, _: *mut usize) {}
unsafe extern "C" fn nop_range(_: *const c_void, _: usize) {}
unsafe extern "C" fn nop_get() -> *mut c_void {
    ptr::null_mut()
}
unsafe extern "C" fn nop_create(_: u32) -> *mut c_void {
    ptr::null_mut()
}
unsafe extern "C" fn nop_addr(_: *mut c_void) {}
unsafe extern "C" fn nop_switch(_: *mut c_void, _: u32) {}
unsafe extern "C" fn nop_void() {}
unsafe extern "C" fn nop_annotate(_: *const c_char, _: i32) {}

/// Before a switch from `from` (running now) to `to`: `exiting` when `from` is a G
/// that will never run again.
///
/// # Safety
/// `from` is the G (or g0) running on this thread; `to` is bound to this thread's M
/// and about to be switched to; both are live descriptors.
#[cold]
#[inline(never)]
pub unsafe fn switch_out(from: *mut G, to: *mut G, exiting: bool) {
    let f = fns();
    let bits = on();
    // SAFETY: both descriptors are live and ours for the switch (the contract).
    unsafe {
        let to_g0 = !(*to).is_user();
        (*to).san.from = from;
        if bits & ASAN != 0 {
            let (lo, hi) = if to_g0 && (*to).san.hi != 0 {
                ((*to).san.lo, (*to).san.hi)
            } else {
                ((*to).stack_lo, (*to).stack_hi)
            };
            let save = if exiting {
                ptr::null_mut()
            } else {
                &mut (*from).san.fake as *mut *mut c_void
            };
            (f.start_switch)(save, lo as *const c_void, hi - lo);
        }
        if bits & TSAN != 0 {
            if (*from).san.fiber.is_null() {
                // Only a g0 can be running without a fiber: its thread's own.
                (*from).san.fiber = (f.current_fiber)();
            }
            if (*to).san.fiber.is_null() {
                // A G about to start (made at its first switch, see g_dead). Made
                // with synchronisation ignored: a new fiber would otherwise start
                // after everything this thread's fiber saw (here: every G that
                // switched to this g0), which would hide real races; it gets only
                // the edges of g_started.
                let file = c"libmrt".as_ptr();
                (f.sync_ignore_begin)(file, 0);
                (*to).san.fiber = (f.create_fiber)(0);
                (f.sync_ignore_end)(file, 0);
            }
            if exiting {
                // Whoever runs next on this stack comes after everything done here;
                // and rt_main, waiting for this G, after everything it did.
                release(Edge::Go, (*from).stack_lo as *const c_void);
                release(Edge::Go, from.cast());
                // A G ends inside runtime code (rt_goexit's boundary, or gentry after
                // its function returned): one runtime_call level, which TSan wants
                // closed before the fiber is destroyed.
                (f.ignore_end)();
            }
            let flags = if to_g0 { 0 } else { TSAN_NO_SYNC };
            (f.switch_fiber)((*to).san.fiber, flags);
        }
    }
}

/// [`switch_out`] from the running G `gp` to its M's g0 (mcall), which has been told
/// what to do (an exit: the G never runs again).
///
/// # Safety
/// As switch_out; `m` is gp's M, its action set.
#[cold]
#[inline(never)]
pub unsafe fn switch_to_g0(gp: *mut G, m: &super::m::M) {
    let exiting = matches!(m.action.get(), super::g::Action::Exit);
    // SAFETY: gp runs on m; m.g0 is about to be switched to (our contract).
    unsafe { switch_out(gp, m.g0, exiting) }
}

/// Right after a switch, on the stack of `me`, the G (or g0) now running.
///
/// # Safety
/// `me` is the G running on this thread, just switched to after [`switch_out`].
#[cold]
#[inline(never)]
pub unsafe fn switched_in(me: *mut G) {
    if !asan() {
        return;
    }
    let f = fns();
    let mut lo: *const c_void = ptr::null();
    let mut size = 0usize;
    // SAFETY: `me` runs here; `from` is the live descriptor that switched to it.
    unsafe {
        (f.finish_switch)((*me).san.fake, &mut lo, &mut size);
        (*me).san.fake = ptr::null_mut();
        let from = (*me).san.from;
        if !from.is_null() && !(*from).is_user() && !lo.is_null() {
            // A g0: remember its stack as ASan knows it, to switch back to it.
            (*from).san.lo = lo as usize;
            (*from).san.hi = lo as usize + size;
        }
    }
}

/// A G starts (in gentry, on its stack): after what its creator did before rt_go and
/// what the previous user of its stack did.
///
/// # Safety
/// `gp` is the G running on this thread, with its stack bound.
#[cold]
#[inline(never)]
pub unsafe fn g_started(gp: *mut G) {
    if !tsan() {
        return;
    }
    // SAFETY: gp runs here: its fields are ours.
    unsafe {
        acquire(Edge::Go, gp.cast());
        acquire(Edge::Go, (*gp).stack_lo as *const c_void);
    }
}

/// A stack is bound to a G about to start: poison left on it by an earlier G that
/// never returned through its frames (rt_goexit, longjmp) is cleared.
#[cold]
#[inline(never)]
pub fn stack_reused(lo: usize, hi: usize) {
    if asan() {
        // SAFETY: [lo, hi) is a G stack mapping the runtime owns, unused right now.
        unsafe { (fns().unpoison)(lo as *const c_void, hi - lo) };
    }
}

/// A G is dead (gdestroy, on g0): its fiber goes.
///
/// # Safety
/// `gp` is dead and not running; g0 owns it.
#[cold]
#[inline(never)]
pub unsafe fn g_dead(gp: *mut G) {
    // SAFETY: the G is dead, owned by the caller.
    unsafe {
        let s = &mut (*gp).san;
        s.fake = ptr::null_mut();
        s.from = ptr::null_mut();
        if tsan() && !s.fiber.is_null() {
            (fns().destroy_fiber)(s.fiber);
        }
        s.fiber = ptr::null_mut();
    }
}

/// TSan: the calling side's accesses so far happen before whatever acquires `addr`
/// later (a no-op without TSan).
#[inline(always)]
pub fn release(e: Edge, addr: *const c_void) {
    if tsan() {
        release_slow(e, addr);
    }
}

/// TSan: what was released on `addr` happens before the caller's later accesses.
#[inline(always)]
pub fn acquire(e: Edge, addr: *const c_void) {
    if tsan() {
        acquire_slow(e, addr);
    }
}

#[cold]
#[inline(never)]
fn release_slow(e: Edge, addr: *const c_void) {
    if EDGES_OFF.load(Ordering::Relaxed) & e as u8 == 0 {
        // SAFETY: TSan's release only records the caller's clock under `addr`, which
        // is memory of the process (a runtime object or the host's).
        unsafe { (fns().release)(addr as *mut c_void) }
    }
}

#[cold]
#[inline(never)]
fn acquire_slow(e: Edge, addr: *const c_void) {
    if EDGES_OFF.load(Ordering::Relaxed) & e as u8 == 0 {
        // SAFETY: as release_slow.
        unsafe { (fns().acquire)(addr as *mut c_void) }
    }
}

/// TSan: the calling side's memory accesses from here to [`ignore_end`] are not
/// tracked (the copies inside a channel operation).
#[inline(always)]
pub fn ignore_begin() {
    if tsan() {
        // SAFETY: no arguments; balanced by ignore_end on the same fiber.
        unsafe { (fns().ignore_begin)() }
    }
}

#[inline(always)]
pub fn ignore_end() {
    if tsan() {
        // SAFETY: balances an ignore_begin of the same fiber.
        unsafe { (fns().ignore_end)() }
    }
}

/// Runs `f` as runtime code: under TSan with this thread's (fiber's) memory accesses
/// ignored. The runtime is not instrumented, but TSan sees what it does through the
/// functions it intercepts (memcpy and memmove in the runtime's queues, epoll_ctl,
/// read and write of its own descriptors); the synchronisation that orders them is
/// the runtime's own, which TSan cannot see, so it would report them as races. The
/// C API's boundary, each M's own code and the adopted-M destructor run this way;
/// [`host_call`] undoes it around the host's code called from there.
#[inline(always)]
pub fn runtime_call<R>(f: impl FnOnce() -> R) -> R {
    if tsan() {
        return runtime_call_tsan(f);
    }
    f()
}

#[cold]
#[inline(never)]
fn runtime_call_tsan<R>(f: impl FnOnce() -> R) -> R {
    ignore_begin();
    let r = f();
    ignore_end();
    r
}

/// Runs the host's `f` (an M's start function, an rt_park callback) from runtime code:
/// under TSan with the accesses it makes tracked again.
#[inline(always)]
pub fn host_call<R>(f: impl FnOnce() -> R) -> R {
    if tsan() {
        return host_call_tsan(f);
    }
    f()
}

#[cold]
#[inline(never)]
fn host_call_tsan<R>(f: impl FnOnce() -> R) -> R {
    ignore_end();
    let r = f();
    ignore_begin();
    r
}

/// Channel keys: sends and close release on the channel, receives acquire there;
/// receives release on the second key, the completion of a send acquires there.
pub fn chan_send_key(c: *const c_void) -> *const c_void {
    c
}

pub fn chan_recv_key(c: *const c_void) -> *const c_void {
    (c as usize + 8) as *const c_void
}
