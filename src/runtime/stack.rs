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
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use super::error::{Error, Result};
use super::note::Lock;
use super::{free_box, try_box};

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

/// Most stacks [`GStack::alloc_batch`] takes at once.
pub(crate) const ALLOC_BATCH: usize = 32;

/// Guard below each G stack. Address space only (MADV_GUARD_INSTALL adds no VMA).
pub(crate) const G_GUARD_SIZE: usize = 16 << 10;

/// A G's stack: [lo, hi) usable, a guard region below it, carved out of an [`Arena`].
pub struct GStack {
    /// The arena it was carved from, and its slot there.
    arena: *mut Arena,
    idx: u32,
    pub lo: usize,
    pub hi: usize,
    /// Valgrind's id for the stack (0 when not under valgrind).
    vg_id: usize,
    /// [touched_lo, hi) is known to have been touched (see [`GSTACK_TOUCHED`]):
    /// page-aligned, `hi` while the stack has never run a G. Owned with the stack
    /// (by the G that runs on it, or by the cache that holds it).
    touched_lo: usize,
}

// SAFETY: a GStack owns its slot of the arena; the arena itself is only touched under
// the ARENAS lock.
unsafe impl Send for GStack {}

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

impl StackList {
    /// In a fork child: lets go of every stack on the list without reading it. The
    /// parent's lists changed under other threads while fork copied the memory page by
    /// page, so a list may hold a stack that a G holds too, or even loop; the arenas
    /// are rebuilt instead (see [`rebuild_after_fork`]).
    pub fn forget_after_fork(&mut self) {
        self.head = ptr::null_mut();
        self.tail = ptr::null_mut();
        self.len = 0;
    }
}

impl Default for StackList {
    fn default() -> Self {
        StackList::new()
    }
}

impl Drop for StackList {
    /// In line, the test of an empty list: every spawn and exit drops one (stack_put's
    /// spill, stack_get's refill), and the out-of-line loop saved five registers to
    /// find it empty.
    #[inline(always)]
    fn drop(&mut self) {
        if !self.is_empty() {
            self.free_all();
        }
    }
}

