//! Stack mappings with guard regions.
//!
//! A mapping is reserved with `mmap(MAP_NORESERVE)`: the kernel commits pages only as
//! they are touched. Guard regions are installed with `madvise(MADV_GUARD_INSTALL)`
//! (Linux 6.13+: no extra VMA, so a million guarded stacks stay under the default
//! `vm.max_map_count`), falling back to `mprotect(PROT_NONE)` when the kernel refuses.
//!
//! The mapping of an M (its g0 stack and its alternate signal stack):
//! ```text
//!   base                                                               base+len
//!   | guard | signal stack | guard | g0 stack (usable) | glibc part (TLS, TCB) |
//!                                  ^g0_lo                                      ^top
//! ```
//! glibc places the thread's static TLS and descriptor at the top of a stack given
//! with pthread_attr_setstack, hence the extra part measured by
//! `__pthread_get_minstack` at init.

use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::error::{Error, Result};
use super::note::Lock;

/// `MADV_GUARD_INSTALL` (Linux 6.13). Not yet in every libc crate version.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Set once the kernel refused MADV_GUARD_INSTALL: skip straight to mprotect.
static NO_GUARD_MADVISE: AtomicBool = AtomicBool::new(false);

/// The size of a page.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory effects.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

pub fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// Size of the alternate signal stack of a runtime-created M: room for the fault
/// report and for a host's chained handler.
pub(crate) const ALTSTACK_SIZE: usize = 64 << 10;
/// Size of each guard region.
pub(crate) const GUARD_SIZE: usize = 64 << 10;

/// An owned anonymous mapping; unmapped on drop.
pub struct Mapping {
    pub base: usize,
    pub len: usize,
}

impl Mapping {
    /// Reserves `len` bytes (page-rounded), readable and writable, lazily committed.
    pub fn reserve(len: usize) -> Result<Mapping> {
        let len = round_up(len, page_size());
        // SAFETY: an anonymous private mapping at a kernel-chosen address.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(Error::NoMem);
        }
        Ok(Mapping {
            base: p as usize,
            len,
        })
    }

    /// Makes [addr, addr+len) inaccessible: any access faults.
    pub fn guard(&self, addr: usize, len: usize) -> Result<()> {
        debug_assert!(addr >= self.base && addr + len <= self.base + self.len);
        if !NO_GUARD_MADVISE.load(Ordering::Relaxed) {
            // SAFETY: the range lies inside our own mapping.
            if unsafe { libc::madvise(addr as *mut _, len, MADV_GUARD_INSTALL) } == 0 {
                return Ok(());
            }
            NO_GUARD_MADVISE.store(true, Ordering::Relaxed);
        }
        // SAFETY: [addr, addr+len) lies inside this Mapping (the debug_assert above),
        // so only our own pages lose access.
        if unsafe { libc::mprotect(addr as *mut _, len, libc::PROT_NONE) } == 0 {
            Ok(())
        } else {
            Err(Error::NoMem)
        }
    }

    pub fn top(&self) -> usize {
        self.base + self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: we own the mapping and nothing uses it any more.
        unsafe { libc::munmap(self.base as *mut _, self.len) };
    }
}

/// The stacks of a runtime-created M: one mapping, laid out as in the file comment.
pub struct MStack {
    pub map: Mapping,
    /// Lowest usable byte of the g0 stack.
    pub g0_lo: usize,
    /// The signal stack: [alt_lo, alt_lo + ALTSTACK_SIZE).
    pub alt_lo: usize,
    /// The sizes it was made for (a cached stack is reused only for the same).
    usable: usize,
    glibc_part: usize,
    /// Valgrind's id for the g0 stack (Gs switch to and from it).
    vg_id: usize,
}

impl Drop for MStack {
    fn drop(&mut self) {
        valgrind::stack_deregister(self.vg_id);
    }
}

