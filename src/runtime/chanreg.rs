//! The channel registry: how a channel handle from the host is checked without
//! dereferencing anything the runtime does not own (Go does not check; this library
//! promises RT_EINVAL for a handle that is not a live channel).
//!
//! A handle is not the channel's address but a number: the index of a slot in a
//! table the runtime owns, and the slot's generation,
//! `handle = generation << 32 | (index + 1)`. The table is a fixed array of chunk
//! pointers (statically allocated, so a chunk index is checked by a bounds check)
//! whose chunks are allocated on demand and never freed. Looking a handle up is
//! arithmetic, a bounds check and three atomic loads, all of them in the table: no
//! lock, and no read of memory a host pointer names. A slot's generation is odd while
//! a channel lives in it and even while it is free; freeing a channel makes it even,
//! reusing the slot makes it odd again. So
//! - a made-up handle (NULL, `(rt_chan *)0x1000`, the address of anything) decodes to
//!   an even generation, an index beyond the table or an unallocated chunk, or a slot
//!   whose generation differs: RT_EINVAL;
//! - a freed handle stays invalid when its slot is reused by a new channel (the ABA
//!   case): the new channel has a later generation, hence a different handle. Only
//!   after a slot has been reused 2^31 times does a generation, and so a handle, come
//!   back.
//!
//! `make` and `free` take the registry lock (never a channel operation); a free runs
//! the channel's own check (nobody waits on it) under that lock, so two frees of one
//! handle cannot both free the channel.
//!
//! A host that uses a handle while another thread frees it breaks the API's contract
//! (as with any freed object): that race is not detected, but it is confined to the
//! registry's own memory and the channel.

use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use super::chan::Chan;
use super::error::{Error, Result};
use super::note::Mutex;

/// Slots per chunk, and chunks: at most 2^24 (16 Mi) channels live at once.
const CHUNK_SHIFT: u32 = 10;
const CHUNK_SLOTS: usize = 1 << CHUNK_SHIFT;
const NCHUNKS: usize = 1 << 14;
const NSLOTS: usize = CHUNK_SLOTS * NCHUNKS;

/// One slot: a channel and its generation (odd: live).
struct Slot {
    gen: AtomicU32,
    /// Next free slot + 1 (0: none). Only under [`REG`].
    next_free: AtomicU32,
    chan: AtomicPtr<Chan>,
}

type Chunk = [Slot; CHUNK_SLOTS];

static CHUNKS: [AtomicPtr<Chunk>; NCHUNKS] = [const { AtomicPtr::new(ptr::null_mut()) }; NCHUNKS];

/// Serialises `register` and `unregister`.
static REG: Mutex = Mutex::new();
/// Under REG: the free list's head (slot + 1, 0: empty) and how many slots have been
/// handed out at least once (the next fresh slot).
static FREE_HEAD: AtomicU32 = AtomicU32::new(0);
static USED: AtomicU32 = AtomicU32::new(0);

fn slot(idx: usize) -> Option<&'static Slot> {
    let chunk = CHUNKS.get(idx >> CHUNK_SHIFT)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a published chunk is never freed, and idx & mask is within it.
    Some(unsafe { &(*chunk)[idx & (CHUNK_SLOTS - 1)] })
}

fn handle(idx: usize, gen: u32) -> *mut c_void {
    (((gen as u64) << 32) | (idx as u64 + 1)) as usize as *mut c_void
}

/// The channel a handle names, if it names a live one. Reads only the registry.
#[inline]
pub fn lookup(h: *const c_void) -> Option<*mut Chan> {
    let v = h as usize as u64;
    let gen = (v >> 32) as u32;
    if gen & 1 == 0 {
        return None; // NULL, a low address, or a freed generation
    }
    let idx = (v as u32).wrapping_sub(1) as usize;
    let s = slot(idx)?;
    if s.gen.load(Ordering::Acquire) != gen {
        return None;
    }
    let c = s.chan.load(Ordering::Acquire);
    (!c.is_null()).then_some(c)
}

/// Allocates chunk `k` if it is not there yet. Under REG.
fn ensure_chunk(k: usize) -> Result<()> {
    if !CHUNKS[k].load(Ordering::Acquire).is_null() {
        return Ok(());
    }
    let layout = core::alloc::Layout::new::<Chunk>();
    // SAFETY: a non-zero-sized layout; all-zero bytes are a valid Chunk (atomics at
    // zero: generation 0, free, no channel).
    let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Chunk;
    if p.is_null() {
        return Err(Error::NoMem);
    }
    CHUNKS[k].store(p, Ordering::Release);
    Ok(())
}

/// Gives `c` a slot and returns its handle. Error::NoMem if the table is full or a
/// chunk cannot be allocated (nothing is changed then).
pub fn register(c: *mut Chan) -> Result<*mut c_void> {
    REG.lock();
    let r = register_locked(c);
    REG.unlock();
    r
}

fn register_locked(c: *mut Chan) -> Result<*mut c_void> {
    let head = FREE_HEAD.load(Ordering::Relaxed);
    let idx = if head != 0 {
        let idx = head as usize - 1;
        let Some(s) = slot(idx) else {
            super::throw("chan registry: a free slot has no chunk");
        };
        FREE_HEAD.store(s.next_free.load(Ordering::Relaxed), Ordering::Relaxed);
        idx
    } else {
        let idx = USED.load(Ordering::Relaxed) as usize;
        if idx >= NSLOTS {
            return Err(Error::NoMem);
        }
        ensure_chunk(idx >> CHUNK_SHIFT)?;
        USED.store(idx as u32 + 1, Ordering::Relaxed);
        idx
    };
    let Some(s) = slot(idx) else {
        super::throw("chan registry: a slot has no chunk");
    };
    // Publish the channel before the generation that makes the handle valid.
    s.chan.store(c, Ordering::Release);
    let gen = s.gen.load(Ordering::Relaxed).wrapping_add(1);
    s.gen.store(gen, Ordering::Release);
    Ok(handle(idx, gen))
}

/// Frees the channel `h` names with `free` (which may refuse, leaving it registered)
/// and, if it did, retires the handle. Error::Inval if `h` names no live channel.
pub fn unregister(h: *const c_void, free: impl FnOnce(*mut Chan) -> Result<()>) -> Result<()> {
    REG.lock();
    let r = unregister_locked(h, free);
    REG.unlock();
    r
}

fn unregister_locked(h: *const c_void, free: impl FnOnce(*mut Chan) -> Result<()>) -> Result<()> {
    let c = lookup(h).ok_or(Error::Inval)?;
    let idx = (h as usize as u32).wrapping_sub(1) as usize;
    let Some(s) = slot(idx) else {
        super::throw("chan registry: a live handle has no chunk");
    };
    // The channel's own check (nobody waits on it) decides; only then is the handle
    // retired, so that a refused free leaves every user of the channel undisturbed.
    free(c)?;
    s.gen.store(
        s.gen.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Release,
    );
    s.chan.store(ptr::null_mut(), Ordering::Release);
    s.next_free
        .store(FREE_HEAD.load(Ordering::Relaxed), Ordering::Relaxed);
    FREE_HEAD.store(idx as u32 + 1, Ordering::Relaxed);
    Ok(())
}

/// In the child of fork(): a thread of the parent may have held the lock.
pub fn reset_after_fork() {
    REG.reset_after_fork();
}