impl StackList {
    /// Drop's work for a list that holds stacks: each goes back to its arena.
    #[cold]
    #[inline(never)]
    fn free_all(&mut self) {
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
    const RUNNING_ON_VALGRIND: usize = 0x1001;
    const STACK_REGISTER: usize = 0x1501;

    /// Whether the process runs under valgrind.
    pub fn running() -> bool {
        let args = [RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0];
        // SAFETY: the assembly only hands the array to valgrind (or does nothing and
        // returns the default).
        unsafe { mrt_valgrind_request(args.as_ptr(), 0) != 0 }
    }
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
/// `stack_resident_bytes` estimate: the sum over G stacks (and free arena slots) of
/// `hi - touched_lo`. Each stack's mark only moves down, in whole 4 KiB steps, when
/// the G on it is started ([`GStack::note_start`]) or switches out at a deeper stack
/// pointer than ever before on that stack ([`GStack::note_sp`]); a slot freed to its
/// arena keeps its count (and hands it to the next stack carved there) until its
/// pages are given back (`purge`) or its arena is unmapped. Stacks in the caches keep
/// their marks: nothing gives their pages back to the kernel meanwhile.
///
/// It is a lower bound of what the stacks really have resident, give or take
/// swapping: a G that went deeper between two switches and came back is not seen,
/// and a page is counted from the first time it is known touched until it is given
/// back.
/// Kept in a counter so that rt_getstats costs the same for ten Gs as for a million.
pub static GSTACK_TOUCHED: AtomicU64 = AtomicU64::new(0);

/// The granularity of [`GSTACK_TOUCHED`]: the smallest page size of Linux, so that a
/// page known touched is a lower bound whatever the real page size is.
const TOUCH_GRAIN: usize = 4096;

/// G stacks come out of arenas: large reservations (`mmap(MAP_NORESERVE)`, lazily
/// committed) cut into equal slots, each `| guard | stack |`:
/// ```text
///   base                                                            base+len
///   | guard | stack 0 | guard | stack 1 | ... | guard | stack n-1 | (rest) |
///   \----- slot 0 ---/\----- slot 1 ---/
/// ```
/// A slot's guard is installed the first time the slot is carved (MADV_GUARD_INSTALL:
/// no VMA; else mprotect, two VMAs each, counted against [`Arenas::vma_budget`]), and
/// stays for the life of the arena: a slot freed back to its arena is reused with no
/// system call at all.
///
/// Memory goes back to the kernel lazily and in bulk, off the paths that free stacks
/// (as Go's scavenger returns memory in the background): freeing a stack only puts its
/// slot on its arena's free list, and an arena whose last slot is freed stays mapped,
/// guards and touched pages included, ready for the next burst of Gs. sysmon calls
/// [`scavenge`] every [`SCAVENGE_TICK_NS`]; an arena that nobody took a slot from or
/// gave one back to during the last [`IDLE_TICKS`] ticks is idle, and then
/// - an idle arena with no slot in use is unmapped whole (outside the arenas' lock);
/// - an idle arena with slots in use gives back the pages of its touched free slots,
///   one MADV_DONTNEED per run of adjacent touched free slots (guard markers survive
///   it).
///
/// So memory a burst of Gs touched is back with the kernel within about half a second
/// of the arena's last use, and a burst that follows sooner reuses it with no system
/// call. rt_shutdown ([`release_empty`]) unmaps every arena at once, as does a fork
/// child with the parent's; an arena that cannot be mapped (address space, VMA budget)
/// first makes the empty arenas go at once. The per-P and global stack caches in
/// `g.rs` sit above this: a slot comes back here only when they overflow.
pub(crate) const ARENA_BYTES: usize = 64 << 20;

/// How often sysmon looks for idle arenas while some arena is empty or holds touched
/// free slots.
pub(crate) const SCAVENGE_TICK_NS: i64 = 100_000_000;
/// Ticks an arena must go unused before its memory goes back.
pub(crate) const IDLE_TICKS: u32 = 5;
/// Counts sysmon's scavenge ticks: arenas stamp it when used.
static SCAVENGE_GEN: AtomicU32 = AtomicU32::new(0);
/// Set (under the arenas' lock) while some arena is empty or has touched free slots:
/// sysmon then keeps ticking, even through its deep sleep.
static SCAVENGE_PENDING: AtomicBool = AtomicBool::new(false);

/// One reservation. Owned by [`ARENAS`]; its fields change only under that lock.
pub struct Arena {
    base: usize,
    len: usize,
    /// Bytes per slot: G_GUARD_SIZE + the usable stack.
    slot: usize,
    nslots: usize,
    /// Slots [0, carved) have been handed out at least once.
    carved: usize,
    /// Slots [0, guarded) have their guard installed (ahead of `carved` when guards
    /// went in by the batch).
    guarded: usize,
    /// Slots handed out as GStacks.
    live: usize,
    /// Free carved slots; capacity nslots, so pushing never allocates.
    free: Vec<u32>,
    /// Per slot, while it is free here: bytes of it still counted in GSTACK_TOUCHED.
    touched: Vec<usize>,
    /// Sum of `touched` (bytes touched in free slots).
    dirty: usize,
    /// VMAs this arena accounts for: itself and its mprotect guards.
    vmas: usize,
    /// On `Arenas::room`.
    in_room: bool,
    /// SCAVENGE_GEN when a slot was last taken or given back.
    used_gen: u32,
}

impl Arena {
    fn has_room(&self) -> bool {
        !self.free.is_empty() || self.carved < self.nslots
    }

    fn slot_base(&self, idx: usize) -> usize {
        self.base + idx * self.slot
    }
}

struct Arenas {
    /// Every arena (for the exact resident count and the fork child).
    all: Vec<*mut Arena>,
    /// Arenas with a free or uncarved slot; new stacks come from the last one that
    /// fits.
    room: Vec<*mut Arena>,
    /// VMAs the arenas account for, and how many they may: with mprotect guards each
    /// stack splits its arena, and crossing vm.max_map_count would make every later
    /// mmap, mprotect or munmap of the process fail. 0: not computed yet.
    vmas: usize,
    vma_budget: usize,
    /// Sum of the arenas' `dirty`.
    dirty: usize,
    /// Arenas with slots carved and none in use (kept for reuse until idle).
    nempty: usize,
}

// SAFETY: the arenas are owned by this set and only reached under its lock (or by the
// owner of a slot, for that slot's memory).
unsafe impl Send for Arenas {}

static ARENAS: Lock<Arenas> = Lock::new(Arenas {
    all: Vec::new(),
    room: Vec::new(),
    vmas: 0,
    vma_budget: 0,
    dirty: 0,
    nempty: 0,
});

/// MRT_DEBUG=guarddeferslow: guards deferred out of the arenas' lock are installed
/// one at a time under it, as when the kernel refuses the batch (to exercise that).
static DEFER_SLOW: AtomicBool = AtomicBool::new(false);
/// Forces mprotect guards (MRT_DEBUG=guardmprotect), to exercise the fallback.
static FORCE_MPROTECT: AtomicBool = AtomicBool::new(false);
/// MRT_DEBUG=gstackvmas=N: the VMA budget of the arenas (0: half of what
/// vm.max_map_count leaves free at the first arena).
static VMA_BUDGET_OVERRIDE: AtomicUsize = AtomicUsize::new(0);
/// The usable size of G stacks (rt_config.g_stack_size), read without any lock.
static G_STACK_SIZE: AtomicUsize = AtomicUsize::new(64 << 10);

/// rt_init: the G stack size and the MRT_DEBUG words about stacks.
pub fn configure(debug: &str, g_stack_size: usize) {
    G_STACK_SIZE.store(g_stack_size, Ordering::Relaxed);
    let mut force = false;
    let mut slow = false;
    let mut budget = 0;
    for w in debug.split(',').map(str::trim) {
        if w == "guardmprotect" {
            force = true;
        } else if w == "guarddeferslow" {
            slow = true;
        } else if let Some(n) = w.strip_prefix("gstackvmas=") {
            budget = n.parse().unwrap_or(0);
        }
    }
    FORCE_MPROTECT.store(force, Ordering::Relaxed);
    DEFER_SLOW.store(slow, Ordering::Relaxed);
    VMA_BUDGET_OVERRIDE.store(budget, Ordering::Relaxed);
    if valgrind::running() {
        // Valgrind does not know process_madvise: it would refuse it after a warning
        // on stderr. One madvise per guard instead.
        NO_PROCESS_MADVISE.store(true, Ordering::Relaxed);
    }
}

/// The configured usable G stack size.
pub fn g_stack_size() -> usize {
    G_STACK_SIZE.load(Ordering::Relaxed)
}

/// Half of the VMAs vm.max_map_count leaves free now (the rest is the host's). Reads
/// /proc without allocating: it runs when the first arena is made, which may be while
/// the heap is exhausted.
fn default_vma_budget() -> usize {
    let mut max = 0usize;
    let mut digits = true;
    read_proc(c"/proc/sys/vm/max_map_count", |chunk| {
        for &c in chunk {
            if digits && c.is_ascii_digit() {
                max = max.saturating_mul(10).saturating_add((c - b'0') as usize);
            } else {
                digits = false;
            }
        }
    });
    if max == 0 {
        max = 65530;
    }
    let mut used = 0usize;
    read_proc(c"/proc/self/maps", |chunk| {
        used += chunk.iter().filter(|&&c| c == b'\n').count()
    });
    max.saturating_sub(used) / 2
}

/// Feeds the contents of a file to `f`, a stack buffer at a time (nothing if it cannot
/// be opened).
fn read_proc(path: &core::ffi::CStr, mut f: impl FnMut(&[u8])) {
    // SAFETY: a NUL-terminated path; the descriptor is ours until closed below.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into our own buffer, at most its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        // SAFETY: reading errno right after the failed call.
        if n < 0 && unsafe { *libc::__errno_location() } == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        f(&buf[..n as usize]);
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
}

impl Arenas {
    /// A slot of `slot` bytes: (arena, index, bytes of it counted as touched, whether
    /// its guard is still to be installed). With `defer_guard`, a fresh slot whose
    /// guard is not in place yet may come back carved but unguarded once the kernel
    /// has shown it takes guard batches: the caller installs the guard before any G
    /// runs on it, outside this lock ([`install_deferred_guards`]).
    fn take(&mut self, slot: usize, defer_guard: bool) -> Result<(*mut Arena, usize, usize, bool)> {
        let at = match self.room.iter().rposition(|&a| {
            // SAFETY: arenas on `room` are live; we hold the lock.
            unsafe { (*a).slot == slot }
        }) {
            Some(i) => i,
            None => {
                self.new_arena(slot)?;
                self.room.len() - 1
            }
        };
        let ap = self.room[at];
        // SAFETY: a live arena, ours under the lock.
        let was_empty = unsafe { (*ap).live == 0 && (*ap).carved > 0 };
        // SAFETY: a live arena, ours under the lock.
        let (idx, touched, deferred) = if let Some(i) = unsafe { (*ap).free.pop() } {
            // SAFETY: `ap` is a live arena (on `room`), ours while we hold the ARENAS lock.
            let a = unsafe { &mut *ap };
            let i = i as usize;
            if a.touched[i] == UNGUARDED {
                // A slot whose deferred guard could not be installed: now or never.
                if let Err(e) = self.guard_one(ap, i) {
                    // SAFETY: `ap` is a live arena on `room`, ours under the ARENAS
                    // lock; the slot goes back as it was.
                    unsafe { (*ap).free.push(i as u32) };
                    return Err(e);
                }
                // SAFETY: `ap` is a live arena on `room`, ours under the ARENAS lock.
                unsafe { (&mut (*ap).touched)[i] = 0 };
                (i, 0, false)
            } else {
                let t = core::mem::take(&mut a.touched[i]);
                a.dirty -= t;
                self.dirty -= t;
                (i, t, false)
            }
        } else {
            // SAFETY: `ap` is a live arena (on `room`), ours while we hold the ARENAS lock.
            let i = unsafe { (*ap).carved };
            // SAFETY: `ap` is a live arena on `room`, ours under the ARENAS lock; no
            // other reference to it is alive here.
            let a = unsafe { &mut *ap };
            if defer_guard
                && i >= a.guarded
                && GUARD_BATCH_WORKS.load(Ordering::Relaxed)
                && !NO_PROCESS_MADVISE.load(Ordering::Relaxed)
                && !NO_GUARD_MADVISE.load(Ordering::Relaxed)
                && !FORCE_MPROTECT.load(Ordering::Relaxed)
            {
                // Ours to guard: nobody else carves it, and it is not free.
                a.guarded = i + 1;
                a.carved += 1;
                GSTACK_RESERVED.fetch_add(slot as u64, Ordering::Release);
                (i, 0, true)
            } else if let Err(e) = self.guard_slot(ap, i) {
                // SAFETY: `ap` is a live arena (on `room`), ours while we hold the ARENAS lock.
                if unsafe { (*ap).live == 0 && (*ap).carved == 0 } {
                    // A fresh arena that could not give a single stack: undone.
                    self.remove(ap);
                    // SAFETY: off every list, no slot in use.
                    unsafe { unmap_arena(ap) };
                }
                return Err(e);
            } else {
                // SAFETY: `ap` is a live arena (on `room`), ours while we hold the ARENAS lock.
                unsafe { (*ap).carved += 1 };
                GSTACK_RESERVED.fetch_add(slot as u64, Ordering::Release);
                (i, 0, false)
            }
        };
        // SAFETY: `ap` is a live arena (on `room`), ours while we hold the ARENAS lock.
        let a = unsafe { &mut *ap };
        a.live += 1;
        a.used_gen = SCAVENGE_GEN.load(Ordering::Relaxed);
        if was_empty {
            self.nempty -= 1;
            self.note_pending();
        }
        if !a.has_room() {
            a.in_room = false;
            self.room.swap_remove(at);
        }
        Ok((ap, idx, touched, deferred))
    }

    /// Makes sure slot `idx` (the next to be carved) has its guard: already there
    /// from a batch, else a batch of the slots from it on in one process_madvise, else
    /// its own madvise, else an mprotect within the VMA budget.
    fn guard_slot(&mut self, ap: *mut Arena, idx: usize) -> Result<()> {
        // SAFETY: a live arena, ours under the lock.
        let a = unsafe { &mut *ap };
        if idx < a.guarded {
            return Ok(());
        }
        if !NO_GUARD_MADVISE.load(Ordering::Relaxed) && !FORCE_MPROTECT.load(Ordering::Relaxed) {
            if let Some(n) = install_guards_batch(a, idx) {
                a.guarded = idx + n;
                return Ok(());
            }
        }
        self.guard_one(ap, idx)?;
        // SAFETY: a live arena, ours under the lock.
        unsafe { (*ap).guarded = idx + 1 };
        Ok(())
    }

    /// Installs the guard of slot `idx` of `ap` on its own: a madvise, else an
    /// mprotect within the VMA budget.
    fn guard_one(&mut self, ap: *mut Arena, idx: usize) -> Result<()> {
        // SAFETY: a live arena, ours under the lock.
        let a = unsafe { &mut *ap };
        let lo = a.slot_base(idx);
        if !NO_GUARD_MADVISE.load(Ordering::Relaxed) && !FORCE_MPROTECT.load(Ordering::Relaxed) {
            // SAFETY: the range lies inside the arena, in a slot no G uses.
            if unsafe { libc::madvise(lo as *mut _, G_GUARD_SIZE, MADV_GUARD_INSTALL) } == 0 {
                return Ok(());
            }
            NO_GUARD_MADVISE.store(true, Ordering::Relaxed);
        }
        // An mprotect inside the arena splits it: up to two more VMAs.
        if self.vmas + 2 > self.budget() {
            return Err(Error::NoMem);
        }
        // SAFETY: [lo, lo + G_GUARD_SIZE) lies inside the arena, in a slot no G uses.
        if unsafe { libc::mprotect(lo as *mut _, G_GUARD_SIZE, libc::PROT_NONE) } != 0 {
            return Err(Error::NoMem);
        }
        self.vmas += 2;
        a.vmas += 2;
        Ok(())
    }

    fn budget(&mut self) -> usize {
        let o = VMA_BUDGET_OVERRIDE.load(Ordering::Relaxed);
        if o != 0 {
            return o;
        }
        if self.vma_budget == 0 {
            self.vma_budget = default_vma_budget().max(1);
        }
        self.vma_budget
    }

    /// Maps a new arena for slots of `slot` bytes and puts it on `all` and `room`.
    /// ARENA_BYTES, or fewer slots (down to one) when the kernel refuses that much.
    fn new_arena(&mut self, slot: usize) -> Result<()> {
        if self.vmas + 1 > self.budget() && self.nempty > 0 {
            // The VMAs of empty arenas (kept for reuse, of another slot size) first.
            self.unmap_empty_now();
        }
        if self.vmas + 1 > self.budget() {
            return Err(Error::NoMem);
        }
        self.all.try_reserve(1).map_err(|_| Error::NoMem)?;
        // `room` never holds more than `all`: with this capacity, give_back's push
        // never allocates.
        let need = (self.all.len() + 1).saturating_sub(self.room.len());
        self.room.try_reserve(need).map_err(|_| Error::NoMem)?;
        let mut nslots = (ARENA_BYTES / slot).max(1);
        let map = loop {
            match Mapping::reserve(nslots * slot) {
                Ok(m) => break m,
                // Out of address space (RLIMIT_AS, say): the empty arenas kept for
                // reuse go first.
                Err(_) if self.nempty > 0 => self.unmap_empty_now(),
                Err(e) if nslots == 1 => return Err(e),
                Err(_) => nslots /= 2,
            }
        };
        let mut free = Vec::new();
        let mut touched = Vec::new();
        if free.try_reserve_exact(nslots).is_err() || touched.try_reserve_exact(nslots).is_err() {
            return Err(Error::NoMem);
        }
        touched.resize(nslots, 0);
        // Stacks are touched a page at a time: a huge page would make one parked G
        // cost 2 MiB. Advice only: a refusal changes nothing else.
        // SAFETY: advice about our own fresh mapping.
        unsafe { libc::madvise(map.base as *mut _, map.len, libc::MADV_NOHUGEPAGE) };
        let a = try_box(Arena {
            base: map.base,
            len: map.len,
            slot,
            nslots,
            carved: 0,
            guarded: 0,
            live: 0,
            free,
            touched,
            dirty: 0,
            vmas: 1,
            in_room: true,
            used_gen: SCAVENGE_GEN.load(Ordering::Relaxed),
        })?;
        // The arena owns the mapping now.
        core::mem::forget(map);
        self.vmas += 1;
        self.all.push(a);
        self.room.push(a);
        Ok(())
    }

    /// Takes `ap` off both lists (it is about to be unmapped).
    fn remove(&mut self, ap: *mut Arena) {
        if let Some(i) = self.all.iter().position(|&x| x == ap) {
            self.all.swap_remove(i);
        }
        if let Some(i) = self.room.iter().position(|&x| x == ap) {
            self.room.swap_remove(i);
        }
        // SAFETY: a live arena, ours under the lock.
        unsafe {
            self.vmas -= (*ap).vmas;
            self.dirty -= (*ap).dirty;
            if (*ap).live == 0 && (*ap).carved > 0 {
                self.nempty -= 1;
            }
        }
    }

    /// Slot `idx` of `ap` is free again, `touched` bytes of it counted as touched.
    /// Never a system call: an arena left empty stays mapped for the next stacks, and
    /// its memory goes back when sysmon finds it idle ([`scavenge`]).
    fn give_back(&mut self, ap: *mut Arena, idx: usize, touched: usize) {
        // SAFETY: the slot's arena lives while a slot of it is in use; ours under the
        // lock.
        let a = unsafe { &mut *ap };
        a.live -= 1;
        a.touched[idx] = touched;
        a.dirty += touched;
        self.dirty += touched;
        a.used_gen = SCAVENGE_GEN.load(Ordering::Relaxed);
        // Never allocates: capacity nslots, and at most nslots - 1 others are free.
        a.free.push(idx as u32);
        if a.live == 0 {
            self.nempty += 1;
        }
        if !a.in_room {
            a.in_room = true;
            // Never allocates: new_arena keeps room's capacity at least all's length.
            if self.room.len() < self.room.capacity() {
                self.room.push(ap);
            } else {
                super::throw("stack arenas: no room reserved on the room list");
            }
        }
        self.note_pending();
    }

    /// Whether sysmon has anything to give back: an empty arena or touched free slots.
    /// Written under the lock, so a give_back never races with a scavenge clearing it.
    fn note_pending(&self) {
        let p = self.nempty > 0 || self.dirty > 0;
        if SCAVENGE_PENDING.load(Ordering::Relaxed) != p {
            SCAVENGE_PENDING.store(p, Ordering::Release);
        }
    }

    /// Takes up to `out.len()` empty arenas (idle ones only, unless `all`) off the
    /// lists into `out`, for the caller to unmap once the lock is dropped. How many.
    fn take_empty(&mut self, all: bool, gen: u32, out: &mut [*mut Arena]) -> usize {
        let mut n = 0;
        let mut i = self.all.len();
        while i > 0 && n < out.len() && self.nempty > 0 {
            i -= 1;
            let ap = self.all[i];
            // SAFETY: arenas on `all` are live; ours under the lock.
            let (live, carved, used) = unsafe { ((*ap).live, (*ap).carved, (*ap).used_gen) };
            if live == 0 && carved > 0 && (all || gen.wrapping_sub(used) >= IDLE_TICKS) {
                // remove() swap_removes index i: the arenas above it were looked at.
                self.remove(ap);
                out[n] = ap;
                n += 1;
            }
        }
        self.note_pending();
        n
    }

    /// Unmaps every empty arena at once, under the lock (only when a new arena
    /// cannot be had otherwise).
    fn unmap_empty_now(&mut self) {
        let mut batch = [ptr::null_mut::<Arena>(); 64];
        loop {
            let n = self.take_empty(true, 0, &mut batch);
            for &ap in &batch[..n] {
                // SAFETY: take_empty took it off every list, and no slot of it is in
                // use.
                unsafe { unmap_arena(ap) };
            }
            if n < batch.len() {
                break;
            }
        }
    }

    /// Gives back the touched free slots of one idle arena that still has slots in
    /// use; whether there was one.
    fn purge_one_idle(&mut self, gen: u32) -> bool {
        for &ap in self.all.iter().rev() {
            // SAFETY: arenas on `all` are live; ours under the lock.
            let a = unsafe { &mut *ap };
            if a.live > 0 && a.dirty > 0 && gen.wrapping_sub(a.used_gen) >= IDLE_TICKS {
                self.dirty -= purge(a);
                self.note_pending();
                return true;
            }
        }
        false
    }
}

/// Unmaps the empty arenas (idle ones only, unless `all`), in batches taken under the
/// lock and unmapped outside it.
fn unmap_empty(all: bool, gen: u32) {
    let mut batch = [ptr::null_mut::<Arena>(); 64];
    loop {
        let n = ARENAS.lock().take_empty(all, gen, &mut batch);
        for &ap in &batch[..n] {
            // SAFETY: take_empty took it off every list, and no slot of it is in use.
            unsafe { unmap_arena(ap) };
        }
        if n < batch.len() {
            break;
        }
    }
}

/// sysmon, every [`SCAVENGE_TICK_NS`]: gives back the memory of arenas that went
/// unused for [`IDLE_TICKS`] ticks (see [`ARENA_BYTES`]). A load when there is none.
pub fn scavenge() {
    if !SCAVENGE_PENDING.load(Ordering::Acquire) {
        return;
    }
    let gen = SCAVENGE_GEN.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    unmap_empty(false, gen);
    // One arena per hold of the lock: stacks are taken and freed in between.
    while ARENAS.lock().purge_one_idle(gen) {}
}

/// Whether some arena is empty or holds touched free slots (sysmon keeps ticking).
pub fn scavenge_pending() -> bool {
    SCAVENGE_PENDING.load(Ordering::Acquire)
}

/// Unmaps every empty arena now: rt_shutdown (after every stack was freed, so that
/// nothing stays mapped) and a fork child (the parent's stacks it freed).
pub fn release_empty() {
    unmap_empty(true, 0);
}

/// Guards installed per process_madvise call.
const GUARD_BATCH: usize = 64;
/// Set once process_madvise installed a batch of guards: from then on stacks taken by
/// the batch get their guards outside the arenas' lock.
static GUARD_BATCH_WORKS: AtomicBool = AtomicBool::new(false);
/// In an arena's `touched`: a free slot whose deferred guard could not be installed;
/// it is guarded before it is handed out again.
const UNGUARDED: usize = usize::MAX;

/// Bytes of a free slot counted as touched (none for an unguarded one).
fn dirty_of(t: usize) -> usize {
    if t == UNGUARDED {
        0
    } else {
        t
    }
}

/// Installs the guards of the slots `take` handed out unguarded (`deferred`), all in
/// one process_madvise, outside the arenas' lock; one the kernel would not take that
/// way gets its own madvise or mprotect under the lock, and a slot that cannot be
/// guarded at all goes back to its arena marked so (and out of `got`). Returns how
/// many entries of `got` are left (moved to its front), and the error if none is.
fn install_deferred_guards(got: &mut [(*mut Arena, usize, usize, bool)]) -> Result<usize> {
    let mut iov = [libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    }; ALLOC_BATCH];
    let mut n = 0;
    for &(arena, idx, _, deferred) in got.iter() {
        if deferred {
            // SAFETY: the arena lives while its slot (ours) is in use; base and slot
            // size never change.
            iov[n].iov_base = unsafe { (*arena).slot_base(idx) } as *mut _;
            iov[n].iov_len = G_GUARD_SIZE;
            n += 1;
        }
    }
    if n == 0 {
        return Ok(got.len());
    }
    // SAFETY: every range is the guard region of a slot we hold, inside its live
    // arena, that no G has run on yet.
    if !DEFER_SLOW.load(Ordering::Relaxed)
        && unsafe { guard_install_iov(&iov[..n]) } == GuardBatch::All
    {
        return Ok(got.len());
    }
    // The slow way, one slot at a time (a guard installed twice is harmless).
    let mut keep = 0;
    let mut err = Error::NoMem;
    {
        let mut a = ARENAS.lock();
        for i in 0..got.len() {
            let (arena, idx, touched, deferred) = got[i];
            if deferred {
                if let Err(e) = a.guard_one(arena, idx) {
                    err = e;
                    a.give_back(arena, idx, 0);
                    // SAFETY: the arena stays mapped (give_back never unmaps), ours
                    // under the lock; the slot is marked to be guarded when next taken.
                    unsafe { (&mut (*arena).touched)[idx] = UNGUARDED };
                    continue;
                }
            }
            got[keep] = (arena, idx, touched, false);
            keep += 1;
        }
    }
    if keep == 0 {
        return Err(err);
    }
    Ok(keep)
}

/// Set once process_madvise refused to install guards (before Linux 6.15, say).
static NO_PROCESS_MADVISE: AtomicBool = AtomicBool::new(false);
/// PIDFD_SELF_THREAD_GROUP: process_madvise's name for the calling process (Linux
/// 6.15), which stays right in a fork child.
const PIDFD_SELF: libc::c_int = -10001;

/// What one process_madvise of guard installs did.
#[derive(PartialEq, Eq)]
enum GuardBatch {
    All,
    /// Some ranges (the call stopped at an error; those installed stay).
    Partial,
    /// None: the kernel refused the call itself (no process_madvise or no
    /// MADV_GUARD_INSTALL).
    Refused,
}

/// Installs a guard (MADV_GUARD_INSTALL) on each G_GUARD_SIZE range of `iov` in one
/// process_madvise.
///
/// # Safety
/// Every range must be the guard region of a slot inside a live arena that no G uses
/// (a guard makes its pages fault on access).
unsafe fn guard_install_iov(iov: &[libc::iovec]) -> GuardBatch {
    // SAFETY: the ranges are as the caller promises; the kernel only reads the iovecs.
    let r = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            iov.as_ptr(),
            iov.len(),
            MADV_GUARD_INSTALL,
            0,
        )
    };
    if r == (iov.len() * G_GUARD_SIZE) as libc::c_long {
        GuardBatch::All
    } else if r < 0 {
        GuardBatch::Refused
    } else {
        GuardBatch::Partial
    }
}