/// Stacks of exited Ms kept for the next allocm, as glibc keeps the stacks of
/// finished threads: a new M then costs no mmap, no guard installs and no first-touch
/// page faults. Bounded by [`MSTACK_CACHE_BYTES`]; it outlives rt_shutdown (like
/// glibc's cache, it is memory ready for the next thread, not a leak).
static MSTACK_CACHE: Lock<Vec<MStack>> = Lock::new(Vec::new());
/// In a fork child, before any M's stacks are put back: a fresh, empty M-stack cache.
/// The parent's is set aside, not dropped: its lock may have been held mid-update at the
/// fork, and its stacks are only memory of the parent's (copy-on-write) that no
/// thread of the child runs on.
///
/// # Safety
/// The only thread of a fork child, before the new runtime starts.
pub unsafe fn mstack_cache_after_fork() {
    // SAFETY: no other thread exists to hold or take the locks (our # Safety).
    unsafe {
        let old = core::mem::take(MSTACK_CACHE.get_after_fork());
        let kept = PARENT_MSTACKS.get_after_fork();
        if kept.try_reserve(1).is_ok() {
            kept.push(old);
        } else {
            // No memory to keep it reachable: leak it rather than walk it.
            core::mem::forget(old);
        }
    }
}

/// M-stack caches of parents, replaced in fork children: kept reachable, never used.
static PARENT_MSTACKS: Lock<Vec<Vec<MStack>>> = Lock::new(Vec::new());

/// glibc's default thread-stack cache is 40 MiB too.
const MSTACK_CACHE_BYTES: usize = 40 << 20;

impl MStack {
    /// The M's stacks: `usable` bytes of g0 stack plus `glibc_part` for glibc's TLS
    /// block, from the cache or freshly reserved.
    pub fn get(usable: usize, glibc_part: usize) -> Result<MStack> {
        let pg = page_size();
        let usable = round_up(usable, pg);
        let glibc_part = round_up(glibc_part, pg);
        {
            let mut c = MSTACK_CACHE.lock();
            if let Some(i) = c
                .iter()
                .position(|s| s.usable == usable && s.glibc_part == glibc_part)
            {
                return Ok(c.swap_remove(i));
            }
        }
        let total = GUARD_SIZE + ALTSTACK_SIZE + GUARD_SIZE + usable + glibc_part;
        let map = Mapping::reserve(total)?;
        let alt_lo = map.base + GUARD_SIZE;
        let g0_lo = alt_lo + ALTSTACK_SIZE + GUARD_SIZE;
        map.guard(map.base, GUARD_SIZE)?;
        map.guard(alt_lo + ALTSTACK_SIZE, GUARD_SIZE)?;
        let vg_id = valgrind::stack_register(g0_lo, map.top());
        Ok(MStack {
            map,
            g0_lo,
            alt_lo,
            usable,
            glibc_part,
            vg_id,
        })
    }

    /// Gives the stacks of an M whose thread is gone back to the cache (or unmaps
    /// them when the cache is full).
    pub fn put(self) {
        let mut c = MSTACK_CACHE.lock();
        // Counted like glibc counts its cache: the thread stack proper (guards and
        // the mostly untouched signal stack are address space, not memory).
        let held: usize = c.iter().map(|s| s.usable + s.glibc_part).sum();
        if held + self.usable + self.glibc_part <= MSTACK_CACHE_BYTES && c.try_reserve(1).is_ok() {
            c.push(self);
        }
    }

    /// The g0 guard region, [lo, hi).
    pub fn g0_guard(&self) -> (usize, usize) {
        (self.g0_lo - GUARD_SIZE, self.g0_lo)
    }

    /// What pthread_attr_setstack gets: the g0 stack and glibc's part above it.
    pub fn thread_stack(&self) -> (usize, usize) {
        (self.g0_lo, self.map.top() - self.g0_lo)
    }
}

