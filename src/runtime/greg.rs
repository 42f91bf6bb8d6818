//! The G registry: how a G handle from the host (rt_getg, rt_park's callback,
//! rt_ready) is checked without dereferencing anything the runtime does not own.
//!
//! As with channels (`chanreg`), the host never sees a G's address. Every G
//! descriptor gets a slot in a runtime-owned table when it is first allocated (Gs are
//! never freed before rt_shutdown, so a slot keeps its G until then), and each time
//! the descriptor starts a new G (`G::prepare`) the slot's generation moves on. The
//! handle is `generation << 32 | G_TAG | (index + 1)`:
//! - a made-up value (NULL, `(rt_g *)0x1000`, any address below 4 GiB, a pointer
//!   with bit 31 clear, an index beyond the table or an unallocated chunk, a
//!   generation the slot does not have) names no G: rt_ready says RT_EINVAL having
//!   read only the table;
//! - a channel handle (`gen << 32 | index + 1` with index < 2^24) has G_TAG clear,
//!   and a G handle given as a channel decodes to an index beyond the channel table;
//! - the handle of a G that exited stays invalid once its descriptor runs a new G (the
//!   ABA case): the new G has the next generation, hence a different handle. Only after
//!   a descriptor has run 2^32 - 1 Gs does a handle come back.
//!
//! Looking a handle up is arithmetic, a bounds check and three atomic loads in the
//! table: no lock. Slots are handed out under the ALLGS lock, in the order Gs are
//! added to ALLGS (the index is ALLGS's length), and all of them are emptied when
//! ALLGS is (rt_shutdown, a fork child), so a handle of an earlier run is dead too;
//! generations survive that, so a later run's Gs never repeat an earlier run's handle.

use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

use super::error::{Error, Result};
use super::g::G;

/// Set in every G handle's low word, never in a channel handle's (its index is
/// below 2^24).
const G_TAG: u32 = 1 << 31;

/// Slots per chunk, and chunks: at most 2^26 (64 Mi) G descriptors at once.
const CHUNK_SHIFT: u32 = 12;
const CHUNK_SLOTS: usize = 1 << CHUNK_SHIFT;
const NCHUNKS: usize = 1 << 14;
const NSLOTS: usize = CHUNK_SLOTS * NCHUNKS;

/// One slot: a G descriptor and the generation of the G it runs now (0: none yet).
pub struct Slot {
    gen: AtomicU32,
    g: AtomicPtr<G>,
}

type Chunk = [Slot; CHUNK_SLOTS];

/// The registry's layout for the gdb extension (tools/gdb/mrt-gdb.py), which walks
/// it to list the Gs: chunk shift, number of chunks, slot size, offset of the G.
pub(crate) const GDB_LAYOUT: [usize; 4] = [
    CHUNK_SHIFT as usize,
    NCHUNKS,
    core::mem::size_of::<Slot>(),
    core::mem::offset_of!(Slot, g),
];

pub(crate) static CHUNKS: [AtomicPtr<Chunk>; NCHUNKS] =
    [const { AtomicPtr::new(ptr::null_mut()) }; NCHUNKS];

fn slot(idx: usize) -> Option<&'static Slot> {
    let chunk = CHUNKS.get(idx >> CHUNK_SHIFT)?.load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: a published chunk is never freed, and idx & mask is within it.
    Some(unsafe { &(*chunk)[idx & (CHUNK_SLOTS - 1)] })
}

/// The live G a handle names, if any. Reads only the registry.
#[inline]
pub fn lookup(h: *const core::ffi::c_void) -> Option<*mut G> {
    let v = h as usize as u64;
    let low = v as u32;
    let gen = (v >> 32) as u32;
    if low & G_TAG == 0 || gen == 0 {
        return None;
    }
    let s = slot(((low & !G_TAG) as usize).wrapping_sub(1))?;
    if s.gen.load(Ordering::Acquire) != gen {
        return None;
    }
    let g = s.g.load(Ordering::Acquire);
    (!g.is_null()).then_some(g)
}

/// Gives a new G descriptor slot `idx` (ALLGS's length, under its lock). Error::NoMem
/// if the table is full or a chunk cannot be allocated. Returns the slot and the
/// descriptor's first `handle` value: no G's (its low word is 0), carrying the slot's
/// generation for [`renew`].
pub fn register(idx: usize, gp: *mut G) -> Result<(&'static Slot, usize)> {
    if idx >= NSLOTS {
        return Err(Error::NoMem);
    }
    let k = idx >> CHUNK_SHIFT;
    if CHUNKS[k].load(Ordering::Acquire).is_null() {
        let layout = core::alloc::Layout::new::<Chunk>();
        // SAFETY: a non-zero-sized layout; all-zero bytes are a valid Chunk (atomics
        // at zero: generation 0, no G).
        let p = unsafe { std::alloc::alloc_zeroed(layout) } as *mut Chunk;
        if p.is_null() {
            return Err(Error::NoMem);
        }
        CHUNKS[k].store(p, Ordering::Release);
    }
    let Some(s) = slot(idx) else {
        super::throw("G registry: a slot has no chunk");
    };
    s.g.store(gp, Ordering::Release);
    Ok((s, (s.gen.load(Ordering::Relaxed) as usize) << 32))
}

/// A descriptor starts a new G: moves its slot to the next generation and returns
/// the new handle. `prev` is the descriptor's previous handle (or what [`register`]
/// returned), whose high word is the slot's generation: only the descriptor's owner
/// moves it on (newproc, before the G is published; `clear` only once every
/// descriptor is gone), so the slot is written, never read. The slot is out of the
/// cache when a descriptor comes back from the free list, and a load there stalled
/// every spawn; a store does not.
#[inline]
pub fn renew(s: &Slot, idx: u32, prev: usize) -> usize {
    let mut gen = ((prev as u64 >> 32) as u32).wrapping_add(1);
    if gen == 0 {
        gen = 1;
    }
    s.gen.store(gen, Ordering::Release);
    handle(gen, idx)
}

/// The handle of the G of generation `gen` in slot `idx`.
#[inline]
fn handle(gen: u32, idx: u32) -> usize {
    (((gen as u64) << 32) | (G_TAG | (idx + 1)) as u64) as usize
}

/// Empties slots [0, n) (every G is about to be freed, or forgotten in a fork child)
/// and retires their generations: no handle names a G any more, nor will when the
/// slots take new descriptors. Under the ALLGS lock, or in a fork child.
pub fn clear(n: usize) {
    for idx in 0..n {
        if let Some(s) = slot(idx) {
            s.g.store(ptr::null_mut(), Ordering::Release);
            let gen = s.gen.load(Ordering::Relaxed);
            renew(s, idx as u32, handle(gen, idx as u32));
        }
    }
}