/// Installs the guards of up to GUARD_BATCH slots of `a` from `idx` on in one
/// process_madvise: one system call instead of one per stack. How many, or None if
/// the kernel would not (the caller installs one guard its own way).
fn install_guards_batch(a: &Arena, idx: usize) -> Option<usize> {
    if NO_PROCESS_MADVISE.load(Ordering::Relaxed) {
        return None;
    }
    let n = (a.nslots - idx).min(GUARD_BATCH);
    let mut iov = [libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    }; GUARD_BATCH];
    for (k, v) in iov[..n].iter_mut().enumerate() {
        v.iov_base = a.slot_base(idx + k) as *mut _;
        v.iov_len = G_GUARD_SIZE;
    }
    // SAFETY: every range lies inside the arena, in slots not yet handed out.
    match unsafe { guard_install_iov(&iov[..n]) } {
        GuardBatch::All => {
            GUARD_BATCH_WORKS.store(true, Ordering::Relaxed);
            return Some(n);
        }
        GuardBatch::Refused => NO_PROCESS_MADVISE.store(true, Ordering::Relaxed),
        GuardBatch::Partial => {}
    }
    // A partial install leaves guards in place, which a repeat installs again
    // harmlessly.
    None
}

/// Gives the pages of `a`'s touched free slots back to the kernel: one MADV_DONTNEED
/// per run of adjacent touched free slots (guards and guard markers stay). Slots
/// already given back break a run, so each page is walked once, not once per purge.
fn purge(a: &mut Arena) -> usize {
    a.free.sort_unstable();
    let mut released = 0usize;
    let mut run: Option<(usize, usize)> = None;
    for i in 0..=a.free.len() {
        let k = a.free.get(i).map(|&k| k as usize);
        let touched = k.map_or(0, |k| dirty_of(a.touched[k]));
        match (run, k) {
            (Some((first, next)), Some(k)) if touched > 0 && k == next => {
                run = Some((first, k + 1));
            }
            _ => {
                if let Some((first, end)) = run.take() {
                    let (lo, hi) = (a.slot_base(first), a.slot_base(end));
                    // SAFETY: [lo, hi) is a run of free slots of the arena: no G uses
                    // them and nothing of ours lives there (a free slot's descriptor
                    // is in the arena's own vectors).
                    unsafe { libc::madvise(lo as *mut _, hi - lo, libc::MADV_DONTNEED) };
                }
                if let (Some(k), true) = (k, touched > 0) {
                    run = Some((k, k + 1));
                }
            }
        }
        if let (Some(k), true) = (k, touched > 0) {
            released += core::mem::take(&mut a.touched[k]);
        }
    }
    a.dirty = 0;
    GSTACK_TOUCHED.fetch_sub(released as u64, Ordering::Release);
    released
}