/// Guard below each G stack. Address space only (MADV_GUARD_INSTALL adds no VMA).
pub(crate) const G_GUARD_SIZE: usize = 16 << 10;

/// A G's stack: [lo, hi) usable, a guard region below it.
pub struct GStack {
    map: Mapping,
    pub lo: usize,
    pub hi: usize,
    /// Valgrind's id for the stack (0 when not under valgrind).
    vg_id: usize,
    /// [touched_lo, hi) is known to have been touched (see [`GSTACK_TOUCHED`]):
    /// page-aligned, `hi` while the stack has never run a G. Owned with the stack
    /// (by the G that runs on it, or by the cache that holds it).
    touched_lo: usize,
    /// Its slot in [`REGISTRY`].
    slot: usize,
}

/// A list of free G stacks that allocates nothing: each stack's descriptor is moved
/// into the top of the stack's own memory, linked to the next. The memory is ours
/// (no G runs on a free stack), and the top page is the first a G touches anyway.
/// Dropping the list unmaps every stack on it.
pub struct StackList {
    head: *mut StackNode,
    tail: *mut StackNode,
    len: usize,
}

/// A free stack's descriptor, kept at the top of the stack itself.
struct StackNode {
    st: GStack,
    next: *mut StackNode,
}

// SAFETY: the list owns its stacks and their memory; it is moved or locked whole.
unsafe impl Send for StackList {}