/// Unmaps an empty arena that is on no list, and frees its descriptor.
///
/// # Safety
/// `ap` is off every list and no slot of it is in use.
unsafe fn unmap_arena(ap: *mut Arena) {
    // SAFETY: the caller's contract: nobody else reaches the arena.
    let a = unsafe { &mut *ap };
    let touched: usize = a.touched.iter().map(|&t| dirty_of(t)).sum();
    // Touched first, reserved last: the reverse of a carve (see stats::snapshot).
    GSTACK_TOUCHED.fetch_sub(touched as u64, Ordering::Release);
    GSTACK_RESERVED.fetch_sub((a.carved * a.slot) as u64, Ordering::Release);
    // SAFETY: the whole reservation is ours and unused.
    unsafe { libc::munmap(a.base as *mut _, a.len) };
    // SAFETY: boxed by new_arena, reachable from nowhere else now.
    unsafe { free_box(ap) };
}

/// Takes the arenas' lock for fork() (the atfork prepare handler), kept until the
/// parent's and the child's handlers release it with `note::unlock_raw`: the child
/// then finds the arenas' lists whole, not caught mid-change by another thread.
pub fn lock_for_fork() -> *const super::note::Mutex {
    ARENAS.lock().into_raw()
}

/// In a fork child, before any stack is dropped: forgets any holder of the arenas'
/// lock (the atfork handlers hold it across a fork through pthread_atfork; a fork
/// that bypassed them, e.g. a raw clone, may leave it taken by a thread that does
/// not exist here). Arenas that a scavenge took off the lists but had not unmapped
/// at the fork stay mapped in the child (address space only, shared copy-on-write).
///
/// # Safety
/// Called by the only thread of a fork child.
pub unsafe fn registry_after_fork() {
    // SAFETY: we are the only thread of a fork child (the # Safety contract), so nobody
    // can hold or take ARENAS' lock.
    unsafe { ARENAS.get_after_fork() };
}