impl StackList {
    pub const fn new() -> StackList {
        StackList {
            head: ptr::null_mut(),
            tail: ptr::null_mut(),
            len: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_null()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Puts `st` on the list (its descriptor goes into its own top bytes).
    #[inline]
    pub fn push(&mut self, st: GStack) {
        let at =
            (st.hi - core::mem::size_of::<StackNode>()) & !(core::mem::align_of::<StackNode>() - 1);
        debug_assert!(at >= st.lo);
        let node = at as *mut StackNode;
        // SAFETY: [at, hi) lies in the stack's usable range (stacks are at least a
        // page, the node a few words), mapped read-write for as long as the stack
        // lives, and no G runs on a free stack: the memory is ours to write.
        unsafe {
            node.write(StackNode {
                st,
                next: self.head,
            })
        };
        if self.tail.is_null() {
            self.tail = node;
        }
        self.head = node;
        self.len += 1;
    }

    /// Takes the most recently put stack off.
    #[inline]
    pub fn pop(&mut self) -> Option<GStack> {
        let node = self.head;
        if node.is_null() {
            return None;
        }
        // SAFETY: `node` was written by push into the stack it describes, which is
        // still mapped (the list owns it); reading it moves the descriptor out, after
        // which the memory is the stack's again.
        let StackNode { st, next } = unsafe { node.read() };
        self.head = next;
        if next.is_null() {
            self.tail = ptr::null_mut();
        }
        self.len -= 1;
        Some(st)
    }

    /// Takes the first `n` stacks (all if fewer) off, as a list of their own: a walk
    /// of `n` links and one cut.
    pub fn take_front(&mut self, n: usize) -> StackList {
        if n >= self.len {
            return core::mem::take(self);
        }
        if n == 0 {
            return StackList::new();
        }
        let mut last = self.head;
        // SAFETY: the list holds more than n nodes, each in the still-mapped stack
        // it describes; their links are the list's.
        unsafe {
            for _ in 1..n {
                last = (*last).next;
            }
            let rest = (*last).next;
            (*last).next = ptr::null_mut();
            let out = StackList {
                head: self.head,
                tail: last,
                len: n,
            };
            self.head = rest;
            self.len -= n;
            out
        }
    }

    /// Moves every stack of `other` to the end of this list.
    pub fn append(&mut self, other: &mut StackList) {
        if other.is_empty() {
            return;
        }
        if self.tail.is_null() {
            self.head = other.head;
        } else {
            // SAFETY: our tail is a node of this list, in its still-mapped stack.
            unsafe { (*self.tail).next = other.head };
        }
        self.tail = other.tail;
        self.len += other.len;
        // The stacks are ours now: `other` must not unmap them.
        other.head = ptr::null_mut();
        other.tail = ptr::null_mut();
        other.len = 0;
    }
}

impl StackList {
    /// Moves every stack of `other` to the front of this list (a cache's LIFO order:
    /// the stacks freed last, most likely still in cache and TLB, are reused first).
    pub fn prepend(&mut self, other: &mut StackList) {
        if other.is_empty() {
            return;
        }
        // SAFETY: other's tail is a node of that list, in its still-mapped stack; its
        // link now continues into ours.
        unsafe { (*other.tail).next = self.head };
        if self.tail.is_null() {
            self.tail = other.tail;
        }
        self.head = other.head;
        self.len += other.len;
        // The stacks are ours now: `other` must not unmap them.
        other.head = ptr::null_mut();
        other.tail = ptr::null_mut();
        other.len = 0;
    }
}

impl Default for StackList {
    fn default() -> Self {
        StackList::new()
    }
}

impl Drop for StackList {
    fn drop(&mut self) {
        while let Some(st) = self.pop() {
            drop(st);
        }
    }
}

/// Valgrind client requests: stacks must be announced to valgrind, or it takes every
/// switch between them for a wild stack-pointer change.
mod valgrind {
    extern "C" {
        fn mrt_valgrind_request(args: *const usize, dflt: usize) -> usize;
    }
    const STACK_REGISTER: usize = 0x1501;
    const STACK_DEREGISTER: usize = 0x1502;

    pub fn stack_register(lo: usize, hi: usize) -> usize {
        let args = [STACK_REGISTER, lo, hi, 0, 0, 0];
        // SAFETY: the assembly only hands the array to valgrind (or does nothing).
        unsafe { mrt_valgrind_request(args.as_ptr(), 0) }
    }

    pub fn stack_deregister(id: usize) {
        let args = [STACK_DEREGISTER, id, 0, 0, 0, 0];
        // SAFETY: `args` is a live 6-word array for the call, and the assembly only
        // hands it to valgrind (or does nothing).
        unsafe { mrt_valgrind_request(args.as_ptr(), 0) };
    }
}

/// How many bytes of G stacks are reserved (address space), for rt_getstats.
pub static GSTACK_RESERVED: AtomicU64 = AtomicU64::new(0);

/// How many bytes of G stacks are known to have been touched, for rt_getstats'
/// `stack_resident_bytes` estimate: the sum over mapped G stacks of
/// `hi - touched_lo`. Each stack's mark only moves down, in whole 4 KiB steps, when
/// the G on it is started ([`GStack::note_start`]) or switches out at a deeper stack
/// pointer than ever before on that stack ([`GStack::note_sp`]); it is subtracted
/// when the stack is unmapped. Stacks in the caches keep their marks: nothing gives
/// their pages back to the kernel before the unmap.
///
/// It is a lower bound of what the stacks really have resident, give or take
/// swapping: a G that went deeper between two switches and came back is not seen,
/// and a page is counted from the first time it is known touched until the unmap.
/// Kept in a counter so that rt_getstats costs the same for ten Gs as for a million.
pub static GSTACK_TOUCHED: AtomicU64 = AtomicU64::new(0);

/// The granularity of [`GSTACK_TOUCHED`]: the smallest page size of Linux, so that a
/// page known touched is a lower bound whatever the real page size is.
const TOUCH_GRAIN: usize = 4096;

/// Every mapped G stack's usable range, for the exact count of resident stack pages
/// (rt_getstats_ex with RT_STATS_EXACT), which must not walk the Gs: those are the
/// scheduler's, and a G's stack fields change under it.
///
/// A stack takes a slot when it is mapped and frees it when it is unmapped (both
/// already system calls, so the lock adds nothing to a hot path). A free slot holds
/// (0, 0). `free` always has room for every slot, so freeing never allocates (it
/// runs in a destructor).
struct Registry {
    ranges: Vec<(usize, usize)>,
    free: Vec<usize>,
}

static REGISTRY: Lock<Registry> = Lock::new(Registry {
    ranges: Vec::new(),
    free: Vec::new(),
});

impl Registry {
    fn add(&mut self, lo: usize, hi: usize) -> Result<usize> {
        if let Some(i) = self.free.pop() {
            self.ranges[i] = (lo, hi);
            return Ok(i);
        }
        let n = self.ranges.len() + 1;
        if self.ranges.try_reserve(1).is_err()
            || self
                .free
                .try_reserve(n.saturating_sub(self.free.len()))
                .is_err()
        {
            return Err(Error::NoMem);
        }
        self.ranges.push((lo, hi));
        Ok(n - 1)
    }

    fn remove(&mut self, i: usize) {
        self.ranges[i] = (0, 0);
        // Never allocates: `add` reserved room for every slot.
        self.free.push(i);
    }
}

/// In a fork child, before any stack is dropped: the registry's lock may have been
/// held by a thread that does not exist here.
///
/// # Safety
/// Called by the only thread of a fork child.
pub unsafe fn registry_after_fork() {
    // SAFETY: we are the only thread of a fork child (the # Safety contract), so nobody
    // can hold or take REGISTRY's lock.
    unsafe { REGISTRY.get_after_fork() };
}

/// Bytes of G stacks resident in memory, counted page by page with mincore: exact for
/// each stack at the moment it is looked at. The walk runs without any scheduler
/// lock, copying at most [`WALK_CHUNK`] ranges at a time out of the registry, so Gs
/// keep running, exiting and mapping stacks meanwhile: a stack unmapped after its
/// range was copied counts zero (mincore fails with ENOMEM on the hole, which is
/// tolerated), and one mapped meanwhile may or may not be counted. mincore only
/// reports on the range; it never touches the memory, so a stale range is harmless.
pub fn resident_exact() -> u64 {
    let mut chunk = [(0usize, 0usize); WALK_CHUNK];
    let mut next = 0;
    let mut total = 0u64;
    loop {
        let n = {
            let r = REGISTRY.lock();
            let end = r.ranges.len().min(next + WALK_CHUNK);
            if next >= end {
                break;
            }
            chunk[..end - next].copy_from_slice(&r.ranges[next..end]);
            let n = end - next;
            next = end;
            n
        };
        for &(lo, hi) in &chunk[..n] {
            if lo < hi {
                total += resident_in(lo, hi) as u64;
            }
        }
    }
    total
}

/// How many registry slots the exact walk copies per lock hold.
const WALK_CHUNK: usize = 256;

/// Resident bytes of [lo, hi) (page-aligned) by mincore; a part that is not mapped
/// (any more) counts zero.
fn resident_in(lo: usize, hi: usize) -> usize {
    let pg = page_size();
    let n = (hi - lo) / pg;
    let mut vec = [0u8; 256];
    let mut total = 0;
    let mut off = 0;
    while off < n {
        let k = (n - off).min(vec.len());
        // SAFETY: mincore reads no memory of the range (which may have been unmapped
        // since it was recorded: then it fails with ENOMEM); it writes k entries,
        // for which vec has room.
        let r = unsafe {
            libc::mincore(
                (lo + off * pg) as *mut libc::c_void,
                k * pg,
                vec.as_mut_ptr(),
            )
        };
        if r == 0 {
            total += vec[..k].iter().filter(|&&b| b & 1 != 0).count();
        }
        off += k;
    }
    total * pg
}

impl GStack {
    /// Maps a stack of `size` usable bytes (page-rounded) with its guard.
    pub fn alloc(size: usize) -> Result<GStack> {
        let size = round_up(size, page_size());
        let map = Mapping::reserve(G_GUARD_SIZE + size)?;
        map.guard(map.base, G_GUARD_SIZE)?;
        let (lo, hi) = (map.base + G_GUARD_SIZE, map.top());
        let slot = REGISTRY.lock().add(lo, hi)?;
        let vg = valgrind::stack_register(lo, hi);
        GSTACK_RESERVED.fetch_add(map.len as u64, Ordering::Release);
        Ok(GStack {
            map,
            lo,
            hi,
            vg_id: vg,
            touched_lo: hi,
            slot,
        })
    }

    /// A G is about to start on this stack: its first frame touches the top page.
    pub fn note_start(&mut self) {
        self.note_sp(self.hi - 1);
    }

    /// The G on this stack switches out with its stack pointer at `sp`: everything
    /// from there to the top has been touched. A load and a compare unless the stack
    /// never went this deep before.
    #[inline]
    pub fn note_sp(&mut self, sp: usize) {
        if sp < self.touched_lo {
            self.lower_mark(sp);
        }
    }

    #[cold]
    fn lower_mark(&mut self, sp: usize) {
        let lo = (sp & !(TOUCH_GRAIN - 1)).max(self.lo);
        if lo < self.touched_lo {
            GSTACK_TOUCHED.fetch_add((self.touched_lo - lo) as u64, Ordering::Release);
            self.touched_lo = lo;
        }
    }

    pub fn guard(&self) -> (usize, usize) {
        (self.map.base, self.lo)
    }
}

impl Drop for GStack {
    fn drop(&mut self) {
        valgrind::stack_deregister(self.vg_id);
        REGISTRY.lock().remove(self.slot);
        // Touched first, reserved last: the reverse of `alloc` (see stats::snapshot).
        GSTACK_TOUCHED.fetch_sub((self.hi - self.touched_lo) as u64, Ordering::Release);
        GSTACK_RESERVED.fetch_sub(self.map.len as u64, Ordering::Release);
    }
}

/// Regression test (issue 7, found in review): rt_init in a fork child dropped the
/// per-P stack caches (p::free_all) before it reset REGISTRY's lock (in
/// g::forget_after_fork). If the registry lock was held at the fork (by a thread that
/// does not exist in the child), the child deadlocked in rt_init. The alarm turns a
/// deadlock into a failure; MRT_TEST_NO_HOLD=1 runs the control without the held lock.
#[cfg(test)]
mod fork_registry_tests {
    use core::sync::atomic::{AtomicUsize, Ordering};

    static DONE: AtomicUsize = AtomicUsize::new(0);

    unsafe extern "C" fn g_fn(_: *mut core::ffi::c_void) {
        DONE.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn fork_child_rt_init_does_not_wait_for_a_registry_lock_held_at_fork() {
        crate::runtime::init::init(crate::runtime::init::Request {
            maxprocs: 2,
            ..Default::default()
        })
        .unwrap();
        // Gs that start and exit leave their stacks in the per-P caches.
        for _ in 0..64 {
            crate::runtime::sched::newproc(Some(g_fn), core::ptr::null_mut()).unwrap();
        }
        while DONE.load(Ordering::SeqCst) < 64 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        // Stand-in for another thread inside GStack::alloc/drop at the moment of fork.
        let hold = std::env::var("MRT_TEST_NO_HOLD").is_err();
        let guard = hold.then(|| super::REGISTRY.lock());
        // SAFETY: the child only calls rt_init and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: an alarm in the child; SIGALRM's default action ends it.
            unsafe { libc::alarm(5) };
            let r = crate::runtime::init::init(crate::runtime::init::Request::default());
            // SAFETY: leaves the child without running the parent's exit handlers.
            unsafe { libc::_exit(if r.is_ok() { 0 } else { 2 }) };
        }
        drop(guard);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child of fork: rt_init did not finish (status {status:#x}; SIGALRM = deadlock)"
        );
    }
}