impl GStack {
    /// In a fork child: lets go of a stack of the parent's without giving its slot back
    /// (see [`rebuild_after_fork`], which does).
    pub fn forget_after_fork(self) {
        valgrind::stack_deregister(self.vg_id);
        core::mem::forget(self);
    }
}

/// In a fork child, once every stack of the parent's runtime has been let go of with
/// `forget_after_fork` but those in `keep` (the stacks the child's thread may be
/// running on): every carved slot of every arena is free again but the kept ones.
///
/// The child cannot give the parent's stacks back one by one: the Ps' caches, the Gs'
/// stacks and the global cache changed under other threads while fork copied the
/// process page by page (no lock covers them), so the child may find a stack both on
/// a P's list and in the G that had just taken it. Given back twice, its slot was
/// handed to two Gs of the child, or its arena counted no stack in use and was
/// unmapped under the child's own thread (SIGSEGV), or a free list looped (rt_shutdown
/// spun forever). The arenas' own lists are whole (their lock is held across the
/// fork), so they are rebuilt from the slots alone.
///
/// # Safety
/// The only thread of a fork child, before the new runtime starts; no GStack of the
/// parent's exists any more but those in `keep`.
pub unsafe fn rebuild_after_fork(keep: &[Option<&GStack>]) {
    // SAFETY: the only thread of a fork child (our # Safety).
    let set = unsafe { ARENAS.get_after_fork() };
    let mut touched_total = 0usize;
    for st in keep.iter().flatten() {
        touched_total += st.hi - st.touched_lo;
    }
    set.dirty = 0;
    set.nempty = 0;
    for &ap in &set.all {
        // SAFETY: arenas on `all` are live, and ours alone here.
        let a = unsafe { &mut *ap };
        // The slots that were free stay as they were. The others were handed out in
        // the parent, maybe with their guard still to be installed outside the lock
        // (deferred): each gets its guard again before it is handed out (a guard
        // installed twice is harmless).
        a.free.sort_unstable();
        let mut fi = 0;
        for k in 0..a.carved {
            if fi < a.free.len() && a.free[fi] as usize == k {
                fi += 1;
            } else {
                a.touched[k] = UNGUARDED;
            }
        }
        a.free.clear();
        a.live = 0;
        for k in (0..a.carved).rev() {
            if keep
                .iter()
                .flatten()
                .any(|st| st.arena == ap && st.idx as usize == k)
            {
                a.live += 1;
            } else {
                // Never allocates: capacity nslots.
                a.free.push(k as u32);
            }
        }
        a.dirty = 0;
        for &k in &a.free {
            a.dirty += dirty_of(a.touched[k as usize]);
        }
        set.dirty += a.dirty;
        touched_total += a.dirty;
        if a.live == 0 && a.carved > 0 {
            set.nempty += 1;
        }
        if a.has_room() && !a.in_room {
            a.in_room = true;
            // Never allocates: new_arena keeps room's capacity at least all's length.
            set.room.push(ap);
        }
    }
    GSTACK_TOUCHED.store(touched_total as u64, Ordering::Release);
    SCAVENGE_PENDING.store(true, Ordering::Release);
}

/// Bytes of G stacks resident in memory, counted page by page with mincore over every
/// arena's carved slots (guards are never resident): exact at the moment each is
/// looked at. The ranges are copied out under the arenas' lock (a few words per 64
/// MiB), the walk runs without any lock, so Gs keep running, exiting and taking
/// stacks meanwhile: an arena unmapped after its range was copied counts zero
/// (mincore fails with ENOMEM on the hole, which is tolerated). mincore only reports
/// on the range; it never touches the memory, so a stale range is harmless.
pub fn resident_exact() -> u64 {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    loop {
        let n = ARENAS.lock().all.len();
        if ranges.try_reserve(n).is_err() {
            return GSTACK_TOUCHED.load(Ordering::Acquire);
        }
        let a = ARENAS.lock();
        if a.all.len() > ranges.capacity() {
            continue;
        }
        for &ap in &a.all {
            // SAFETY: arenas on `all` are live while the lock is held.
            let (base, used) = unsafe { ((*ap).base, (*ap).carved * (*ap).slot) };
            ranges.push((base, base + used));
        }
        break;
    }
    ranges
        .iter()
        .filter(|(lo, hi)| lo < hi)
        .map(|&(lo, hi)| resident_in(lo, hi) as u64)
        .sum()
}

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
    /// A stack of `size` usable bytes (page-rounded) with its guard, from an arena.
    pub fn alloc(size: usize) -> Result<GStack> {
        let size = round_up(size, page_size());
        let slot = size.checked_add(G_GUARD_SIZE).ok_or(Error::NoMem)?;
        let (arena, idx, touched, _) = ARENAS.lock().take(slot, false)?;
        Ok(GStack::from_slot(arena, idx, touched, size))
    }

    /// Up to `n` (at most [`ALLOC_BATCH`]) stacks of `size` usable bytes onto `out`,
    /// taken from the arenas under one hold of their lock: a P whose cache ran dry
    /// refills it at once instead of taking the lock (and, on fresh slots, a guard
    /// batch's system call) for every G while other Ps wait. At least one, or the
    /// error of the first that could not be had.
    pub fn alloc_batch(size: usize, n: usize, out: &mut StackList) -> Result<()> {
        let size = round_up(size, page_size());
        let slot = size.checked_add(G_GUARD_SIZE).ok_or(Error::NoMem)?;
        let n = n.clamp(1, ALLOC_BATCH);
        let mut got = [(ptr::null_mut::<Arena>(), 0usize, 0usize, false); ALLOC_BATCH];
        let mut k = 0;
        {
            let mut a = ARENAS.lock();
            while k < n {
                match a.take(slot, true) {
                    Ok(t) => got[k] = t,
                    Err(e) if k == 0 => return Err(e),
                    Err(_) => break,
                }
                k += 1;
            }
        }
        // Outside the lock: the guards of fresh slots, registering with valgrind, and
        // writing each free stack's list node into its own top page (its first touch).
        let k = install_deferred_guards(&mut got[..k])?;
        for &(arena, idx, touched, _) in &got[..k] {
            out.push(GStack::from_slot(arena, idx, touched, size));
        }
        Ok(())
    }

    fn from_slot(arena: *mut Arena, idx: usize, touched: usize, size: usize) -> GStack {
        // SAFETY: the arena lives while its slot is in use; base never changes.
        let lo = unsafe { (*arena).slot_base(idx) } + G_GUARD_SIZE;
        let hi = lo + size;
        let vg = valgrind::stack_register(lo, hi);
        GStack {
            arena,
            idx: idx as u32,
            lo,
            hi,
            vg_id: vg,
            touched_lo: hi - touched,
        }
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
        (self.lo - G_GUARD_SIZE, self.lo)
    }
}

impl Drop for GStack {
    fn drop(&mut self) {
        valgrind::stack_deregister(self.vg_id);
        ARENAS
            .lock()
            .give_back(self.arena, self.idx as usize, self.hi - self.touched_lo);
    }
}

/// Regression test (issue 7, found in review): rt_init in a fork child dropped the
/// per-P stack caches (p::free_all) before it reset REGISTRY's lock (in
/// g::forget_after_fork). If the registry lock was held at the fork (by a thread that
/// does not exist in the child), the child deadlocked in rt_init. The atfork handlers
/// now hold the arenas' lock across the fork themselves, so a fork made while another
/// thread holds it waits for that thread, and the child finds it free: the test holds
/// it from another thread for a moment around the fork. The alarm turns a deadlock
/// into a failure; MRT_TEST_NO_HOLD=1 runs the control without the held lock.
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
        // Another thread inside GStack::alloc/drop at the moment of fork: it holds the
        // lock until a moment after the fork began (fork_prepare waits for it).
        let hold = std::env::var("MRT_TEST_NO_HOLD").is_err();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let holder = hold.then(|| {
            std::thread::spawn(move || {
                let g = super::ARENAS.lock();
                held_tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
                drop(g);
            })
        });
        if hold {
            held_rx.recv().unwrap();
        }
        // SAFETY: the child only calls rt_init and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: an alarm in the child; SIGALRM's default action ends it.
            unsafe { libc::alarm(5) };
            let r = crate::runtime::init::init(crate::runtime::init::Request::default());
            // SAFETY: leaves the child without running the parent's exit handlers.
            unsafe { libc::_exit(if r.is_ok() { 0 } else { 2 }) };
        }
        if let Some(h) = holder {
            h.join().unwrap();
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "child of fork: rt_init did not finish (status {status:#x}; SIGALRM = deadlock)"
        );
    }
}
