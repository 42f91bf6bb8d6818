//! The execution trace (Go's runtime/trace, written as Chrome trace-event JSON that
//! Perfetto and chrome://tracing open): rt_trace_start / rt_trace_stop and
//! `$MRT_TRACE=path` for a whole run.
//!
//! # Recording
//! Scheduler events are compact binary records (a byte of kind and reason, then
//! varints: the time since the buffer's previous event and only the fields the kind
//! has, G ids and objects as differences from the previous ones; 3 to 10 bytes for
//! most, see [`decode`]) appended to a buffer that belongs to the M which observed
//! them ([`MTrace`], a field of every M); threads that are no M (a foreign thread's
//! rt_go or rt_chan_send waking a G) share one buffer under a lock. Nothing is
//! formatted on the way in: an event is a read of the CPU's time-stamp counter
//! (`arch::cputicks`, where the kernel's clocksource is the TSC; else clock_gettime)
//! and a few stores, written with one bounds check per record. Two things keep the
//! hot paths (a ping-pong's wake and switch) cheap: the end of a G's run at a park
//! takes the time the park site stamped anyway (g::set_wait, for rt_dump) instead
//! of reading the clock again; and a wake by a running G is held back by one record
//! ([`Ready`]), so that a G which wakes another and then blocks, switching to it,
//! writes one WokeSwitch record for the wake and the switch (the wake's flow arrow
//! included; in a ping-pong's steady state the wake reads no clock and is placed at
//! the switch, see [`Ready`]). When that switch is the mirror of the
//! lane's previous one (same P, the Gs the other way round, the wait object of the
//! switch before: each half of a ping-pong) it is a ShortSwitch of three bytes that
//! leaves out what the decoder knows ([`Chain::mirrors`]), or of two (a TwinSwitch:
//! no wake time) when its wake read no clock, as in a ping-pong's steady state, or
//! of one (a TinySwitch: its time in the head byte, its `why` the one of the park
//! on the same object before) when the time since the last record is short, as a
//! ping-pong's half is: fewer bytes to store and, more so, to write out (the
//! buffers' pwrite was a fifth of the trace's cost on a ping-pong). A spawn burst has forms of its
//! own too: a G that exits (or yields) into the next one writes a ChainSwitch of
//! three bytes ([`Chain::chains`]), and seven Creates in eight of a burst by one G
//! read no clock and take one byte each, placed by the decoder at the time of the
//! record before them ([`Buf::put_create`]). A full buffer (`BUF_BYTES`) is
//! written raw, with one pwrite at an offset reserved by an atomic add,
//! to an unlinked scratch file beside the trace: no lock and one system call per
//! buffer, never per event. rt_trace_stop writes the last buffers the same way, then
//! reads the scratch file back and writes the JSON (so the cost of formatting falls
//! on the stop, not on the traced program), converting ticks to time against
//! nanotime read at the start and at the stop.
//!
//! When tracing is off every hook costs one relaxed load of [`ON`] and a branch.
//!
//! # Stopping without a lock or a fence per event
//! An M's buffer is touched only by its own thread while `busy` is set. The emitter
//! sets `busy` and then re-reads `ON`; rt_trace_stop clears `ON` and then waits for
//! every M's `busy` to clear. That is Dekker's pattern (a store, then a load, on each
//! side), which needs a #StoreLoad fence on both sides; the emitter's would cost a
//! locked instruction per event. The stopper pays for both instead: after clearing
//! `ON` it calls membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a full
//! fence on every thread of the process that is running at that moment (a thread
//! that is not running has passed one in its context switch), so the emitter needs
//! only a compiler fence. Either the emitter sees tracing off and leaves its buffer
//! alone, or the stopper sees it busy and waits for it; once `ON` is false and `busy`
//! clear, the stopper owns the buffer. Where membarrier is missing (an old kernel,
//! valgrind) rt_trace_start says so by setting `ON` to [`ON_STRONG`] rather than
//! [`ON_FAST`] or [`ON_WEAK`], and an emitter that reads that fences itself (a SeqCst
//! fence after its store of `busy`, then `ON` again): one load of `ON` tells an
//! emitter both whether tracing is on and which fence it needs ([`ON_FAST`] also that
//! the clock is the time-stamp counter, which every fast path needs). A trace has a generation number; a buffer
//! (or an open G slice) of another generation is stale and dropped. The scratch file
//! is closed only once no M is busy, so no late write can reach a descriptor number
//! the process reused.
//!
//! # Lanes
//! pid 1 holds one lane per M (tid = M id; tid 0 = threads that are no M), pid 2 one
//! lane per P (tid = P id). A G's run is a slice "G<id>" on its M's lane and on its
//! P's lane; the slice's end says why it ended (`why`: yield, preempted, exit,
//! syscall, or the wait reason of a park). A system call is a nested "syscall"
//! slice on the M lane, while the P lane's slice ends (the P is released). A wake is
//! a 1 ns "ready G<id>" slice on the waker's lane with a flow arrow ("s"/"f",
//! category "wake") to the G's next run. Creation, steals, netpoll results, timers
//! fired, preemption requests and hand-offs are instant events.
//!
//! # Cost
//! Off: one relaxed load per hook (of a cache line of its own, [`Hot`]). On: a
//! time-stamp read and a record per event (a G-to-G switch is one record, with the
//! wake that led to it); `bench/run.sh :trace` measures both. The two hooks of a
//! ping-pong's half have paths that make no call (no register to save, no clock
//! read): the wake's common case in go_unblock_slow and the switch's
//! [`short_switch`] (a TwinSwitch: its time from the park's stamp in one step,
//! [`Buf::put_twin_switch`]); anything else takes the general path. Each tests one
//! value of `ON` ([`ON_FAST`]) for membarrier and the clock together.
//!
//! # fork
//! A fork child does not inherit a running trace: the atfork child handler turns
//! tracing off there and closes the child's copy of the file without writing, and
//! events the parent had buffered are dropped in the child (they are the parent's,
//! which still writes them). `$MRT_TRACE` is honoured once per process, by its first
//! rt_init, so a child's rt_init does not overwrite the parent's file; a child that
//! wants a trace calls rt_trace_start with its own path.

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};

use super::error::{Error, Result};
use super::g::{WaitReason, G, WAIT_TSC_MASK};
use super::m::M;
use super::note::Lock;
use super::time::nanotime;
use super::tls;

/// What the hooks read at every event, on a cache line of its own: when a change of
/// this file's statics let the linker put them on a line with the scheduler's
/// (sched::IN_SCHEDULER .. NMSPINNING, which the scheduler writes), a ping-pong round
/// trip with tracing on took 25 ns more CPU time; and the load of `on` is the whole
/// cost of a hook when tracing is off.
/// `on`: tracing is on ([`ON_FAST`], [`ON_WEAK`] or [`ON_STRONG`]) or off (0), read
/// relaxed by every hook. `gen`: the current trace's generation (0: none yet). `tsc`:
/// timestamps are `arch::cputicks`, not nanotime.
#[repr(C, align(64))]
struct Hot {
    on: AtomicU8,
    tsc: AtomicBool,
    gen: AtomicU64,
}

static HOT: Hot = Hot {
    on: AtomicU8::new(0),
    tsc: AtomicBool::new(false),
    gen: AtomicU64::new(0),
};
/// The hooks' flag (see [`Hot`]).
static ON: &AtomicU8 = &HOT.on;
/// `ON`: tracing is on, rt_trace_stop fences every thread with membarrier, so
/// emitters need only a compiler fence (module comment), and the clock is the
/// time-stamp counter ([`TSC`]): what every fast path needs, told by one compare.
const ON_FAST: u8 = 1;
/// `ON`: tracing is on without membarrier: emitters fence themselves.
const ON_STRONG: u8 = 2;
/// `ON`: as [`ON_FAST`] (membarrier), but the clock is not the counter. (Both have
/// the low bit set, [`ON_STRONG`] not.)
const ON_WEAK: u8 = 3;
const _: () = assert!(ON_FAST & ON_WEAK & 1 != 0 && ON_STRONG & 1 == 0);
/// The current trace's generation (see [`Hot`]).
static GEN: &AtomicU64 = &HOT.gen;
/// Events dropped because a buffer could not be allocated.
static LOST: AtomicU64 = AtomicU64::new(0);
/// Timestamps are `arch::cputicks`, not nanotime (see [`Hot`]).
static TSC: &AtomicBool = &HOT.tsc;
/// The scratch file of raw buffers (-1: none), the next free offset in it, and
/// whether a write to it failed.
static RAW_FD: AtomicI32 = AtomicI32::new(-1);
static RAW_OFF: AtomicU64 = AtomicU64::new(0);
static RAW_FAILED: AtomicBool = AtomicBool::new(false);

/// Bytes per buffer, and the most one record takes (a byte of kind and reason, a
/// time and at most six fields, each a varint of up to 10 bytes).
const BUF_BYTES: usize = 64 << 10;
const MAX_REC: usize = 1 + 7 * 10;
/// Times are recorded in units of 2^TICK_SHIFT clock ticks (about 5 ns at 3 GHz;
/// Go's trace uses 64 ticks): one byte holds most deltas between events.
const TICK_SHIFT: u32 = 4;
/// Marks a buffer's header in the scratch file (ASCII mrtb).
const RAW_MAGIC: u64 = 0x6d72_7462;
/// The JSON is written out once this much of it is waiting (the writer's buffer
/// has room for this and the largest piece of an event beyond it).
const OUT_FLUSH: usize = 1 << 20;

/// Why a G's run ended that is not a wait: the record's `why` is a [`WaitReason`]
/// (below `Cause::Yield`) for a park, or one of these; it takes 4 bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Cause {
    Yield = 9,
    Preempted,
    Exit,
    /// Left a system call with no P: queued, its M parks.
    SyscallNoP,
}

const _: () = assert!((WaitReason::HostPark as u8) < Cause::Yield as u8);
const _: () = assert!((Cause::SyscallNoP as u8) < CHAIN_EXIT_BARE);

/// A Timers record's `why` that makes it a Netpoll (see [`Kind::Netpoll`]).
const TIMERS_NETPOLL: u8 = 1;

/// A ChainSwitch's `why` for an exit, and for a yield, into a G with no wake to end
/// (flow 0, not written): a new G, as in a spawn burst (see [`Kind::Start`]).
const CHAIN_EXIT_BARE: u8 = 13;
const CHAIN_YIELD_BARE: u8 = 14;

/// The name of a `why` (see [`Cause`]).
fn why_name(why: u8) -> &'static str {
    match why {
        w if w == Cause::Yield as u8 => "yield",
        w if w == Cause::Preempted as u8 => "preempted",
        w if w == Cause::Exit as u8 => "exit",
        w if w == Cause::SyscallNoP as u8 => "syscall (no P)",
        w => WaitReason::from_u8(w).trace_name(),
    }
}

/// Who made a G runnable.
#[derive(Clone, Copy)]
#[repr(u8)]
pub enum Src {
    /// A G (`by` is its id) or a thread that is no G (`by` 0).
    Waker = 0,
    Timer,
    Netpoll,
}

#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    /// A ShortSwitch whose wake read no clock (see [`Ready`]): the wake is placed at
    /// the switch, so not even its time is written (two bytes: a ping-pong's steady
    /// state).
    TwinSwitch = 0,
    Create,
    Name,
    /// A G starts (`why` 0). With a `why` that is not 0 it is a ChainSwitch instead:
    /// a Switch with no wait object whose stopping G is the one the lane's last
    /// switch started, on that switch's P ([`Chain::chains`]): a G that exits or
    /// yields into the next, as each G of a spawn burst does. Only the starting G
    /// and its flow are written; no flow for an exit or a yield to a G with no wake
    /// to end ([`CHAIN_EXIT_BARE`], [`CHAIN_YIELD_BARE`]: three bytes).
    Start,
    Stop,
    Unblock,
    SyscallEnter,
    SyscallExit,
    Steal,
    /// A TwinSwitch of one byte: its time since the buffer's last record, in the
    /// buffer's units, in the high 4 bits instead of a `why` and a varint (below
    /// 16: half a ping-pong's round trip takes about 8), its `why` the one of the
    /// switch before the last that had a wait object ([`Chain::w2`], the same
    /// park on the same object: a ping-pong's steady state). The trace's bytes
    /// are most of what it costs a ping-pong beyond the hooks (writing them out).
    TinySwitch,
    Timers,
    PreemptReq,
    Handoff,
    /// A G-to-G switch: `g` stops (`why`, `b`), `a` starts (flow `c`).
    Switch,
    /// A Switch to a G that the stopping G made runnable since the M's previous
    /// record: the wake and the switch in one record (decoded as both).
    WokeSwitch,
    /// A WokeSwitch that is the mirror of the lane's previous switch, as each half of
    /// a ping-pong is: on the same P, the G that the previous switch started stops,
    /// the one it stopped starts, and it parks on the object the stopping G of the
    /// switch before parked on (see [`Chain`]). Only the time of the wake is written.
    ShortSwitch,
    /// No record of its own: a Timers record with `why` 1 (only its `a`, the Gs
    /// readied), decoded to this kind.
    Netpoll,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        const ALL: [Kind; 17] = [
            Kind::TwinSwitch,
            Kind::Create,
            Kind::Name,
            Kind::Start,
            Kind::Stop,
            Kind::Unblock,
            Kind::SyscallEnter,
            Kind::SyscallExit,
            Kind::Steal,
            Kind::TinySwitch,
            Kind::Timers,
            Kind::PreemptReq,
            Kind::Handoff,
            Kind::Switch,
            Kind::WokeSwitch,
            Kind::ShortSwitch,
            Kind::Netpoll,
        ];
        ALL.get(v as usize).copied()
    }
}

/// One decoded record: `p` is the P lane it also goes on (-1: none), `kind` a
/// [`Kind`], and `g`, `a`, `b`, `c` what that kind carries (see [`decode`]; a flow
/// id is the JSON's: G id << 32 | its wake number).
#[derive(Clone, Copy, Default, Debug)]
struct Ev {
    ts: i64,
    kind: u8,
    why: u8,
    p: i32,
    g: i64,
    a: i64,
    b: u64,
    c: u64,
}

/// A buffer of encoded records: `bytes` has BUF_BYTES of capacity, filled to its
/// length; `last_ts` is the time of the last record (in units of 2^TICK_SHIFT
/// ticks) and `chain` what the next G id, wait object and start function are
/// stored relative to. `pending` is a wake not yet written (see
/// [`Ready`]). With no memory yet ([`Buf::EMPTY`]) its `gen` is 0, which no trace
/// has: the one test of `gen` that an event makes tells both.
struct Buf {
    gen: u64,
    bytes: Vec<u8>,
    last_ts: i64,
    chain: Chain,
    pending: Option<Ready>,
    /// The last wake held back on this buffer went into a switch record (a
    /// ping-pong): the next wake by a G does not read the clock (see [`Ready`]).
    fusing: bool,
    /// A spawn burst (see [`Buf::put_create`]): the length of the bytes right after
    /// the last Create written by `put_create` (usize::MAX: none), its creator, and
    /// how many more Creates may follow it with no time of their own.
    create_end: usize,
    create_by: i64,
    untimed_left: u8,
}

/// How many Creates in a row may follow a timed one with no time of their own (see
/// [`Buf::put_create`]): one in CREATE_UNTIMED + 1 of a spawn burst reads the clock.
const CREATE_UNTIMED: u8 = 7;

impl Buf {
    const EMPTY: Buf = Buf {
        gen: 0,
        bytes: Vec::new(),
        last_ts: 0,
        chain: Chain::EMPTY,
        pending: None,
        fusing: false,
        create_end: usize::MAX,
        create_by: 0,
        untimed_left: 0,
    };
}

/// The last wait object, G id and start function written to a buffer: the next of
/// each is stored as its difference from it (see [`Cur::obj`]). And what the last
/// G-to-G switch written to it was (`p`, the stopping G [`prev`](Chain::prev), the
/// starting G [`cur`](Chain::cur)) with the wait objects of it and of the switch
/// before it (the latter [`o2`](Chain::o2); a switch with no object leaves them): a
/// switch that mirrors it is a [`Kind::ShortSwitch`].
///
/// The two Gs are kept in `gs` and the two objects in `os` (with the `why` of the
/// switch that parked on each in `ws`), which of each is which told by `flip`: a
/// mirror switch swaps the pairs, so it only flips `flip` (one store on a
/// ping-pong's path instead of four).
#[derive(Clone, Copy, Default)]
struct Chain {
    obj: u64,
    g: i64,
    f: u64,
    p: i64,
    gs: [i64; 2],
    os: [u64; 2],
    ws: [u8; 2],
    flip: usize,
}

impl Chain {
    const EMPTY: Chain = Chain {
        obj: 0,
        g: 0,
        f: 0,
        p: 0,
        gs: [0; 2],
        os: [0; 2],
        ws: [0; 2],
        flip: 0,
    };

    /// The stopping G of the last switch.
    #[inline(always)]
    fn prev(&self) -> i64 {
        self.gs[self.flip & 1]
    }

    /// The starting G of the last switch.
    #[inline(always)]
    fn cur(&self) -> i64 {
        self.gs[(self.flip ^ 1) & 1]
    }

    /// The wait object of the switch before the last one that had one (`os[flip]`
    /// is the last one's).
    #[inline(always)]
    fn o2(&self) -> u64 {
        self.os[(self.flip ^ 1) & 1]
    }

    /// The `why` of the switch that parked on [`o2`](Chain::o2).
    #[inline(always)]
    fn w2(&self) -> u8 {
        self.ws[(self.flip ^ 1) & 1]
    }

    /// Notes a switch on P `p` from G `g` (parked on `obj`, 0: none, for `why`) to G
    /// `a`: the encoder and the decoder both call this for every switch record (or
    /// [`mirrored`](Chain::mirrored) for a mirror, to the same effect).
    #[inline(always)]
    fn switched(&mut self, p: i64, g: i64, obj: u64, a: i64, why: u8) {
        self.p = p;
        if obj != 0 {
            // The last object becomes the one before, `obj` the last.
            self.flip ^= 1;
            self.os[self.flip & 1] = obj;
            self.ws[self.flip & 1] = why;
        }
        self.gs[self.flip & 1] = g;
        self.gs[(self.flip ^ 1) & 1] = a;
    }

    /// [`switched`](Chain::switched) for a switch that [`mirrors`](Chain::mirrors)
    /// the last one, for `why`: its Gs are the last switch's the other way round and
    /// its object the one before the last, so the pairs swap (and the `why` is
    /// stored only if it is not the one before the last, [`w2`](Chain::w2)).
    #[inline(always)]
    fn mirrored(&mut self, why: u8) {
        self.flip ^= 1;
        if self.ws[self.flip & 1] != why {
            self.ws[self.flip & 1] = why;
        }
    }

    /// Whether a switch on `p` from `g`, for `why`, with no wait object, follows the
    /// last one: `g` is the G that switch started, on the same P (a ChainSwitch, see
    /// [`Kind::Start`]). (`g` is never 0, which an empty chain holds: G ids start at
    /// 1.)
    #[inline(always)]
    fn chains(&self, p: i64, g: i64, why: u8) -> bool {
        p == self.p && g == self.cur() && why != 0
    }

    /// Whether a switch on `p` from `g` (parked on `obj`) to `a` mirrors the last
    /// one (see [`Kind::ShortSwitch`]).
    #[inline(always)]
    fn mirrors(&self, p: i64, g: i64, obj: u64, a: i64) -> bool {
        p == self.p && g == self.cur() && a == self.prev() && obj == self.o2() && obj != 0
    }
}

/// A wake by the G running on the buffer's M (`by`) of G `g`, flow id `id`, at
/// `ts` (clock ticks), held back by one record: if that record is the switch from
/// `by` to `g` (a G that wakes another and then blocks, as in a ping-pong), both go
/// into one WokeSwitch record; otherwise the wake is written on its own just before
/// it. Either way the wake stays in the order of the M's events.
///
/// The wake's time: read from the clock (`timed`), unless the buffer's previous
/// held-back wake went into a switch record (`Buf::fusing`, a ping-pong's steady
/// state), when the clock is not read (a time-stamp read costs a few ns, a few
/// percent of a ping-pong round trip) and `ts` is only a lower bound, the buffer's
/// last record. Such a wake is placed at the switch it goes into (when the woken G
/// starts: the waker parked right after it), or, written on its own, at its lower
/// bound: the later of that last record and the woken G's park (`parked`, the
/// stamp set_wait took, which its Stop record also has), so that it comes neither
/// before the woken G's park nor after its next start, on any M. The next wake
/// reads the clock again. So a wake is at most one stretch of the waker's run away
/// from its true time.
#[derive(Clone, Copy)]
struct Ready {
    g: i64,
    by: i64,
    id: u32,
    ts: i64,
    timed: bool,
    parked: u64,
}

impl Buf {
    fn reset(&mut self, gen: u64) {
        self.bytes.clear();
        self.last_ts = 0;
        self.chain = Chain::default();
        self.fusing = false;
        self.create_end = usize::MAX;
        self.untimed_left = 0;
        if self.gen != gen {
            self.pending = None;
        }
        self.gen = gen;
    }

    /// Holds back the wake of G `g` (flow number `id`; `parked`: the stamp of its
    /// park, set_wait's, as `G::wait_info` gives it) by G `by`, the buffer's M's
    /// running G, at `now()` or, if the last one went into a switch, with no clock
    /// read (see [`Ready`]). The buffer has room for a record.
    #[inline(always)]
    fn hold_wake(&mut self, g: i64, by: i64, id: u32, parked: u64, now: impl FnOnce() -> i64) {
        self.put_pending();
        let timed = !self.fusing || self.last_ts == 0;
        self.pending = Some(Ready {
            g,
            by,
            id,
            ts: if timed {
                now()
            } else {
                self.last_ts << TICK_SHIFT
            },
            timed,
            parked,
        });
    }

    /// Writes out the held-back wake, if any (the buffer has room for a record).
    #[inline(always)]
    fn put_pending(&mut self) {
        if self.pending.is_some() {
            self.put_pending_slow();
        }
    }

    #[inline(never)]
    fn put_pending_slow(&mut self) {
        if let Some(r) = self.pending.take() {
            // Not a ping-pong (any more): the next wake reads the clock.
            self.fusing = false;
            // An untimed wake: at its lower bound, the later of the buffer's last
            // record when it was held and the woken G's park (see Ready).
            let ts = if r.timed || !TSC.load(Ordering::Relaxed) {
                r.ts
            } else {
                When::Stamp(r.parked).ticks(r.ts >> TICK_SHIFT)
            };
            // SAFETY: the caller's room (see [`put`]).
            self.encode(Kind::Unblock, Src::Waker as u8, ts, |c, _| unsafe {
                c.gid(r.g);
                c.uv(r.id as u64);
                c.uv(r.by as u64);
            });
        }
    }

    /// The buffer's part of [`record_switch`]: the record at time `ts` (clock ticks).
    /// The ShortSwitch of a ping-pong and the plain Switch of an exit or a yield are
    /// built inline, the rarer WokeSwitch out of line.
    ///
    /// The buffer has room for two records (the held-back wake and the switch).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn put_switch(&mut self, why: u8, ts: i64, p: i64, g: i64, obj: u64, a: i64, flow: u64) {
        match self.pending {
            Some(r) if r.by == g && r.g == a => {
                if !self.chain.mirrors(p, g, obj, a) {
                    return self.put_woke_switch(why, ts, p, g, obj, a);
                }
                self.put_short_switch(why, ts, r)
            }
            _ => self.put_plain_switch(why, ts, p, g, obj, a, flow),
        }
    }

    /// [`put_switch`]'s ShortSwitch: the held-back wake `r` is the stopping G's of
    /// the starting one and the switch mirrors the last one ([`Chain::mirrors`]).
    #[inline(always)]
    fn put_short_switch(&mut self, why: u8, ts: i64, r: Ready) {
        self.pending = None;
        if !self.fusing {
            self.fusing = true;
        }
        if !r.timed {
            // The wake is placed at the switch (see Ready): a TwinSwitch.
            let d = self.advance(ts);
            return self.put_twin(why, d);
        }
        // SAFETY: a ShortSwitch's field fits in MAX_REC.
        self.encode(Kind::ShortSwitch, why, ts, |c, t| unsafe {
            // An untimed wake is placed at the switch (see Ready).
            let woke = if r.timed { r.ts } else { t };
            c.uv(((t >> TICK_SHIFT) - (woke >> TICK_SHIFT)).max(0) as u64);
            c.1.mirrored(why);
        });
    }

    /// A TwinSwitch (see [`put_short_switch`](Buf::put_short_switch)) at the park's
    /// stamp `stamp` (set_wait's; the buffer has a last time and its clock is the
    /// counter), its held-back wake already taken: [`stamp_ticks`] and
    /// [`advance`](Buf::advance) in one (a stamp's time is never before the last
    /// record's, so the delta is the stamp's distance from it, or 0).
    ///
    /// The buffer has MAX_REC bytes of spare capacity (the caller checks).
    #[inline(always)]
    fn put_twin_switch(&mut self, why: u8, stamp: u64) {
        let last = self.last_ts;
        let d = stamp.wrapping_sub((last << TICK_SHIFT) as u64) & WAIT_TSC_MASK;
        let d = if d > WAIT_TSC_MASK / 2 {
            0
        } else {
            d >> TICK_SHIFT
        };
        self.last_ts = last + d as i64;
        self.put_twin(why, d)
    }

    /// The bytes of a TwinSwitch for `why`, `d` (in the buffer's units) after the
    /// last record, whose time the buffer already has: one byte (a TinySwitch)
    /// where `d` fits in 4 bits and `why` is the chain's [`w2`](Chain::w2), else
    /// two or more.
    ///
    /// The buffer has MAX_REC bytes of spare capacity (the caller checks).
    #[inline(always)]
    fn put_twin(&mut self, why: u8, d: u64) {
        let len = self.bytes.len();
        // SAFETY: a byte and a varint at most (the caller's MAX_REC); the bytes up
        // to the new length are written before set_len.
        unsafe {
            let start = self.bytes.as_mut_ptr().add(len);
            if d < 16 && why == self.chain.w2() {
                start.write(Kind::TinySwitch as u8 | (d as u8) << 4);
                self.chain.flip ^= 1;
                self.bytes.set_len(len + 1);
                return;
            }
            let mut c = Cur(start, &mut self.chain);
            c.byte(Kind::TwinSwitch as u8 | why << 4);
            c.uv(d);
            c.1.mirrored(why);
            self.bytes.set_len(len + c.0.offset_from(start) as usize);
        }
    }

    /// [`put_switch`]'s WokeSwitch: the held-back wake is `g`'s of `a`.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn put_woke_switch(&mut self, why: u8, ts: i64, p: i64, g: i64, obj: u64, a: i64) {
        let Some(r) = self.pending.take() else {
            return;
        };
        self.fusing = true;
        // SAFETY: a switch's fields fit in MAX_REC.
        self.encode(Kind::WokeSwitch, why, ts, |c, t| unsafe {
            c.sv(p);
            c.gid(g);
            c.obj(obj);
            c.gid(a);
            // An untimed wake is placed at the switch (see Ready).
            let woke = if r.timed { r.ts } else { t };
            c.uv(((t >> TICK_SHIFT) - (woke >> TICK_SHIFT)).max(0) as u64);
            c.1.switched(p, g, obj, a, why);
        });
    }

    /// [`put_switch`]'s Switch (no wake of `a` by `g` held back: a G's exit or
    /// yield to the next).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn put_plain_switch(&mut self, why: u8, ts: i64, p: i64, g: i64, obj: u64, a: i64, flow: u64) {
        self.put_pending();
        if obj == 0 {
            return self.put_switch_no_obj(why, ts, p, g, a, flow);
        }
        // SAFETY: a switch's fields fit in MAX_REC.
        self.encode(Kind::Switch, why, ts, |c, _| unsafe {
            c.sv(p);
            c.gid(g);
            c.obj(obj);
            c.gid(a);
            c.uv(flow);
            c.1.switched(p, g, obj, a, why);
        });
    }

    /// Moves the buffer's time to that of a record at `ts` (clock ticks; one before
    /// the last record's counts as no time, so that a lane's time never decreases)
    /// and returns the record's delta, in the buffer's units.
    #[inline(always)]
    fn advance(&mut self, ts: i64) -> u64 {
        let q = (ts >> TICK_SHIFT).max(self.last_ts);
        let d = q - self.last_ts;
        self.last_ts = q;
        d as u64
    }

    /// A Switch with no wait object at `ts` (clock ticks): a ChainSwitch where it
    /// follows the last switch ([`Chain::chains`]). Written in place, not through
    /// [`encode`](Buf::encode) (whose closure the compiler may leave out of line): a
    /// spawn burst's every G ends with one.
    ///
    /// The buffer has MAX_REC bytes of spare capacity (the caller checks).
    #[inline(always)]
    fn put_switch_no_obj(&mut self, why: u8, ts: i64, p: i64, g: i64, a: i64, flow: u64) {
        let d = self.advance(ts);
        let len = self.bytes.len();
        // SAFETY: MAX_REC bytes of spare capacity past the length (the caller's
        // check) and a switch takes at most that; the bytes up to the new length
        // are written before set_len.
        unsafe {
            let start = self.bytes.as_mut_ptr().add(len);
            let mut c = Cur(start, &mut self.chain);
            if c.1.chains(p, g, why) {
                // An exit or a yield into a G that no wake made runnable (a new G):
                // a `why` of its own says so, and no flow is written.
                let bare = match why {
                    _ if flow != 0 => why,
                    w if w == Cause::Exit as u8 => CHAIN_EXIT_BARE,
                    w if w == Cause::Yield as u8 => CHAIN_YIELD_BARE,
                    w => w,
                };
                c.byte(Kind::Start as u8 | bare << 4);
                c.uv(d);
                c.gid(a);
                if bare == why {
                    c.uv(flow);
                }
                c.1.switched(p, g, 0, a, why);
                self.bytes.set_len(len + c.0.offset_from(start) as usize);
                return;
            } else {
                c.byte(Kind::Switch as u8 | why << 4);
                c.uv(d);
                c.sv(p);
                c.gid(g);
                c.obj(0);
            }
            c.gid(a);
            c.uv(flow);
            c.1.switched(p, g, 0, a, why);
            self.bytes.set_len(len + c.0.offset_from(start) as usize);
        }
    }

    /// A Create of G `g` (start function `f`) by G `by`, at `now()` (clock ticks),
    /// written in place as [`put_switch_no_obj`](Buf::put_switch_no_obj) is.
    ///
    /// In a spawn burst it reads no clock seven times in eight: a Create that comes
    /// right after one written here (nothing else on the buffer in between), by the
    /// same G, of the same function, of the G with the next id, and within
    /// [`CREATE_UNTIMED`] of the last that read the clock, is a CreateNext of one
    /// byte (Create's kind, `why` 1) with no time of its own. Its true time lies
    /// between the record before it and the record after its run of CreateNexts;
    /// [`decode`] places it at the lower bound, the record before. The created G
    /// may start on another M before the record after the run (which may come
    /// much later: the creator's thread descheduled), so any later placement could
    /// show a G starting before its creation (a run spread evenly over the span
    /// did, once in 360 traces of spawn storms); it cannot start before it was
    /// created, which is after the lower bound. Off by at most seven rt_go calls
    /// in a burst. The clock read was about half of a spawn's Create cost with
    /// tracing on (perf: the instruction after rdtsc took 67% of the hook's samples).
    ///
    /// The buffer has MAX_REC bytes of spare capacity (the caller checks).
    #[inline(always)]
    fn put_create(&mut self, now: impl FnOnce() -> i64, g: i64, by: i64, f: u64) {
        if self.put_create_next(g, by, f) {
            return;
        }
        let len = self.bytes.len();
        let d = self.advance(now());
        // SAFETY: as in put_switch_no_obj (a Create fits in MAX_REC).
        unsafe {
            let start = self.bytes.as_mut_ptr().add(len);
            let mut c = Cur(start, &mut self.chain);
            c.byte(Kind::Create as u8);
            c.uv(d);
            c.gid(g);
            c.uv(by as u64);
            c.func(f);
            self.create_end = len + c.0.offset_from(start) as usize;
            self.bytes.set_len(self.create_end);
        }
        self.create_by = by;
        self.untimed_left = CREATE_UNTIMED;
    }

    /// [`put_create`](Buf::put_create)'s CreateNext, if the Create can be one: false
    /// (nothing written) otherwise.
    ///
    /// The buffer has MAX_REC bytes of spare capacity (the caller checks).
    #[inline(always)]
    fn put_create_next(&mut self, g: i64, by: i64, f: u64) -> bool {
        let len = self.bytes.len();
        if len != self.create_end
            || self.untimed_left == 0
            || by != self.create_by
            || f != self.chain.f
            || g != self.chain.g.wrapping_add(1)
        {
            return false;
        }
        // SAFETY: the caller's room; the byte is written before set_len.
        unsafe {
            let at = self.bytes.as_mut_ptr().add(len);
            at.write(Kind::Create as u8 | 1 << 4);
            self.bytes.set_len(len + 1);
        }
        self.chain.g = g;
        self.untimed_left -= 1;
        self.create_end = len + 1;
        true
    }

    /// Appends a record at time `ts` (clock ticks; one before the last record's
    /// counts as no time, so that a lane's time never decreases): a byte of kind
    /// and `why`, the time since the previous record, then what `body` writes given
    /// the record's own time.
    ///
    /// The buffer has MAX_REC bytes of spare capacity (the caller checks).
    #[inline(always)]
    fn encode(&mut self, kind: Kind, why: u8, ts: i64, body: impl FnOnce(&mut Cur<'_>, i64)) {
        let d = self.advance(ts);
        let q = self.last_ts;
        let len = self.bytes.len();
        // SAFETY: at least MAX_REC bytes of spare capacity past the length (the
        // caller's check) and a record takes at most that; the bytes up to the new
        // length are written before set_len.
        unsafe {
            let start = self.bytes.as_mut_ptr().add(len);
            let mut c = Cur(start, &mut self.chain);
            c.byte(kind as u8 | why << 4);
            c.uv(d);
            body(&mut c, q << TICK_SHIFT);
            let end = c.0;
            self.bytes.set_len(len + end.offset_from(start) as usize);
        }
    }
}

/// Writes a record into a buffer's spare capacity, with no bounds check: the one
/// check that the buffer has MAX_REC bytes free is made before (see [`put`]). The
/// second field is the buffer's [`Chain`].
struct Cur<'a>(*mut u8, &'a mut Chain);

impl Cur<'_> {
    /// # Safety
    /// There is room for the byte (see the type).
    #[inline(always)]
    unsafe fn byte(&mut self, b: u8) {
        // SAFETY: the caller's room.
        unsafe {
            self.0.write(b);
            self.0 = self.0.add(1);
        }
    }

    /// `x` as a LEB128 varint.
    ///
    /// # Safety
    /// There is room for 10 bytes.
    #[inline(always)]
    unsafe fn uv(&mut self, mut x: u64) {
        // SAFETY: the caller's room: at most 10 bytes for 64 bits.
        unsafe {
            while x >= 0x80 {
                self.byte(x as u8 | 0x80);
                x >>= 7;
            }
            self.byte(x as u8);
        }
    }

    /// `x` zigzagged (small negative numbers stay short), as a varint.
    ///
    /// # Safety
    /// There is room for 10 bytes.
    #[inline(always)]
    unsafe fn sv(&mut self, x: i64) {
        // SAFETY: the caller's room.
        unsafe { self.uv(((x << 1) ^ (x >> 63)) as u64) }
    }

    /// A wait object (an address, an fd, a host function; most are near the
    /// previous one, such as the two channels of a ping-pong): 0 as 0, else as its
    /// zigzagged difference from the previous one, plus one.
    ///
    /// # Safety
    /// There is room for 10 bytes.
    #[inline(always)]
    unsafe fn obj(&mut self, x: u64) {
        if x == 0 {
            // SAFETY: the caller's room.
            return unsafe { self.byte(0) };
        }
        let d = x.wrapping_sub(self.1.obj) as i64;
        self.1.obj = x;
        // SAFETY: the caller's room. (Addresses are less than 2^63 apart: the sum
        // does not wrap to 0.)
        unsafe { self.uv(((d << 1) ^ (d >> 63)) as u64 + 1) }
    }

    /// A G id, as its difference from the previous one (one byte for the two Gs
    /// of a switch, or Gs created one after another).
    ///
    /// # Safety
    /// There is room for 10 bytes.
    #[inline(always)]
    unsafe fn gid(&mut self, g: i64) {
        let d = g.wrapping_sub(self.1.g);
        self.1.g = g;
        // SAFETY: the caller's room.
        unsafe { self.sv(d) }
    }

    /// A start function's address, as its difference from the previous one.
    ///
    /// # Safety
    /// There is room for 10 bytes.
    #[inline(always)]
    unsafe fn func(&mut self, f: u64) {
        let d = f.wrapping_sub(self.1.f) as i64;
        self.1.f = f;
        // SAFETY: the caller's room.
        unsafe { self.sv(d) }
    }
}

fn unzig(x: u64) -> i64 {
    (x >> 1) as i64 ^ -((x & 1) as i64)
}

/// Decodes one buffer's records; None if it is malformed. A record is a byte (its
/// kind in the low 4 bits, its `why` in the high 4), the time since the buffer's
/// previous record (in units of 2^TICK_SHIFT ticks; a CreateNext has none, a
/// TinySwitch has it in the high 4 bits of its byte instead of a `why`) and then
/// only the fields its kind carries, each a varint (`s`: zigzagged):
///
/// | kind         | why        | fields                                    |
/// |--------------|------------|-------------------------------------------|
/// | Create       | 0          | g (G), a = creator G, b = start function (F) |
/// | CreateNext   | 1          | no time and no field: a Create of the G with the next id, by the last Create's creator, of its function; placed at the time of the record before it ([`Buf::put_create`]) |
/// | Name         | chunk no.  | g, a, b = 16 bytes of its name (LE words) |
/// | Start        | 0          | p (s), g (G), a = flow id of its wake (0: none) |
/// | ChainSwitch  | why (not 0) | Start's kind: a = starting G (G), c = its flow id (p, g: see [`Chain::chains`]; b = 0); why 13 / 14: an exit / a yield with c = 0, not written |
/// | Stop         | why        | p (s), g (G), b = wait object (@)         |
/// | Unblock      | [`Src`]    | g (G), a = flow id, b = waker G           |
/// | SyscallEnter | 0          | p (s), g (G)                              |
/// | SyscallExit  | 0          | p (s), g (G), a = how                     |
/// | Steal        | 0          | p (s), g (G), a = victim P (s)            |
/// | Netpoll      | 1          | Timers' kind: a = Gs readied              |
/// | Timers       | 0          | p (s), a = timers fired                   |
/// | PreemptReq   | 0          | p (s), g (G), a = by signal               |
/// | Handoff      | 0          | p (s)                                     |
/// | Switch       | why        | p (s), g = stopping G (G), b = its wait object (@), a = starting G (G), c = its flow id |
/// | WokeSwitch   | why        | as Switch without c, then how long before it `g` woke `a` (time units) |
/// | ShortSwitch  | why        | how long before it `g` woke `a` (p, g, b, a: see [`Chain::mirrors`]) |
/// | TwinSwitch   | why        | none: a ShortSwitch with its wake at its own time (kind 0) |
/// | TinySwitch   | (time)     | none: a TwinSwitch whose `why` is that of the switch that parked on its object before ([`Chain::w2`]), its time (0 to 15 units) in place of the `why` (one byte) |
///
/// (G), (@), (F): stored as differences from the previous field of the same sort
/// in the buffer ([`Cur::gid`], [`Cur::obj`], [`Cur::func`]). A ChainSwitch decodes
/// as the Switch it stands for. A WokeSwitch, ShortSwitch, TwinSwitch or TinySwitch
/// decodes as the Unblock (by `g`) and the Switch it stands for, joined
/// by a flow id that `woken` numbers (the decoder's count of them, kept across
/// buffers).
fn decode(mut b: &[u8], out: &mut Vec<Ev>, woken: &mut u64) -> Option<()> {
    fn uv(b: &mut &[u8]) -> Option<u64> {
        let mut x = 0u64;
        for shift in (0..70).step_by(7) {
            let (&c, rest) = b.split_first()?;
            *b = rest;
            x |= ((c & 0x7f) as u64) << shift.min(63);
            if c < 0x80 {
                return Some(x);
            }
        }
        None
    }
    fn sv(b: &mut &[u8]) -> Option<i64> {
        uv(b).map(unzig)
    }
    let mut q = 0i64;
    let mut last_obj = 0u64;
    let mut obj = |b: &mut &[u8]| -> Option<u64> {
        let v = uv(b)?;
        if v != 0 {
            last_obj = last_obj.wrapping_add(unzig(v - 1) as u64);
            return Some(last_obj);
        }
        Some(0)
    };
    // The switches' part of the chain (the encoder's [`Chain::switched`]).
    let mut sw = Chain::default();
    let last_gid = Cell::new(0i64);
    let gid = |b: &mut &[u8]| -> Option<i64> {
        last_gid.set(last_gid.get().wrapping_add(sv(b)?));
        Some(last_gid.get())
    };
    // The creator of the last Create (a CreateNext's, see Buf::put_create).
    let mut create_by = 0i64;
    let last_func = Cell::new(0u64);
    let func = |b: &mut &[u8]| -> Option<u64> {
        last_func.set(last_func.get().wrapping_add(sv(b)? as u64));
        Some(last_func.get())
    };
    while let Some((&head, rest)) = b.split_first() {
        // A record gives at most two events; out of memory ends the decoding (the
        // stopper sees CONVERT_NOMEM).
        if !room(out, 2) {
            return None;
        }
        b = rest;
        let (kind, why) = (head & 15, head >> 4);
        let prev = q;
        if head == Kind::Create as u8 | 1 << 4 {
            // A CreateNext: no time of its own, the G with the next id, by the
            // creator of the Create before, of its function. It is placed at its
            // lower bound, the time of the record before (see Buf::put_create).
            last_gid.set(last_gid.get().wrapping_add(1));
            out.push(Ev {
                ts: q << TICK_SHIFT,
                kind,
                why: 0,
                p: -1,
                g: last_gid.get(),
                a: create_by,
                b: last_func.get(),
                c: 0,
            });
            continue;
        }
        // A TinySwitch's time is in its head (see Kind::TinySwitch).
        let dt = if kind == Kind::TinySwitch as u8 {
            why as u64
        } else {
            uv(&mut b)?
        };
        q = q.wrapping_add(dt as i64);
        let mut e = Ev {
            ts: q << TICK_SHIFT,
            kind,
            why,
            p: -1,
            ..Ev::default()
        };
        let b = &mut b;
        match Kind::from_u8(kind)? {
            Kind::Create => {
                e.g = gid(b)?;
                e.a = uv(b)? as i64;
                e.b = func(b)?;
                create_by = e.a;
            }
            Kind::Name => {
                e.g = uv(b)? as i64;
                e.a = uv(b)? as i64;
                e.b = uv(b)?;
            }
            Kind::Start if why != 0 => {
                // A ChainSwitch: the G the last switch started stops on its P.
                e.p = sw.p as i32;
                e.g = sw.cur();
                e.a = gid(b)?;
                sw.switched(e.p as i64, e.g, 0, e.a, why);
                (e.why, e.c) = match why {
                    CHAIN_EXIT_BARE => (Cause::Exit as u8, 0),
                    CHAIN_YIELD_BARE => (Cause::Yield as u8, 0),
                    w => (w, uv(b)?),
                };
                if e.c != 0 {
                    e.c |= (e.a as u64) << 32;
                }
                e.kind = Kind::Switch as u8;
            }
            Kind::Start | Kind::SyscallExit | Kind::PreemptReq => {
                e.p = sv(b)? as i32;
                e.g = gid(b)?;
                e.a = uv(b)? as i64;
                if e.kind == Kind::Start as u8 && e.a != 0 {
                    e.a |= e.g << 32;
                }
            }
            Kind::Stop => {
                e.p = sv(b)? as i32;
                e.g = gid(b)?;
                e.b = obj(b)?;
            }
            Kind::Unblock => {
                e.g = gid(b)?;
                e.a = uv(b)? as i64 | e.g << 32;
                e.b = uv(b)?;
            }
            Kind::SyscallEnter => {
                e.p = sv(b)? as i32;
                e.g = gid(b)?;
            }
            Kind::Steal => {
                e.p = sv(b)? as i32;
                e.g = gid(b)?;
                e.a = sv(b)?;
            }
            Kind::Netpoll => return None,
            Kind::Timers if why == TIMERS_NETPOLL => {
                e.kind = Kind::Netpoll as u8;
                e.why = 0;
                e.a = uv(b)? as i64;
            }
            Kind::Timers => {
                e.p = sv(b)? as i32;
                e.a = uv(b)? as i64;
            }
            Kind::Handoff => e.p = sv(b)? as i32,
            k @ (Kind::Switch
            | Kind::WokeSwitch
            | Kind::ShortSwitch
            | Kind::TwinSwitch
            | Kind::TinySwitch) => {
                if k == Kind::TinySwitch {
                    // Its time is in its head, its `why` the chain's.
                    e.why = sw.w2();
                }
                if matches!(k, Kind::ShortSwitch | Kind::TwinSwitch | Kind::TinySwitch) {
                    // The mirror of the last switch (see Chain::mirrors).
                    e.p = sw.p as i32;
                    e.g = sw.cur();
                    e.b = sw.o2();
                    e.a = sw.prev();
                } else {
                    e.p = sv(b)? as i32;
                    e.g = gid(b)?;
                    e.b = obj(b)?;
                    e.a = gid(b)?;
                }
                sw.switched(e.p as i64, e.g, e.b, e.a, e.why);
                if k == Kind::Switch {
                    e.c = uv(b)?;
                    if e.c != 0 {
                        e.c |= (e.a as u64) << 32;
                    }
                } else {
                    let before = if matches!(k, Kind::TwinSwitch | Kind::TinySwitch) {
                        0
                    } else {
                        uv(b)? as i64
                    };
                    // The wake's flow is wholly inside this record: an id of its own,
                    // below 2^32 (the others are G id << 32 | wake number >= 1).
                    *woken = woken.wrapping_add(1).max(1) & 0xffff_ffff;
                    e.c = *woken;
                    out.push(Ev {
                        ts: q.wrapping_sub(before).max(prev) << TICK_SHIFT,
                        kind: Kind::Unblock as u8,
                        why: Src::Waker as u8,
                        p: -1,
                        g: e.a,
                        a: e.c as i64,
                        b: e.g as u64,
                        c: 0,
                    });
                    e.kind = Kind::Switch as u8;
                }
            }
        }
        out.push(e);
    }
    Some(())
}

/// An M's part of the trace. Touched only by the M's own thread, except that
/// rt_trace_stop and mexit take `buf` once `busy` is clear (see the module comment).
pub struct MTrace {
    busy: AtomicBool,
    buf: UnsafeCell<Buf>,
    /// The generation in which the G now running on this M started its slice (0:
    /// none open), so that a trace started mid-run does not end slices it never
    /// began.
    open: Cell<u64>,
    /// Its system call slice is open (same generation rule).
    in_syscall: Cell<u64>,
    /// The wait reason and object a G gave just before parking (trace::wait).
    why: Cell<u8>,
    obj: Cell<u64>,
}

// SAFETY: `buf` is reached by another thread only under the busy protocol above;
// the Cells only by the M's own thread.
unsafe impl Sync for MTrace {}

impl MTrace {
    pub const fn new() -> MTrace {
        MTrace {
            busy: AtomicBool::new(false),
            buf: UnsafeCell::new(Buf::EMPTY),
            open: Cell::new(0),
            in_syscall: Cell::new(0),
            why: Cell::new(0),
            obj: Cell::new(0),
        }
    }
}

impl Default for MTrace {
    fn default() -> Self {
        MTrace::new()
    }
}

/// Whether tracing is on (the hooks' fast test). A build with `--cfg mrt_no_trace`
/// has no trace code on any path (the hooks fold away): `bench/run.sh`'s baseline for
/// the cost of the hooks when tracing is off.
#[inline(always)]
pub fn on() -> bool {
    !cfg!(mrt_no_trace) && ON.load(Ordering::Relaxed) != 0
}

// ---- the writer ------------------------------------------------------------------

struct Writer {
    fd: i32,
    /// The clock at the start (`t0`, in trace timestamps, and `ns0`, nanotime) and
    /// at the stop: timestamps are converted to µs since the start through them.
    t0: i64,
    ns0: i64,
    t1: i64,
    ns1: i64,
    first: bool,
    failed: bool,
    out: Vec<u8>,
    mlanes: Vec<(i64, i64)>,
    planes: Vec<i32>,
    names: Vec<(i64, Vec<u8>)>,
    syms: Vec<(u64, Vec<u8>)>,
}

static WRITER: Lock<Option<Writer>> = Lock::new(None);
/// Serialises rt_trace_start and rt_trace_stop.
static CONTROL: Lock<()> = Lock::new(());
/// Events of threads that are no M.
static FOREIGN: Lock<Option<Buf>> = Lock::new(None);
/// `$MRT_TRACE` was looked at (once per process; inherited by fork children).
static ENV_DONE: AtomicBool = AtomicBool::new(false);

/// Set by [`room`] when memory ran out during rt_trace_stop's conversion, which then
/// returns Error::NoMem. Only the stopper (under CONTROL) writes it.
static CONVERT_NOMEM: AtomicBool = AtomicBool::new(false);

/// Makes room for `n` more items in `v` without aborting the host when memory runs
/// out: false then (and CONVERT_NOMEM is set), and the caller leaves the item out.
/// Everything rt_trace_start and rt_trace_stop allocate goes through a fallible
/// reservation: the host's process must not die of the trace's allocations.
fn room<T>(v: &mut Vec<T>, n: usize) -> bool {
    if v.try_reserve(n).is_ok() {
        return true;
    }
    CONVERT_NOMEM.store(true, Ordering::Relaxed);
    false
}

/// `write!` into the JSON buffer, each piece reserved fallibly (see [`room`]).
struct OutFmt<'a>(&'a mut Vec<u8>);

impl core::fmt::Write for OutFmt<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if !room(self.0, s.len()) {
            return Err(core::fmt::Error);
        }
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends `b` as a JSON string, each invalid UTF-8 sequence replaced by U+FFFD (as
/// `String::from_utf8_lossy` does), without allocating.
fn put_json_lossy(o: &mut Vec<u8>, b: &[u8]) {
    o.push(b'"');
    for chunk in b.utf8_chunks() {
        put_escaped(o, chunk.valid());
        if !chunk.invalid().is_empty() {
            o.extend_from_slice("\u{FFFD}".as_bytes());
        }
    }
    o.push(b'"');
}

fn write_all(fd: i32, mut b: &[u8]) -> bool {
    while !b.is_empty() {
        // SAFETY: b is a valid slice.
        let n = unsafe { libc::write(fd, b.as_ptr().cast(), b.len()) };
        if n < 0 {
            // SAFETY: errno right after the failing call.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return false;
        }
        b = &b[n as usize..];
    }
    true
}

/// A small stack buffer that text is appended to (a lane's prefix, a timestamp).
struct Small<const N: usize> {
    b: [u8; N],
    n: usize,
}

impl<const N: usize> Small<N> {
    fn new() -> Self {
        Small { b: [0; N], n: 0 }
    }

    fn put(&mut self, s: &[u8]) {
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
    }

    /// Appends the text to `o`: all N bytes, a copy of constant size (no call to
    /// memmove), and then the bytes past the text are dropped again.
    fn put_to(&self, o: &mut Vec<u8>) {
        o.extend_from_slice(&self.b);
        o.truncate(o.len() - (N - self.n));
    }
}

/// "00" to "99": decimal digits are made two at a time.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes the decimal digits of `x` (what `{}` writes) to the start of `d`; returns
/// how many there are.
fn digits(d: &mut [u8; 20], mut x: u64) -> usize {
    let n = x.checked_ilog10().unwrap_or(0) as usize + 1;
    let mut i = n;
    while x >= 100 {
        let r = (x % 100) as usize * 2;
        x /= 100;
        i -= 2;
        d[i] = PAIRS[r];
        d[i + 1] = PAIRS[r + 1];
    }
    if x >= 10 {
        d[0] = PAIRS[x as usize * 2];
        d[1] = PAIRS[x as usize * 2 + 1];
    } else {
        d[0] = b'0' + x as u8;
    }
    n
}

/// Appends the decimal digits of `x`: made in place in room of the longest, which
/// is then cut to their number.
fn put_u64(o: &mut Vec<u8>, x: u64) {
    let at = o.len();
    o.resize(at + 20, 0);
    let mut d = [0u8; 20];
    let room: &mut [u8; 20] = (&mut o[at..]).try_into().unwrap_or(&mut d);
    let n = digits(room, x);
    o.truncate(at + n);
}

fn put_i64(o: &mut Vec<u8>, x: i64) {
    if x < 0 {
        o.push(b'-');
    }
    put_u64(o, x.unsigned_abs());
}

/// Appends `x` as `{:#x}` writes it.
fn put_hex(o: &mut Vec<u8>, mut x: u64) {
    let mut d = [0u8; 18];
    let mut i = d.len();
    loop {
        i -= 1;
        d[i] = b"0123456789abcdef"[(x & 15) as usize];
        x >>= 4;
        if x == 0 {
            break;
        }
    }
    o.extend_from_slice(b"0x");
    o.extend_from_slice(&d[i..]);
}

/// Appends `s` as a JSON string: quoted, with `"`, `\` and control characters
/// escaped. Byte by byte: every byte of a multi-byte UTF-8 sequence is >= 0x80, so
/// only ASCII characters are ever escaped.
fn put_json_str(o: &mut Vec<u8>, s: &str) {
    o.push(b'"');
    put_escaped(o, s);
    o.push(b'"');
}

/// Appends `s` escaped for the inside of a JSON string (see [`put_json_str`]).
fn put_escaped(o: &mut Vec<u8>, s: &str) {
    put_escaped_bytes(o, s.as_bytes());
}

/// [`put_escaped`] for text known to be UTF-8 held as bytes.
fn put_escaped_bytes(o: &mut Vec<u8>, b: &[u8]) {
    let mut from = 0;
    for (i, &c) in b.iter().enumerate() {
        if c != b'"' && c != b'\\' && c >= 0x20 {
            continue;
        }
        o.extend_from_slice(&b[from..i]);
        from = i + 1;
        match c {
            b'"' => o.extend_from_slice(b"\\\""),
            b'\\' => o.extend_from_slice(b"\\\\"),
            c => {
                o.extend_from_slice(b"\\u00");
                o.push(b"0123456789abcdef"[(c >> 4) as usize]);
                o.push(b"0123456789abcdef"[(c & 15) as usize]);
            }
        }
    }
    o.extend_from_slice(&b[from..]);
}

/// An event's lanes: the start of the M lane's and the P lane's part of each JSON
/// object (`"pid":1,"tid":3,"ts":`) and the event's time (`12.345`).
struct Lanes {
    m: Small<48>,
    p: Small<48>,
    ts: Small<32>,
}

fn lane_prefix(pid: &[u8], tid: i64) -> Small<48> {
    let mut l = Small::new();
    l.put(b"\"pid\":");
    l.put(pid);
    l.put(b",\"tid\":");
    if tid < 0 {
        l.put(b"-");
    }
    let mut d = [0; 20];
    let n = digits(&mut d, tid.unsigned_abs());
    l.put(&d[..n]);
    l.put(b",\"ts\":");
    l
}

/// The JSON is appended to `out` by hand (the objects' fixed text, then numbers
/// formatted in place): no formatting machinery or allocation per event, which made
/// the conversion cost about a microsecond per event. `out` is written out in
/// large pieces ([`OUT_FLUSH`]).
impl Writer {
    fn flush_out(&mut self) {
        if !self.failed && !write_all(self.fd, &self.out) {
            self.failed = true;
        }
        self.out.clear();
    }

    /// A timestamp in µs since the start, with three decimals.
    fn us(&self, ts: i64) -> Small<32> {
        let dt = (ts - self.t0).max(0);
        let span = (self.t1 - self.t0).max(1);
        let ns = (self.ns1 - self.ns0).max(0);
        // dt and ns are >= 0 and span > 0: where the product fits in 64 bits,
        // unsigned arithmetic gives the same quotient as 128-bit arithmetic.
        let d = match (dt as u64).checked_mul(ns as u64) {
            Some(x) => (x / span as u64) as i64,
            None => (dt as i128 * ns as i128 / span as i128) as i64,
        };
        let mut s = Small::new();
        if d < 0 {
            // Only when the quotient overflows i64 (a clock gone wrong): as ever.
            s.put(format!("{}.{:03}", d / 1000, d % 1000).as_bytes());
            return s;
        }
        let mut i = [0; 20];
        let room: &mut [u8; 20] = (&mut s.b[..20]).try_into().unwrap_or(&mut i);
        let n = digits(room, (d / 1000) as u64);
        let f = (d % 1000) as usize;
        s.b[n] = b'.';
        s.b[n + 1] = b'0' + (f / 100) as u8;
        s.b[n + 2..n + 4].copy_from_slice(&PAIRS[f % 100 * 2..f % 100 * 2 + 2]);
        s.n = n + 4;
        s
    }

    /// Appends the symbol of `addr` ("?" for none), escaped as a JSON string after
    /// `pre`.
    fn put_sym(&mut self, pre: &[u8], addr: u64) {
        self.out.push(b'"');
        self.out.extend_from_slice(pre);
        if addr == 0 {
            self.out.push(b'?');
        } else {
            let i = match self.syms.iter().position(|(a, _)| *a == addr) {
                Some(i) => Some(i),
                None => match symbol(addr as usize) {
                    Some(name) if room(&mut self.syms, 1) => {
                        self.syms.push((addr, name));
                        Some(self.syms.len() - 1)
                    }
                    // Out of memory: the name is left out.
                    _ => None,
                },
            };
            match i {
                // The names are valid UTF-8 (see `symbol`).
                Some(i) => put_escaped_bytes(&mut self.out, &self.syms[i].1),
                None => self.out.push(b'?'),
            }
        }
        self.out.push(b'"');
    }

    /// Begins a new object in the array (writes the separator) with `s`.
    fn begin(&mut self, s: &[u8]) {
        if !self.first {
            self.out.extend_from_slice(b",\n");
        }
        self.first = false;
        self.out.extend_from_slice(s);
    }

    /// Appends a lane's part of an object: `lane` (M or P) and the time.
    fn put_lane(&mut self, lane: &Small<48>, l: &Lanes) {
        lane.put_to(&mut self.out);
        l.ts.put_to(&mut self.out);
    }

    fn put(&mut self, s: &[u8]) {
        self.out.extend_from_slice(s);
    }

    fn push(&mut self, json: &str) {
        self.begin(json.as_bytes());
    }

    fn lane_m(&mut self, m: i64, tid: i64) {
        if !self.mlanes.iter().any(|(x, _)| *x == m) && room(&mut self.mlanes, 1) {
            self.mlanes.push((m, tid));
        }
    }

    fn lane_p(&mut self, p: i32) {
        if p >= 0 && !self.planes.contains(&p) && room(&mut self.planes, 1) {
            self.planes.push(p);
        }
    }

    /// A G's run begins on M `m` and P `p` (lanes `l`), with the end of
    /// the wake arrow `flow` if it was woken.
    #[allow(clippy::too_many_arguments)]
    fn start_json(&mut self, m: i64, l: &Lanes, p: i32, g: i64, flow: i64) {
        self.begin(b"{\"ph\":\"B\",\"name\":\"G");
        put_i64(&mut self.out, g);
        self.put(b"\",\"cat\":\"run\",");
        self.put_lane(&l.m, l);
        self.put(b",\"args\":{\"g\":");
        put_i64(&mut self.out, g);
        self.put(b",\"p\":");
        put_i64(&mut self.out, p as i64);
        self.put(b"}}");
        if flow != 0 {
            self.begin(b"{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":");
            put_i64(&mut self.out, flow);
            self.put(b",");
            self.put_lane(&l.m, l);
            self.put(b",\"args\":{\"g\":");
            put_i64(&mut self.out, g);
            self.put(b"}}");
        }
        if p >= 0 {
            self.begin(b"{\"ph\":\"B\",\"name\":\"G");
            put_i64(&mut self.out, g);
            self.put(b"\",\"cat\":\"run\",");
            self.put_lane(&l.p, l);
            self.put(b",\"args\":{\"g\":");
            put_i64(&mut self.out, g);
            self.put(b",\"m\":");
            put_i64(&mut self.out, m);
            self.put(b"}}");
        }
    }

    /// A G's run ends (`why`, with the wait object or host function `obj`).
    #[allow(clippy::too_many_arguments)]
    fn stop_json(&mut self, l: &Lanes, p: i32, g: i64, why: u8, obj: u64) {
        let lanes: &[&Small<48>] = if p >= 0 { &[&l.p, &l.m] } else { &[&l.m] };
        for lane in lanes {
            self.begin(b"{\"ph\":\"E\",\"cat\":\"run\",");
            self.put_lane(lane, l);
            self.put(b",\"args\":{\"g\":");
            put_i64(&mut self.out, g);
            self.put(b",\"why\":");
            if why == WaitReason::HostPark as u8 {
                self.put_sym(b"host: ", obj);
            } else {
                put_json_str(&mut self.out, why_name(why));
                if why == WaitReason::Fd as u8 {
                    self.put(b",\"obj\":\"fd ");
                    put_u64(&mut self.out, obj);
                    self.put(b"\"");
                } else if why < Cause::Yield as u8 && obj != 0 {
                    self.put(b",\"obj\":\"");
                    put_hex(&mut self.out, obj);
                    self.put(b"\"");
                }
            }
            self.put(b"}}");
        }
    }

    /// Formats one buffer of M `m` (0: threads that are no M; `tid` its OS thread).
    fn encode(&mut self, m: i64, tid: i64, evs: &[Ev]) {
        self.lane_m(m, tid);
        let (mut p, mut p2) = (-1, -1);
        let mut pre2 = lane_prefix(b"2", p2 as i64);
        let mut l = Lanes {
            m: lane_prefix(b"1", m),
            p: lane_prefix(b"2", p as i64),
            ts: Small::new(),
        };
        for e in evs {
            l.ts = self.us(e.ts);
            if e.p != p {
                // Events of no P (-1) come between those of a P: two are kept.
                if e.p == p2 {
                    core::mem::swap(&mut l.p, &mut pre2);
                    p2 = p;
                } else {
                    pre2 = core::mem::replace(&mut l.p, lane_prefix(b"2", e.p as i64));
                    p2 = p;
                }
                p = e.p;
            }
            let l = &l;
            self.lane_p(e.p);
            let Some(kind) = Kind::from_u8(e.kind) else {
                continue;
            };
            match kind {
                Kind::Name => {
                    let mut bytes = Vec::new();
                    if !room(&mut bytes, 16) {
                        continue;
                    }
                    bytes.extend_from_slice(&e.a.to_le_bytes());
                    bytes.extend_from_slice(&e.b.to_le_bytes());
                    while bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    match self.names.iter_mut().find(|(g, _)| *g == e.g) {
                        Some((_, n)) if e.why > 0 => {
                            if room(n, bytes.len()) {
                                n.extend_from_slice(&bytes);
                            }
                        }
                        Some((_, n)) => *n = bytes,
                        None => {
                            if room(&mut self.names, 1) {
                                self.names.push((e.g, bytes));
                            }
                        }
                    }
                }
                Kind::Create => {
                    self.begin(b"{\"ph\":\"i\",\"s\":\"t\",\"name\":\"create G");
                    put_i64(&mut self.out, e.g);
                    self.put(b"\",\"cat\":\"g\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b",\"by\":");
                    put_i64(&mut self.out, e.a);
                    self.put(b",\"fn\":");
                    self.put_sym(b"", e.b);
                    if let Some(i) = self.names.iter().position(|(g, _)| *g == e.g) {
                        let (_, n) = self.names.swap_remove(i);
                        self.put(b",\"name\":");
                        put_json_lossy(&mut self.out, &n);
                    }
                    self.put(b"}}");
                }
                Kind::Switch
                | Kind::WokeSwitch
                | Kind::ShortSwitch
                | Kind::TwinSwitch
                | Kind::TinySwitch => {
                    let (old, new) = (e.g, e.a);
                    self.stop_json(l, e.p, old, e.why, e.b);
                    self.start_json(m, l, e.p, new, e.c as i64);
                }
                Kind::Start => self.start_json(m, l, e.p, e.g, e.a),
                Kind::Stop => self.stop_json(l, e.p, e.g, e.why, e.b),
                Kind::Unblock => {
                    let src: &[u8] = match e.why {
                        1 => b"timer",
                        2 => b"netpoll",
                        _ => b"waker",
                    };
                    self.begin(b"{\"ph\":\"X\",\"dur\":0.001,\"name\":\"ready G");
                    put_i64(&mut self.out, e.g);
                    self.put(b"\",\"cat\":\"ready\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b",\"by\":");
                    put_u64(&mut self.out, e.b);
                    self.put(b",\"src\":\"");
                    self.put(src);
                    self.put(b"\"}}");
                    self.begin(b"{\"ph\":\"s\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":");
                    put_i64(&mut self.out, e.a);
                    self.put(b",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b"}}");
                }
                Kind::SyscallEnter => {
                    if e.p >= 0 {
                        self.begin(b"{\"ph\":\"E\",\"cat\":\"run\",");
                        self.put_lane(&l.p, l);
                        self.put(b",\"args\":{\"g\":");
                        put_i64(&mut self.out, e.g);
                        self.put(b",\"why\":\"syscall\"}}");
                    }
                    self.begin(b"{\"ph\":\"B\",\"name\":\"syscall\",\"cat\":\"syscall\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b"}}");
                }
                Kind::SyscallExit => {
                    let how: &[u8] = match e.a {
                        1 => b"same P",
                        2 => b"idle P",
                        _ => b"no P",
                    };
                    self.begin(b"{\"ph\":\"E\",\"cat\":\"syscall\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b",\"exit\":\"");
                    self.put(how);
                    self.put(b"\"}}");
                    if e.p >= 0 {
                        self.begin(b"{\"ph\":\"B\",\"name\":\"G");
                        put_i64(&mut self.out, e.g);
                        self.put(b"\",\"cat\":\"run\",");
                        self.put_lane(&l.p, l);
                        self.put(b",\"args\":{\"g\":");
                        put_i64(&mut self.out, e.g);
                        self.put(b",\"m\":");
                        put_i64(&mut self.out, m);
                        self.put(b"}}");
                    }
                }
                Kind::Steal => {
                    self.begin(b"{\"ph\":\"i\",\"s\":\"t\",\"name\":\"steal\",\"cat\":\"sched\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"p\":");
                    put_i64(&mut self.out, e.p as i64);
                    self.put(b",\"from\":");
                    put_i64(&mut self.out, e.a);
                    self.put(b",\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b"}}");
                }
                Kind::Netpoll => {
                    self.begin(
                        b"{\"ph\":\"i\",\"s\":\"t\",\"name\":\"netpoll\",\"cat\":\"sched\",",
                    );
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"ready\":");
                    put_i64(&mut self.out, e.a);
                    self.put(b"}}");
                }
                Kind::Timers => {
                    self.begin(b"{\"ph\":\"i\",\"s\":\"t\",\"name\":\"timers\",\"cat\":\"sched\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"fired\":");
                    put_i64(&mut self.out, e.a);
                    self.put(b",\"p\":");
                    put_i64(&mut self.out, e.p as i64);
                    self.put(b"}}");
                }
                Kind::PreemptReq => {
                    self.begin(b"{\"ph\":\"i\",\"s\":\"t\",\"name\":\"preempt G");
                    put_i64(&mut self.out, e.g);
                    self.put(b"\",\"cat\":\"sched\",");
                    self.put_lane(&l.m, l);
                    self.put(b",\"args\":{\"g\":");
                    put_i64(&mut self.out, e.g);
                    self.put(b",\"p\":");
                    put_i64(&mut self.out, e.p as i64);
                    self.put(b",\"signal\":");
                    put_i64(&mut self.out, e.a);
                    self.put(b"}}");
                }
                Kind::Handoff => {
                    self.begin(
                        b"{\"ph\":\"i\",\"s\":\"t\",\"name\":\"handoff\",\"cat\":\"sched\",",
                    );
                    self.put_lane(&l.p, l);
                    self.put(b",\"args\":{\"p\":");
                    put_i64(&mut self.out, e.p as i64);
                    self.put(b",\"by\":");
                    put_i64(&mut self.out, m);
                    self.put(b"}}");
                }
            }
            if self.out.len() >= OUT_FLUSH {
                self.flush_out();
            }
        }
    }

    /// The lane names and the closing bracket; closes the file.
    fn finish(mut self) -> Result<()> {
        let mut ms = core::mem::take(&mut self.mlanes);
        ms.sort();
        self.push(
            "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"args\":{\"name\":\"Ms (OS threads)\"}}",
        );
        self.push(
            "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":2,\"args\":{\"name\":\"Ps (processors)\"}}",
        );
        // Written in place, each piece reserved fallibly (OutFmt): a failed piece
        // leaves the JSON cut short and rt_trace_stop says RT_ENOMEM.
        use core::fmt::Write as _;
        for (m, tid) in ms {
            self.begin(b"");
            let mut o = OutFmt(&mut self.out);
            let _ = if m == 0 {
                write!(
                    o,
                    "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":{m},\"args\":{{\"name\":\"no M (foreign threads)\"}}}}"
                )
            } else {
                write!(
                    o,
                    "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":{m},\"args\":{{\"name\":\"M{m} (tid {tid})\"}}}}"
                )
            };
            self.begin(b"");
            let _ = write!(
                OutFmt(&mut self.out),
                "{{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":{m},\"args\":{{\"sort_index\":{m}}}}}"
            );
            if self.out.len() >= OUT_FLUSH {
                self.flush_out();
            }
        }
        let mut ps = core::mem::take(&mut self.planes);
        ps.sort();
        for p in ps {
            self.begin(b"");
            let _ = write!(
                OutFmt(&mut self.out),
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2,\"tid\":{p},\"args\":{{\"name\":\"P{p}\"}}}}"
            );
            if self.out.len() >= OUT_FLUSH {
                self.flush_out();
            }
        }
        let _ = write!(
            OutFmt(&mut self.out),
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"libmrt {}\",\"lost_events\":{},\"raw_bytes\":{}}}}}\n",
            env!("CARGO_PKG_VERSION"),
            LOST.load(Ordering::Relaxed),
            RAW_OFF.load(Ordering::Relaxed)
        );
        self.flush_out();
        // SAFETY: our own descriptor, closed once.
        let closed = unsafe { libc::close(self.fd) } == 0;
        if self.failed || !closed {
            return Err(Error::Inval);
        }
        Ok(())
    }
}

/// The symbol containing `addr` (dladdr), else its address, as UTF-8 (an invalid
/// sequence becomes U+FFFD, as with `to_string_lossy`). None when out of memory.
fn symbol(addr: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    // SAFETY: dladdr only reads the loader's tables and fills `info`; a non-null
    // dli_sname is a NUL-terminated string of the loader's.
    let name = unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        if libc::dladdr(addr as *const libc::c_void, &mut info) != 0 && !info.dli_sname.is_null() {
            Some(core::ffi::CStr::from_ptr(info.dli_sname).to_bytes())
        } else {
            None
        }
    };
    match name {
        Some(b) => {
            for chunk in b.utf8_chunks() {
                let bad = !chunk.invalid().is_empty();
                if !room(&mut v, chunk.valid().len() + 3) {
                    return None;
                }
                v.extend_from_slice(chunk.valid().as_bytes());
                if bad {
                    v.extend_from_slice("\u{FFFD}".as_bytes());
                }
            }
        }
        None => {
            if !room(&mut v, 18) {
                return None;
            }
            put_hex(&mut v, addr as u64);
        }
    }
    Some(v)
}

/// The trace's clock: `arch::cputicks` where the TSC is the kernel's clocksource,
/// else nanotime.
#[inline(always)]
fn now() -> i64 {
    if TSC.load(Ordering::Relaxed) {
        super::arch::cputicks()
    } else {
        nanotime()
    }
}

/// Writes a buffer raw to the scratch file (header: magic and count, M id, its
/// thread id), at an offset reserved for it. Called by the buffer's owner while it is
/// busy, or by the stopper: the scratch file stays open until neither can happen.
fn flush_raw(m: i64, tid: i64, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    let fd = RAW_FD.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    let head: [u64; 4] = [
        RAW_MAGIC << 32 | bytes.len() as u64,
        m as u64,
        tid as u64,
        0,
    ];
    let body = bytes.len();
    let total = (32 + body) as u64;
    let mut off = RAW_OFF.fetch_add(total, Ordering::Relaxed);
    let mut parts: [&[u8]; 2] = [
        // SAFETY: plain integers viewed as bytes.
        unsafe { core::slice::from_raw_parts(head.as_ptr().cast::<u8>(), 32) },
        bytes,
    ];
    for part in parts.iter_mut() {
        while !part.is_empty() {
            // SAFETY: a valid slice; the offset range is ours (reserved above).
            let n = unsafe { libc::pwrite(fd, part.as_ptr().cast(), part.len(), off as i64) };
            if n < 0 {
                // SAFETY: errno right after the failing call.
                if unsafe { *libc::__errno_location() } == libc::EINTR {
                    continue;
                }
                RAW_FAILED.store(true, Ordering::Relaxed);
                return;
            }
            *part = &part[n as usize..];
            off += n as u64;
        }
    }
}

/// When an event happened: now, at a time-stamp counter reading the G took itself
/// just before (set_wait's, the low 56 bits), which spares reading the counter
/// twice, or at a time read earlier.
#[derive(Clone, Copy)]
enum When {
    Now,
    Stamp(u64),
}

impl When {
    /// The time in clock ticks; `last` is the buffer's last time (in its units).
    #[inline(always)]
    fn ticks(self, last: i64) -> i64 {
        match self {
            When::Stamp(s) if last != 0 && TSC.load(Ordering::Relaxed) => stamp_ticks(s, last),
            _ => now(),
        }
    }
}

/// The time in clock ticks of a stamp `s` (56 bits of the counter) after the buffer's
/// last time `last` (non-zero, in its units; the clock is the counter).
#[inline(always)]
fn stamp_ticks(s: u64, last: i64) -> i64 {
    let last = last << TICK_SHIFT;
    let d = s.wrapping_sub(last as u64) & WAIT_TSC_MASK;
    // A stamp from before the buffer's last record counts as no time.
    last + if d > WAIT_TSC_MASK / 2 { 0 } else { d as i64 }
}

/// Runs `f` on the buffer of `m`, the calling thread's own M, if tracing is on.
#[inline(always)]
fn with_buf(m: &M, f: impl FnOnce(&mut Buf)) {
    let t = &m.trace;
    // Dekker with the stopper (module comment): busy, then ON.
    t.busy.store(true, Ordering::Relaxed);
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    if busy_on() {
        // SAFETY: busy is set and tracing is on: the stopper waits for us (see the
        // module comment), so nobody else reaches the buffer.
        f(unsafe { &mut *t.buf.get() });
    }
    t.busy.store(false, Ordering::Release);
}

/// The load of `ON` after the store of `busy` (see the module comment): whether
/// tracing is on, with the fence between the two that the stopper needs where it has
/// no membarrier.
#[inline(always)]
fn busy_on() -> bool {
    match ON.load(Ordering::SeqCst) {
        ON_FAST | ON_WEAK => true,
        0 => false,
        _ => {
            core::sync::atomic::fence(Ordering::SeqCst);
            ON.load(Ordering::SeqCst) != 0
        }
    }
}

/// Appends a record to the buffer of `m`, the calling thread's own M: its kind, its
/// `why`, its time and what `body` writes (at most MAX_REC - 11 bytes; it is given
/// the record's time).
#[inline(always)]
fn record(m: &M, kind: Kind, why: u8, when: When, body: impl FnOnce(&mut Cur<'_>, i64)) {
    with_buf(m, |slot| {
        let gen = GEN.load(Ordering::Relaxed);
        if let Some(b) = prepare(slot, gen, || (m.id, m.procid.load(Ordering::Relaxed))) {
            let ts = when.ticks(b.last_ts);
            b.put_pending();
            b.encode(kind, why, ts, body);
        }
    });
}

/// Appends the record of a G-to-G switch on `m` (the calling thread's own M) from
/// `g` (stopping for `why`, parked on `obj`) to `a` (`flow`: the flow id of its wake),
/// on P `p`: a WokeSwitch if the wake held back is `g`'s of `a` (see [`Ready`]), a
/// ShortSwitch if that one also mirrors the lane's last switch (as in a ping-pong;
/// three bytes), else a Switch. `gen` is the current generation.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn record_switch(
    m: &M,
    gen: u64,
    why: u8,
    when: When,
    p: i32,
    g: i64,
    obj: u64,
    a: i64,
    flow: u64,
) {
    with_buf(m, |slot| {
        if let Some(b) = prepare(slot, gen, || (m.id, m.procid.load(Ordering::Relaxed))) {
            let ts = when.ticks(b.last_ts);
            b.put_switch(why, ts, p as i64, g, obj, a, flow);
        }
    });
}

/// [`record`] for the calling thread, an M or not (then into the shared buffer).
#[inline(always)]
fn emit(kind: Kind, why: u8, body: impl FnOnce(&mut Cur<'_>, i64)) {
    let m = tls::getm();
    if m.is_null() {
        let mut f = FOREIGN.lock();
        if ON.load(Ordering::SeqCst) != 0 {
            // Under the lock: the shared lane's timestamps follow its order.
            let slot = f.get_or_insert(Buf::EMPTY);
            if let Some(b) = prepare(slot, GEN.load(Ordering::Relaxed), || (0, 0)) {
                let ts = now();
                b.encode(kind, why, ts, body);
            }
        }
        return;
    }
    // SAFETY: the calling thread's live M.
    record(unsafe { &*m }, kind, why, When::Now, body)
}

/// The buffer in `slot` with room for two records and a held-back wake, (re)made
/// for generation `gen` (the current one, `GEN`) first if needed (a full buffer is written out; `who`
/// names its M and thread); None if there is no memory for one.
#[inline(always)]
fn prepare(slot: &mut Buf, gen: u64, who: impl Fn() -> (i64, i64)) -> Option<&mut Buf> {
    let ready = slot.gen == gen && slot.bytes.len() <= BUF_BYTES - 3 * MAX_REC;
    if !ready && !refill(slot, gen, &who) {
        return None;
    }
    Some(slot)
}

/// Makes `slot` an empty buffer of generation `gen`, writing out what it held of this
/// generation; false if there is no memory for a buffer (the event is lost).
#[cold]
#[inline(never)]
fn refill(slot: &mut Buf, gen: u64, who: &dyn Fn() -> (i64, i64)) -> bool {
    if slot.bytes.capacity() == 0 {
        if slot.bytes.try_reserve_exact(BUF_BYTES).is_err() {
            LOST.fetch_add(1, Ordering::Relaxed);
            return false;
        }
    } else if slot.gen == gen {
        let (m, tid) = who();
        flush_raw(m, tid, &slot.bytes);
    }
    slot.reset(gen);
    true
}

/// Writes out the buffer of an M that is not busy (rt_trace_stop, or the M's own
/// exit), with the wake it held back, and empties it.
fn flush_m(m: &M, b: &mut Buf) {
    if b.gen == GEN.load(Ordering::Relaxed) {
        b.put_pending();
        flush_raw(m.id, m.procid.load(Ordering::Relaxed), &b.bytes);
    }
    b.reset(0);
}

fn pid(m: &M) -> i32 {
    let p = m.p();
    if p.is_null() {
        -1
    } else {
        // SAFETY: an M's published P is live while it holds it.
        unsafe { (*p).id }
    }
}

fn goid_of(gp: *const G) -> i64 {
    if gp.is_null() {
        0
    } else {
        // SAFETY: a live G.
        unsafe { (*gp).goid }
    }
}

// ---- hooks (each a relaxed load when off) ----------------------------------------

/// newproc: G `gp` was created by the calling thread, which runs G `cur` (null: none)
/// on M `m` (null: the thread is no M).
#[inline(always)]
pub fn go_create(m: *const M, cur: *const G, gp: *mut G) {
    if on() && !create_next(m, cur, gp) {
        go_create_slow(m, cur, gp)
    }
}

/// go_create's commonest case with tracing on, in line (no call): a Create of a
/// spawn burst that is a CreateNext ([`Buf::put_create`]). False, with nothing
/// written, otherwise (go_create_slow then writes the Create).
#[inline(always)]
fn create_next(m: *const M, cur: *const G, gp: *mut G) -> bool {
    if m.is_null() || cur.is_null() {
        return false;
    }
    // SAFETY: the calling thread's live M and running G (the caller's), and the new
    // G, still its creator's.
    let (m, by, g) = unsafe { (&*m, (*cur).goid, &*gp) };
    if !g.name().is_empty() {
        return false;
    }
    let t = &m.trace;
    // Dekker with the stopper, as with_buf (module comment).
    t.busy.store(true, Ordering::Relaxed);
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    let mut done = false;
    // Membarrier (ON_FAST or ON_WEAK: a CreateNext reads no clock).
    if ON.load(Ordering::SeqCst) & 1 != 0 {
        // SAFETY: busy is set and tracing is on with membarrier: the stopper waits
        // for us (see the module comment), so nobody else reaches the buffer.
        let b = unsafe { &mut *t.buf.get() };
        done = b.gen == GEN.load(Ordering::Relaxed)
            && b.bytes.len() <= BUF_BYTES - 3 * MAX_REC
            && b.pending.is_none()
            && b.put_create_next(g.goid, by, g.start_fn() as u64);
    }
    t.busy.store(false, Ordering::Release);
    done
}

#[cold]
fn go_create_slow(m: *const M, cur: *const G, gp: *mut G) {
    // SAFETY: a new G, still owned by its creator.
    let g = unsafe { &*gp };
    // SAFETY: the calling thread's live M, if any (the caller's).
    if g.name().is_empty() && !m.is_null() && create_fast(unsafe { &*m }, goid_of(cur), g) {
        return;
    }
    go_create_general(cur, g)
}

/// go_create's general path (kept out of [`go_create_slow`], whose fast path then
/// saves no register).
#[inline(never)]
fn go_create_general(cur: *const G, g: &G) {
    for (i, chunk) in g.name().chunks(16).enumerate() {
        let mut w = [0u8; 16];
        w[..chunk.len()].copy_from_slice(chunk);
        let a = u64::from_le_bytes(w[..8].try_into().unwrap_or([0; 8]));
        let b = u64::from_le_bytes(w[8..].try_into().unwrap_or([0; 8]));
        // SAFETY (all bodies): `record` leaves MAX_REC - 12 bytes for them.
        emit(Kind::Name, i as u8, |c, _| unsafe {
            c.uv(g.goid as u64);
            c.uv(a);
            c.uv(b);
        });
    }
    let by = goid_of(cur);
    let f = g.start_fn() as u64;
    emit(Kind::Create, 0, |c, _| unsafe {
        c.gid(g.goid);
        c.uv(by as u64);
        c.func(f);
    });
}

/// go_create's common case, a G with no name made by an M's G (a spawn loop), with
/// only what its record needs: no TLS read (the caller knows its M and G) and no
/// call. False, with nothing written, where the general path is needed: membarrier
/// missing ([`ON_STRONG`]: it fences), no buffer of this trace or no room in it, a
/// wake held back (written first), or a clock that is not the counter.
#[inline(always)]
fn create_fast(m: &M, by: i64, g: &G) -> bool {
    let t = &m.trace;
    // Dekker with the stopper, as with_buf (module comment).
    t.busy.store(true, Ordering::Relaxed);
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    let mut done = false;
    if ON.load(Ordering::SeqCst) == ON_FAST {
        // SAFETY: busy is set and tracing is on with membarrier: the stopper waits
        // for us (see the module comment), so nobody else reaches the buffer.
        let b = unsafe { &mut *t.buf.get() };
        if b.gen == GEN.load(Ordering::Relaxed)
            && b.bytes.len() <= BUF_BYTES - 3 * MAX_REC
            && b.pending.is_none()
        {
            b.put_create(super::arch::cputicks, g.goid, by, g.start_fn() as u64);
            done = true;
        }
    }
    t.busy.store(false, Ordering::Release);
    done
}

/// A G is about to run on `m` (which holds its P).
#[inline(always)]
pub fn go_start(m: &M, gp: *mut G) {
    if on() {
        go_start_slow(m, gp)
    }
}

#[cold]
fn go_start_slow(m: &M, gp: *mut G) {
    let (g, flow) = start_state(m, gp);
    let p = pid(m);
    // SAFETY: see go_create_slow.
    record(m, Kind::Start, 0, When::Now, |c, _| unsafe {
        c.sv(p as i64);
        c.gid(g);
        c.uv(flow);
    });
}

/// What a start records, and the M's state for it: the G's id and the flow id of the
/// wake that made it runnable (0: none), taken from the G.
#[inline(always)]
fn start_state(m: &M, gp: *mut G) -> (i64, u64) {
    let gen = GEN.load(Ordering::Relaxed);
    m.trace.open.set(gen);
    m.trace.in_syscall.set(0);
    next_flow(gp, gen)
}

/// The id of `gp`, which is about to run on the calling thread's M, and the flow id
/// of the wake that made it runnable (0: none, or a wake of another trace than
/// `gen`'s), which this start consumes.
#[inline(always)]
fn next_flow(gp: *mut G, gen: u64) -> (i64, u64) {
    // SAFETY: a G that is about to run on this M: ours.
    let g = unsafe { &*gp };
    let v = g.trace_flow.load(Ordering::Relaxed);
    let mut flow = 0;
    if v & FLOW_PENDING != 0 {
        g.trace_flow.store(v & !FLOW_PENDING, Ordering::Relaxed);
        // A wake of an earlier trace: its arrow's start is not in this one.
        if flow_gen(v) == gen as u32 {
            flow = v & FLOW_NUMBER as u64;
        }
    }
    (g.goid, flow)
}

/// What the stop of `gp` records: None if its slice was not opened in this trace;
/// else the P lane to end it on, the `why` byte, its object and time. `cause` None is
/// a park: the reason, object and time the G gave through set_wait (`wait`).
#[inline(always)]
fn stop_state(m: &M, gp: *mut G, cause: Option<Cause>) -> Option<(i32, u8, u64, When)> {
    let t = &m.trace;
    let parked = t.why.replace(0);
    let obj = t.obj.replace(0);
    if t.open.replace(0) != GEN.load(Ordering::Relaxed) {
        return None;
    }
    let p = if t.in_syscall.replace(0) != 0 {
        // Its syscall slice ended without an exit (cannot happen: the G leaves
        // through exitsyscall); the P lane was closed at entry.
        -1
    } else {
        pid(m)
    };
    Some(match cause {
        Some(c) => (p, c as u8, 0, When::Now),
        // set_wait stamped the park (a `why` it gave in this trace tells that stamp is
        // this park's).
        // SAFETY: the G that stops on this M: ours.
        None if parked != 0 => (p, parked, obj, When::Stamp(unsafe { &*gp }.wait_info().1)),
        None => (p, WaitReason::None as u8, 0, When::Now),
    })
}

#[cold]
fn go_stop_slow(m: &M, gp: *mut G, cause: Option<Cause>) {
    if let Some((p, why, obj, when)) = stop_state(m, gp, cause) {
        let g = goid_of(gp);
        // SAFETY: see go_create_slow.
        record(m, Kind::Stop, why, when, |c, _| unsafe {
            c.sv(p as i64);
            c.gid(g);
            c.obj(obj);
        });
    }
}

/// A G-to-G switch on `m`: `g` stops for what `m.pending` says, `next` starts.
#[inline(always)]
pub fn go_switch(m: &M, gp: *mut G, next: *mut G) {
    if on() {
        go_switch_slow(m, gp, next)
    }
}

#[cold]
fn go_switch_slow(m: &M, gp: *mut G, next: *mut G) {
    if !short_switch(m, gp, next) && !plain_switch(m, gp, next) {
        go_switch_full(m, gp, next)
    }
}

/// go_switch's plain Switch for a G that exits or yields to the next one (a spawn
/// loop's Gs, each exiting into the next), with nothing done that it does not need:
/// no call, one clock read. False (and nothing changed) where
/// [`go_switch_full`] is needed: a park, a slice not opened in this trace, no P,
/// membarrier missing ([`ON_STRONG`]), no buffer of this trace or no room in it, a
/// wake held back, a clock that is not the counter. Its effect is go_switch_full's
/// for such a switch.
#[inline(always)]
fn plain_switch(m: &M, gp: *mut G, next: *mut G) -> bool {
    let why = match m.pending.get() {
        super::g::Pending::Exit => Cause::Exit,
        super::g::Pending::Yield => Cause::Yield,
        super::g::Pending::Park(..) => return false,
    };
    let t = &m.trace;
    let gen = GEN.load(Ordering::Relaxed);
    if t.open.get() != gen || t.in_syscall.get() != 0 {
        return false;
    }
    let p = m.p();
    if p.is_null() {
        return false;
    }
    // SAFETY: an M's published P is live while it holds it (see `pid`).
    let p = unsafe { (*p).id } as i64;
    // Dekker with the stopper, as with_buf (module comment).
    t.busy.store(true, Ordering::Relaxed);
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    let mut done = false;
    if ON.load(Ordering::SeqCst) == ON_FAST {
        // SAFETY: busy is set and tracing is on with membarrier: the stopper waits
        // for us (see the module comment), so nobody else reaches the buffer.
        let b = unsafe { &mut *t.buf.get() };
        if b.gen == gen && b.bytes.len() <= BUF_BYTES - 3 * MAX_REC && b.pending.is_none() {
            // The M's state as go_switch_full leaves it: no park reason, `open`
            // stays (the slice of `next` opens in this generation).
            t.why.set(0);
            let g = goid_of(gp);
            let (a, flow) = next_flow(next, gen);
            b.put_switch_no_obj(why as u8, super::arch::cputicks(), p, g, a, flow);
            done = true;
        }
    }
    t.busy.store(false, Ordering::Release);
    done
}

/// go_switch's TwinSwitch, a ping-pong's steady-state half, with nothing done that
/// it does not need: `gp` parks (for a reason it gave in this trace) in a slice
/// opened in this trace, and the wake held back on the M's buffer is its untimed
/// wake of `next` (see [`Ready`]: an untimed wake is held only while the buffer is
/// fusing, after a record, so its time is known), in a switch that mirrors the
/// buffer's last one. False (and nothing changed) otherwise: [`go_switch_full`]
/// then records the switch (a ShortSwitch with a timed wake, the first of a
/// ping-pong, too). Its effect is go_switch_full's for such a switch: the M's park
/// reason is used up, `next`'s wake consumed (its flow is inside the record), the
/// slice of `next` opens in the generation of the one that ends.
#[inline(always)]
fn short_switch(m: &M, gp: *mut G, next: *mut G) -> bool {
    let t = &m.trace;
    let why = t.why.get();
    if why == 0 || !matches!(m.pending.get(), super::g::Pending::Park(..)) {
        return false;
    }
    let gen = GEN.load(Ordering::Relaxed);
    if t.open.get() != gen || t.in_syscall.get() != 0 {
        return false;
    }
    // A switch on the direct path runs on a P (else: the full path).
    let p = m.p();
    if p.is_null() {
        return false;
    }
    // SAFETY: an M's published P is live while it holds it (see `pid`).
    let p = unsafe { (*p).id } as i64;
    // SAFETY: `gp` stops on this M and `next` starts on it: both are ours.
    let (g, n) = unsafe { (&*gp, &*next) };
    // Dekker with the stopper, as with_buf (module comment).
    t.busy.store(true, Ordering::Relaxed);
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    let mut done = false;
    // ON_FAST: membarrier, and a clock that is the counter, so the park's stamp
    // gives the time.
    if ON.load(Ordering::SeqCst) == ON_FAST {
        // SAFETY: busy is set and tracing is on with membarrier: the stopper waits
        // for us (see the module comment), so nobody else reaches the buffer.
        let b = unsafe { &mut *t.buf.get() };
        if let Some(r @ Ready { timed: false, .. }) = b.pending {
            if b.gen == gen
                && b.bytes.len() <= BUF_BYTES - 3 * MAX_REC
                && r.by == g.goid
                && r.g == n.goid
                && b.chain.mirrors(p, g.goid, t.obj.get(), n.goid)
            {
                // The held-back wake set `next`'s flow pending (nothing starts it in
                // between: it is on this M's P since); its start here consumes it.
                let v = n.trace_flow.load(Ordering::Relaxed);
                n.trace_flow.store(v & !FLOW_PENDING, Ordering::Relaxed);
                t.why.set(0);
                b.pending = None;
                b.put_twin_switch(why, g.wait_info().1);
                done = true;
            }
        }
    }
    t.busy.store(false, Ordering::Release);
    done
}

/// go_switch's record of any switch (see [`short_switch`]).
#[inline(never)]
fn go_switch_full(m: &M, gp: *mut G, next: *mut G) {
    let cause = match m.pending.get() {
        super::g::Pending::Yield => Some(Cause::Yield),
        super::g::Pending::Exit => Some(Cause::Exit),
        super::g::Pending::Park(..) => None,
    };
    // One record for both when the stopping G's slice is ours, at one time: the
    // park's stamp where the G parks. The M's state as stop_state and start_state
    // leave it, with no store that would not change it: the slice of `next` opens
    // in the generation of the one that ends (`open` stays), and no system call
    // slice is open across a switch.
    let t = &m.trace;
    let gen = GEN.load(Ordering::Relaxed);
    let parked = t.why.replace(0);
    if t.open.get() != gen {
        // Not a slice of this trace: only the start is recorded (it opens one).
        return go_start_slow(m, next);
    }
    let p = if t.in_syscall.get() != 0 {
        // Cannot happen (see stop_state).
        t.in_syscall.set(0);
        -1
    } else {
        pid(m)
    };
    let (why, obj, when) = match cause {
        Some(c) => (c as u8, 0, When::Now),
        // SAFETY: the G that stops on this M: ours.
        None if parked != 0 => (
            parked,
            t.obj.get(),
            When::Stamp(unsafe { &*gp }.wait_info().1),
        ),
        None => (WaitReason::None as u8, 0, When::Now),
    };
    let (n, flow) = next_flow(next, gen);
    record_switch(m, gen, why, when, p, goid_of(gp), obj, n, flow);
}

/// The stop of an mcall `action` (execute, after the switch back to g0).
#[inline(always)]
pub fn go_stop_action(m: &M, gp: *mut G, action: &super::g::Action) {
    if on() {
        use super::g::Action;
        let cause = match *action {
            Action::Yield | Action::YieldGlobal => Some(Cause::Yield),
            Action::Preempt => Some(Cause::Preempted),
            Action::Park(..) | Action::ParkHost(..) | Action::None => None,
            Action::Exit => Some(Cause::Exit),
            Action::ExitSyscall => Some(Cause::SyscallNoP),
        };
        go_stop_slow(m, gp, cause)
    }
}

/// set_wait: the running G `gp` is about to park for `why` on `obj` (its stamp is
/// in the G).
#[inline(always)]
pub fn wait(gp: *mut G, why: WaitReason, obj: u64) {
    if on() {
        wait_slow(gp, why, obj)
    }
}

#[cold]
fn wait_slow(gp: *mut G, why: WaitReason, obj: u64) {
    // SAFETY: the calling thread's running G, so its M is the calling thread's
    // and the Cells are its own.
    unsafe {
        let m = (*gp).m;
        if !m.is_null() {
            (*m).trace.why.set(why as u8);
            (*m).trace.obj.set(obj);
        }
    }
}

/// A parked G was made runnable by the calling thread.
#[inline(always)]
pub fn go_unblock(gp: *mut G, src: Src) {
    if on() {
        go_unblock_slow(gp, src)
    }
}

/// A G's `trace_flow`: bits 32..64 the trace generation of its last wake (the low 32
/// bits of GEN: a trace would have to start 2^32 times while the G waits to run for
/// a stale wake to pass for one of this trace), bits 0..24 that wake's number
/// (counted from 1 in each trace, wrapping at 2^24: a flow id may repeat after 16
/// million wakes of one G, when the earlier arrow is long finished), and
/// [`FLOW_PENDING`] while the G's next start is to end that wake's arrow.
/// A start ends a wake's arrow only if the wake was in the same trace: a G woken
/// just before a stop that runs after the next start would end an arrow that trace
/// never began (t_trace_restart_no_stale_flow; with a generation byte, as first
/// done, the same happened 256 traces later: t_trace_gen_wrap_no_stale_flow).
const FLOW_NUMBER: u32 = (1 << 24) - 1;

/// The bit of a `trace_flow` value set by a wake and cleared by the start after it.
const FLOW_PENDING: u64 = 1 << 24;

/// The generation of a `trace_flow` value's wake (see [`FLOW_NUMBER`]).
#[inline(always)]
fn flow_gen(v: u64) -> u32 {
    (v >> 32) as u32
}

#[cold]
fn go_unblock_slow(gp: *mut G, src: Src) {
    // SAFETY: the caller won the G (it is Runnable and not yet queued): nobody
    // starts it before these stores are published by the queueing.
    let g = unsafe { &*gp };
    // The G's wakes are numbered within a trace (see `flow_gen`); the JSON's flow
    // id is (G id << 32 | number).
    let v = g.trace_flow.load(Ordering::Relaxed);
    let gen = GEN.load(Ordering::Relaxed) as u32;
    let last = if flow_gen(v) == gen {
        v as u32 & FLOW_NUMBER
    } else {
        0
    };
    let id = (last + 1) & FLOW_NUMBER;
    let id = id.max(1);
    g.trace_flow.store(
        ((gen as u64) << 32) | FLOW_PENDING | id as u64,
        Ordering::Relaxed,
    );
    // The waker: the calling thread's running G and its M (one TLS read).
    let me = tls::getg();
    // SAFETY: a non-null slot points at a live G (tls::getm's reasoning).
    let (by, m) = match unsafe { me.as_ref() } {
        Some(w) if w.is_user() => (w.goid, w.m),
        _ => return unblock_alone(g.goid, src, id, 0),
    };
    if m.is_null() {
        return unblock_alone(g.goid, src, id, by);
    }
    // A G wakes G `g`: held back by one record (see Ready, also for its time).
    // SAFETY: `m` is the calling thread's live M (non-null, checked above); an M
    // outlives its thread's calls into the runtime.
    let m = unsafe { &*m };
    let (goid, parked) = (g.goid, g.wait_info().1);
    // The common case takes no call (and so has no register to save): membarrier
    // and the counter for a clock (ON_FAST), no wake held back yet. As hold_wake.
    let t = &m.trace;
    // Dekker with the stopper, as with_buf (module comment).
    t.busy.store(true, Ordering::Relaxed);
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
    let mut held = false;
    if ON.load(Ordering::SeqCst) == ON_FAST {
        // SAFETY: busy is set and tracing is on with membarrier: the stopper waits
        // for us (see the module comment), so nobody else reaches the buffer.
        let b = unsafe { &mut *t.buf.get() };
        if b.gen == GEN.load(Ordering::Relaxed) && b.pending.is_none() {
            let timed = !b.fusing || b.last_ts == 0;
            let ts = if timed {
                super::arch::cputicks()
            } else {
                b.last_ts << TICK_SHIFT
            };
            b.pending = Some(Ready {
                g: goid,
                by,
                id,
                ts,
                timed,
                parked,
            });
            held = true;
        }
    }
    t.busy.store(false, Ordering::Release);
    if !held {
        hold_wake_on(m, goid, by, id, parked);
    }
}

/// go_unblock's hold of a wake on `m` by `by` of G `g` (flow number `id`, park stamp
/// `parked`) where its common case did not apply (see [`Buf::hold_wake`]).
#[inline(never)]
fn hold_wake_on(m: &M, g: i64, by: i64, id: u32, parked: u64) {
    with_buf(m, |slot| {
        let gen = GEN.load(Ordering::Relaxed);
        if let Some(b) = prepare(slot, gen, || (m.id, m.procid.load(Ordering::Relaxed))) {
            b.hold_wake(g, by, id, parked, now);
        }
    });
}

/// The Unblock record of a wake of G `g` (flow number `id`) by `by` (0: no G) that
/// is not held back: by a thread that is no G (the shared buffer if it is no M
/// either), by the scheduler (a timer, netpoll).
#[inline(never)]
fn unblock_alone(g: i64, src: Src, id: u32, by: i64) {
    // SAFETY: see go_create_slow.
    emit(Kind::Unblock, src as u8, |c, _| unsafe {
        c.gid(g);
        c.uv(id as u64);
        c.uv(by as u64);
    });
}

/// rt_entersyscall by the G running on `m`, which held P `p`.
#[inline(always)]
pub fn syscall_enter(m: &M, gp: *const G, p: i32) {
    if on() {
        syscall_enter_slow(m, gp, p)
    }
}

#[cold]
fn syscall_enter_slow(m: &M, gp: *const G, p: i32) {
    let gen = GEN.load(Ordering::Relaxed);
    if m.trace.open.get() != gen {
        return;
    }
    m.trace.in_syscall.set(gen);
    let g = goid_of(gp);
    // SAFETY: see go_create_slow.
    record(m, Kind::SyscallEnter, 0, When::Now, |c, _| unsafe {
        c.sv(p as i64);
        c.gid(g);
    });
}

/// rt_exitsyscall: `how` 1 = its own P back, 2 = an idle P, 3 = none (slow path).
#[inline(always)]
pub fn syscall_exit(m: &M, gp: *const G, how: i64) {
    if on() {
        syscall_exit_slow(m, gp, how)
    }
}

#[cold]
fn syscall_exit_slow(m: &M, gp: *const G, how: i64) {
    let gen = GEN.load(Ordering::Relaxed);
    if m.trace.in_syscall.replace(0) != gen || m.trace.open.get() != gen {
        return;
    }
    let p = if how == 3 { -1 } else { pid(m) };
    let g = goid_of(gp);
    // SAFETY: see go_create_slow.
    record(m, Kind::SyscallExit, 0, When::Now, |c, _| unsafe {
        c.sv(p as i64);
        c.gid(g);
        c.uv(how as u64);
    });
}

/// The P `p` took G `g` (and maybe more) from P `from`.
#[inline(always)]
pub fn steal(p: i32, from: i32, g: *const G) {
    if on() {
        let g = goid_of(g);
        // SAFETY: see go_create_slow.
        emit(Kind::Steal, 0, |c, _| unsafe {
            c.sv(p as i64);
            c.gid(g);
            c.sv(from as i64);
        });
    }
}

/// netpoll made `n` Gs runnable.
#[inline(always)]
pub fn netpoll(n: usize) {
    if on() && n > 0 {
        // SAFETY: see go_create_slow.
        emit(Kind::Timers, TIMERS_NETPOLL, |c, _| unsafe {
            c.uv(n as u64)
        });
    }
}

/// `n` timers of P `p` fired.
#[inline(always)]
pub fn timers(p: i32, n: usize) {
    if on() && n > 0 {
        // SAFETY: see go_create_slow.
        emit(Kind::Timers, 0, |c, _| unsafe {
            c.sv(p as i64);
            c.uv(n as u64);
        });
    }
}

/// sysmon asked the G `g` on P `p` to give up its P (`signal`: by signal too).
#[inline(always)]
pub fn preempt_request(p: i32, g: *const G, signal: bool) {
    if on() {
        let g = goid_of(g);
        // SAFETY: see go_create_slow.
        emit(Kind::PreemptReq, 0, |c, _| unsafe {
            c.sv(p as i64);
            c.gid(g);
            c.uv(signal as u64);
        });
    }
}

/// P `p` was handed off (taken from a G in a system call).
#[inline(always)]
pub fn handoff(p: i32) {
    if on() {
        // SAFETY: see go_create_slow.
        emit(Kind::Handoff, 0, |c, _| unsafe { c.sv(p as i64) });
    }
}

// ---- start, stop, exit, fork -----------------------------------------------------

/// Whether the kernel keeps time with the TSC (then it is constant-rate and in step
/// across CPUs, and the trace stamps events with it).
fn tsc_is_clocksource() -> bool {
    // Read into a buffer of our own: rt_trace_start allocates nothing it cannot
    // fail to get (see `room`).
    let mut buf = [0u8; 64];
    // SAFETY: a NUL-terminated path; a fresh fd, read into our buffer and closed.
    let n = unsafe {
        let fd = libc::open(
            c"/sys/devices/system/clocksource/clocksource0/current_clocksource".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return false;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    n > 0 && buf[..n as usize].trim_ascii() == b"tsc"
}

/// Registers for membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED); false where the
/// kernel (or valgrind) has none: emitters then fence themselves ([`ON_STRONG`]).
fn membarrier_register() -> bool {
    const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;
    // SAFETY: a plain system call with integer arguments.
    unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 }
}

/// A full fence on every running thread of the process (see the module comment).
fn membarrier() -> bool {
    const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    // SAFETY: a plain system call with integer arguments; it touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, PRIVATE_EXPEDITED, 0, 0) == 0 }
}

/// The scratch file for raw buffers: unlinked at once (O_TMPFILE where the file
/// system has it), in the directory of the trace.
fn scratch_file(path: &core::ffi::CStr) -> Result<i32> {
    let bytes = path.to_bytes();
    // The directory and the fallback name as C strings, in memory reserved fallibly
    // (no host dies of the trace's allocations, see `room`).
    let mut dir: Vec<u8> = Vec::new();
    let d: &[u8] = match bytes.iter().rposition(|&c| c == b'/') {
        Some(0) => b"/",
        Some(i) => &bytes[..i],
        None => b".",
    };
    dir.try_reserve_exact(d.len() + 1)
        .map_err(|_| Error::NoMem)?;
    dir.extend_from_slice(d);
    dir.push(0);
    // SAFETY: a NUL-terminated path (a CStr's bytes have no NUL inside); a new unnamed
    // file we own.
    let fd = unsafe {
        libc::open(
            dir.as_ptr().cast(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd >= 0 {
        return Ok(fd);
    }
    const SUFFIX: &[u8] = b".mrt-scratch-";
    let mut name: Vec<u8> = Vec::new();
    name.try_reserve_exact(bytes.len() + SUFFIX.len() + 21)
        .map_err(|_| Error::NoMem)?;
    name.extend_from_slice(bytes);
    name.extend_from_slice(SUFFIX);
    put_u64(&mut name, std::process::id() as u64);
    name.push(0);
    // SAFETY: `name` is a NUL-terminated C string that outlives the call; O_EXCL
    // makes a new file we own (the name is unlinked at once).
    let fd = unsafe {
        libc::open(
            name.as_ptr().cast(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd < 0 {
        // SAFETY: errno right after the failing call.
        return Err(match unsafe { *libc::__errno_location() } {
            libc::ENOMEM => Error::NoMem,
            libc::EMFILE | libc::ENFILE => Error::Again,
            _ => Error::Inval,
        });
    }
    // SAFETY: the name we just created.
    unsafe { libc::unlink(name.as_ptr().cast()) };
    Ok(fd)
}

/// rt_trace_start: Error::Inval for a path that cannot be created and written,
/// Error::Already if a trace runs, Error::NoMem / Error::Again when out of memory /
/// file descriptors, Error::Shutdown in a fork child before its rt_init.
pub fn start(path: &core::ffi::CStr) -> Result<()> {
    let _c = CONTROL.lock();
    // The path may name a FIFO whose reader goes away: EPIPE, not the host's death.
    let _nopipe = super::signal::NoSigpipe::new();
    if ON.load(Ordering::Acquire) != 0 {
        return Err(Error::Already);
    }
    if super::run_state() == super::RunState::Forked {
        // A fork child before its rt_init: the parent's Ms are still listed.
        return Err(Error::Shutdown);
    }
    // What can fail without touching the host's file comes first: the memory and
    // the scratch file. Then the file, and if even its header cannot be written, a
    // file this call created is removed again.
    let mut out = Vec::new();
    if out.try_reserve(OUT_FLUSH + (64 << 10)).is_err() {
        return Err(Error::NoMem);
    }
    let raw = scratch_file(path)?;
    let (fd, created) = match open_trace_file(path) {
        Ok(f) => f,
        Err(e) => {
            // SAFETY: ours.
            unsafe { libc::close(raw) };
            return Err(e);
        }
    };
    if !write_all(fd, b"{\"traceEvents\":[\n") {
        // SAFETY: both ours; `path` names the file this call made when `created`.
        unsafe {
            libc::close(fd);
            libc::close(raw);
            if created {
                libc::unlink(path.as_ptr());
            }
        }
        return Err(Error::Inval);
    }
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if !REGISTERED.load(Ordering::Relaxed) && membarrier_register() {
        REGISTERED.store(true, Ordering::Relaxed);
    }
    TSC.store(tsc_is_clocksource(), Ordering::Relaxed);
    let gen = GEN.load(Ordering::Relaxed) + 1;
    let ns0 = nanotime();
    *WRITER.lock() = Some(Writer {
        fd,
        t0: now(),
        ns0,
        t1: 0,
        ns1: 0,
        first: true,
        failed: false,
        out,
        mlanes: Vec::new(),
        planes: Vec::new(),
        names: Vec::new(),
        syms: Vec::new(),
    });
    LOST.store(0, Ordering::Relaxed);
    RAW_OFF.store(0, Ordering::Relaxed);
    RAW_FAILED.store(false, Ordering::Relaxed);
    RAW_FD.store(raw, Ordering::Release);
    GEN.store(gen, Ordering::Release);
    let on = match (
        REGISTERED.load(Ordering::Relaxed),
        TSC.load(Ordering::Relaxed),
    ) {
        (true, true) => ON_FAST,
        (true, false) => ON_WEAK,
        (false, _) => ON_STRONG,
    };
    ON.store(on, Ordering::SeqCst);
    Ok(())
}

/// Opens the trace's file at `path` for writing, emptied; and whether this call
/// created it (else it existed, and was truncated).
fn open_trace_file(path: &core::ffi::CStr) -> Result<(i32, bool)> {
    let open = |flags: libc::c_int| {
        // SAFETY: a valid C string; the flags ask for a file to write, ours.
        unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CREAT | libc::O_CLOEXEC | flags,
                0o644,
            )
        }
    };
    let fd = open(libc::O_EXCL);
    if fd >= 0 {
        return Ok((fd, true));
    }
    // SAFETY: errno right after the failing call.
    let mut err = unsafe { *libc::__errno_location() };
    if err == libc::EEXIST {
        let fd = open(libc::O_TRUNC);
        if fd >= 0 {
            return Ok((fd, false));
        }
        // SAFETY: errno right after the failing call.
        err = unsafe { *libc::__errno_location() };
    }
    Err(match err {
        libc::ENOMEM => Error::NoMem,
        libc::EMFILE | libc::ENFILE => Error::Again,
        _ => Error::Inval,
    })
}

/// rt_trace_stop: Error::Inval if no trace runs (Error::Inval also when writing the
/// file failed: the trace is stopped and the file closed either way).
pub fn stop() -> Result<()> {
    let _c = CONTROL.lock();
    // The JSON is written here: a FIFO whose reader left gives EPIPE (RT_EINVAL), not
    // a SIGPIPE that kills the host.
    let _nopipe = super::signal::NoSigpipe::new();
    let was = ON.swap(0, Ordering::SeqCst);
    if was == 0 {
        return Err(Error::Inval);
    }
    if was != ON_STRONG && !membarrier() {
        // Registered, so this cannot fail short of a kernel bug: stopping without
        // the fence could read a buffer an M is writing.
        super::throw("rt_trace_stop: membarrier failed after registration");
    }
    // Every M's buffer, once its owner is out of its busy section.
    {
        let s = super::SCHED.lock();
        let mut x = s.allm;
        while !x.is_null() {
            // SAFETY: Ms on allm are live under the sched lock; `busy` clear with
            // tracing off means the owner no longer touches `buf` (module comment).
            unsafe {
                let t = &(*x).trace;
                while t.busy.load(Ordering::Acquire) {
                    core::hint::spin_loop();
                }
                flush_m(&*x, &mut *t.buf.get());
                x = (*x).alllink;
            }
        }
    }
    if let Some(b) = FOREIGN.lock().take() {
        if b.gen == GEN.load(Ordering::Relaxed) {
            flush_raw(0, 0, &b.bytes);
        }
    }
    // No M is busy and none will be (tracing is off): the scratch file is ours.
    let raw = RAW_FD.swap(-1, Ordering::AcqRel);
    let end = RAW_OFF.load(Ordering::Relaxed);
    let Some(mut w) = WRITER.lock().take() else {
        // SAFETY: ours.
        unsafe { libc::close(raw) };
        return Err(Error::Inval);
    };
    w.t1 = now();
    w.ns1 = nanotime();
    CONVERT_NOMEM.store(false, Ordering::Relaxed);
    let read_ok = convert(&mut w, raw, end);
    // SAFETY: ours, and nobody writes to it any more.
    unsafe { libc::close(raw) };
    let r = w.finish();
    if CONVERT_NOMEM.load(Ordering::Relaxed) {
        // The JSON is cut short or lacks names: memory ran out while converting.
        return Err(Error::NoMem);
    }
    if !read_ok || RAW_FAILED.load(Ordering::Relaxed) {
        return Err(Error::Inval);
    }
    r
}

/// Reads the scratch file's buffers back and writes them as JSON.
fn convert(w: &mut Writer, raw: i32, end: u64) -> bool {
    let mut off = 0u64;
    let mut bytes: Vec<u8> = Vec::new();
    let mut evs: Vec<Ev> = Vec::new();
    let mut woken = 0u64;
    if bytes.try_reserve_exact(BUF_BYTES).is_err() || evs.try_reserve_exact(BUF_BYTES / 10).is_err()
    {
        CONVERT_NOMEM.store(true, Ordering::Relaxed);
        return false;
    }
    while off < end {
        let mut head = [0u8; 32];
        if !read_at(raw, &mut head, off) {
            return false;
        }
        let word =
            |i: usize| u64::from_ne_bytes(head[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let n = (word(0) & 0xffff_ffff) as usize;
        if word(0) >> 32 != RAW_MAGIC || n > BUF_BYTES {
            return false;
        }
        bytes.clear();
        bytes.resize(n, 0);
        if !read_at(raw, &mut bytes, off + 32) {
            return false;
        }
        evs.clear();
        if decode(&bytes, &mut evs, &mut woken).is_none() {
            return false;
        }
        w.encode(word(1) as i64, word(2) as i64, &evs);
        off += 32 + n as u64;
    }
    true
}

fn read_at(fd: i32, mut buf: &mut [u8], mut off: u64) -> bool {
    while !buf.is_empty() {
        // SAFETY: a valid buffer of buf.len() bytes.
        let n = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off as i64) };
        if n < 0 {
            // SAFETY: errno right after the failing call.
            if unsafe { *libc::__errno_location() } == libc::EINTR {
                continue;
            }
            return false;
        }
        if n == 0 {
            return false;
        }
        buf = &mut buf[n as usize..];
        off += n as u64;
    }
    true
}

/// mexit: an M leaves for good; its buffered events go to the scratch file now
/// (while it is still on allm and busy, so that rt_trace_stop waits for the write).
pub fn m_exit(m: &M) {
    let t = &m.trace;
    t.busy.swap(true, Ordering::SeqCst);
    // SAFETY: busy is set by the owner thread; the stopper waits for it.
    let mut b = core::mem::replace(unsafe { &mut *t.buf.get() }, Buf::EMPTY);
    if ON.load(Ordering::SeqCst) != 0 {
        flush_m(m, &mut b);
    }
    t.busy.store(false, Ordering::Release);
}

/// rt_init: `$MRT_TRACE=path` starts a trace for the whole run (once per process);
/// it is stopped at exit. A path that cannot be opened is reported once on stderr
/// (the host asked for the trace through the environment and gets no error code).
pub fn init_from_env() {
    if ENV_DONE.swap(true, Ordering::AcqRel) {
        return;
    }
    // getenv, not std::env::var_os: no copy, so no abort with the heap exhausted.
    // SAFETY: getenv with a NUL-terminated name only reads the environment.
    let v = unsafe { libc::getenv(c"MRT_TRACE".as_ptr()) };
    if v.is_null() {
        return;
    }
    // SAFETY: getenv's non-null result is the variable's NUL-terminated value, used
    // at once (see runtime::env_str).
    let path = unsafe { core::ffi::CStr::from_ptr(v) };
    if path.is_empty() {
        return;
    }
    match start(path) {
        Ok(()) => {
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(stop_at_exit) };
        }
        Err(Error::Already) => {}
        Err(_) => {
            // Three writes, not a formatted line: nothing to allocate.
            super::write_stderr(b"libmrt: MRT_TRACE: cannot write ");
            super::write_stderr(path.to_bytes());
            super::write_stderr(b"\n");
        }
    }
}

extern "C" fn stop_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let _ = stop();
    });
}

/// The atfork child handler: the child does not inherit the parent's trace (see the
/// module comment). Only the forking thread exists; the locks are reset, not taken.
pub fn after_fork() {
    ON.store(0, Ordering::SeqCst);
    // SAFETY: the fork child's only thread: nobody else can hold these locks.
    unsafe {
        CONTROL.get_after_fork();
        take_after_fork(&FOREIGN, |_| {});
        let raw = RAW_FD.swap(-1, Ordering::Relaxed);
        if raw >= 0 {
            libc::close(raw);
        }
        take_after_fork(&WRITER, |w| {
            libc::close(w.fd);
        });
    }
}

/// Empties `l` in a fork child, handing its value to `f` and then freeing the child's
/// copy (it used to be leaked: t_trace_fork_child_frees_writer). Only if the lock was
/// free at the fork: a thread that held it may have been changing the value (a Vec
/// between its realloc and its new pointer), so a taken lock's value is forgotten
/// instead, unused.
///
/// # Safety
/// The fork child's only thread (no holder of `l` can exist any more).
unsafe fn take_after_fork<T>(l: &Lock<Option<T>>, f: impl FnOnce(&T)) {
    match l.try_lock() {
        Some(mut g) => {
            let v = g.take();
            drop(g);
            if let Some(v) = v {
                f(&v);
            }
        }
        // SAFETY: our caller's: no thread but ours exists to hold the lock.
        None => core::mem::forget(unsafe { l.get_after_fork() }.take()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decoded events as tuples of every field, to compare with what a test wrote.
    #[allow(clippy::type_complexity)]
    fn fields(evs: &[Ev]) -> Vec<(i64, u8, u8, i32, i64, i64, u64, u64)> {
        evs.iter()
            .map(|e| (e.ts, e.kind, e.why, e.p, e.g, e.a, e.b, e.c))
            .collect()
    }

    /// An empty buffer of trace generation 1, as `prepare` would start one.
    fn test_buf() -> Buf {
        Buf {
            gen: 1,
            bytes: Vec::with_capacity(BUF_BYTES),
            last_ts: 0,
            chain: Chain::default(),
            pending: None,
            fusing: false,
            create_end: usize::MAX,
            create_by: 0,
            untimed_left: 0,
        }
    }

    /// The compact records decode to what was put, extremes included (each kind with
    /// its own fields); a held-back wake comes out on its own or inside the switch
    /// it rode in, at its own time; a time that goes back is recorded as no time (a
    /// lane's time never decreases).
    #[test]
    fn records_round_trip_through_the_varint_encoding() {
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        let t0 = (1i64 << 40) + 3; // not a whole unit: rounded down
        let r = WaitReason::ChanRecv as u8;
        // SAFETY (all bodies): encode leaves MAX_REC bytes for them.
        b.encode(Kind::Start, 0, t0, |c, _| unsafe {
            c.sv(0);
            c.gid(1);
            c.uv(0);
        });
        b.encode(Kind::Switch, r, t0 + 5 * u, |c, _| unsafe {
            c.sv(-1);
            c.gid(i64::MAX);
            c.obj(u64::MAX);
            c.gid(7);
            c.uv(1 << 32);
        });
        b.encode(Kind::Stop, Cause::Exit as u8, t0 + 3 * u, |c, _| unsafe {
            c.sv(1023);
            c.gid(7);
            c.obj(5);
        });
        b.encode(Kind::Stop, Cause::Yield as u8, t0 + 6 * u, |c, _| unsafe {
            c.sv(0);
            c.gid(1);
            c.obj(0); // no object: the next is still relative to 5
        });
        b.pending = Some(Ready {
            g: 9,
            by: 1,
            id: 4,
            ts: t0 + 20 * u,
            timed: true,
            parked: 0,
        });
        b.put_pending();
        b.encode(Kind::Steal, 0, t0 + 21 * u, |c, _| unsafe {
            c.sv(1);
            c.gid(5);
            c.sv(-3);
        });
        let woke = t0 + 25 * u;
        b.encode(Kind::WokeSwitch, r, t0 + 30 * u, |c, t| unsafe {
            c.sv(0);
            c.gid(1);
            c.obj(0x7fff_1234_5678);
            c.gid(9);
            c.uv(((t >> TICK_SHIFT) - (woke >> TICK_SHIFT)) as u64);
        });
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got, &mut 0).is_some());
        let base = t0 & !(u - 1);
        let w = Src::Waker as u8;
        #[rustfmt::skip]
        let want = [
            (base, Kind::Start, 0, 0, 1, 0, 0, 0),
            (base + 5 * u, Kind::Switch, r, -1, i64::MAX, 7, u64::MAX, 7 << 32 | 1 << 32),
            (base + 5 * u, Kind::Stop, Cause::Exit as u8, 1023, 7, 0, 5, 0),
            (base + 6 * u, Kind::Stop, Cause::Yield as u8, 0, 1, 0, 0, 0),
            (base + 20 * u, Kind::Unblock, w, -1, 9, 9 << 32 | 4, 1, 0),
            (base + 21 * u, Kind::Steal, 0, 1, 5, -3, 0, 0),
            (base + 25 * u, Kind::Unblock, w, -1, 9, 1, 1, 0),
            (base + 30 * u, Kind::Switch, r, 0, 1, 9, 0x7fff_1234_5678, 1),
        ];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want.iter()) {
            assert_eq!(
                (g.ts, g.kind, g.why, g.p, g.g, g.a, g.b, g.c),
                (w.0, w.1 as u8, w.2, w.3, w.4, w.5, w.6, w.7)
            );
        }
        // A truncated buffer is refused, not misread.
        assert!(decode(&b.bytes[..b.bytes.len() - 1], &mut Vec::new(), &mut 0).is_none());
    }

    /// The switches of a ping-pong after the first two are ShortSwitch records of
    /// three bytes, and decode to what the long WokeSwitch would: the wake by the
    /// stopping G at its own time, and the switch with its P, Gs and wait object. A
    /// switch that does not mirror the last one (another P, another object, no wake
    /// held back) is written whole.
    #[test]
    fn a_ping_pong_switch_is_three_bytes_and_decodes_whole() {
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        let t0 = 1i64 << 40;
        let r = WaitReason::ChanRecv as u8;
        let (oa, ob) = (0x7f00_0000_1000u64, 0x7f00_0000_2040u64);
        // (p, stopping G, its object, starting G, woke it first)
        let steps: [(i64, i64, u64, i64, bool); 8] = [
            (0, 1, oa, 2, true),
            (0, 2, ob, 1, true),
            (0, 1, oa, 2, true),  // short
            (0, 2, ob, 1, true),  // short
            (1, 1, oa, 2, true),  // another P: whole
            (1, 2, ob, 1, true),  // short: mirrors the one on P 1
            (1, 1, oa, 2, false), // no wake held back: a Switch
            (1, 2, oa, 1, true),  // another object than the switch before last
        ];
        let mut sizes = Vec::new();
        for (i, &(p, g, obj, a, woke)) in steps.iter().enumerate() {
            let t = t0 + 10 * i as i64 * u;
            if woke {
                b.pending = Some(Ready {
                    g: a,
                    by: g,
                    id: 1,
                    ts: t + 3 * u,
                    timed: true,
                    parked: 0,
                });
            }
            let len = b.bytes.len();
            b.put_switch(r, t + 7 * u, p, g, obj, a, if woke { 0 } else { 5 });
            sizes.push(b.bytes.len() - len);
        }
        for i in [2, 3, 5] {
            assert_eq!(sizes[i], 3, "step {i}: {sizes:?}");
        }
        for i in [0, 1, 4, 6, 7] {
            assert!(sizes[i] > 3, "step {i}: {sizes:?}");
        }
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got, &mut 0).is_some());
        let mut want = Vec::new();
        let mut woken = 0u64;
        for (i, &(p, g, obj, a, woke)) in steps.iter().enumerate() {
            let t = t0 + 10 * i as i64 * u;
            let mut c = 5 | (a as u64) << 32;
            if woke {
                woken += 1;
                c = woken;
                want.push((
                    t + 3 * u,
                    Kind::Unblock as u8,
                    Src::Waker as u8,
                    -1,
                    a,
                    woken as i64,
                    g as u64,
                    0,
                ));
            }
            want.push((t + 7 * u, Kind::Switch as u8, r, p as i32, g, a, obj, c));
        }
        let got = fields(&got);
        assert_eq!(got, want);
    }

    /// A spawn burst's Gs each exit into the next: every switch after the first
    /// with no wait object whose stopping G is the one the last switch started, on
    /// the same P, is a ChainSwitch of four bytes here (kind, time, starting G, flow),
    /// three for an exit or a yield with no flow (a new G), and decodes to the whole
    /// Switch; one on another P, from another G, or with a `why` of 0 (which Start's
    /// own records have) is written whole.
    #[test]
    fn an_exit_into_the_next_g_is_a_chain_switch() {
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        let t0 = 1i64 << 40;
        let (exit, yld) = (Cause::Exit as u8, Cause::Yield as u8);
        let none = WaitReason::None as u8;
        let park = WaitReason::ChanRecv as u8;
        let f = 0x5555_0000_1234u64;
        b.put_create(|| t0, 2, 1, f);
        // (why, p, stopping G, starting G, flow, ChainSwitch bytes: 0 for a Switch)
        let steps: [(u8, i64, i64, i64, u64, usize); 9] = [
            (park, 0, 1, 2, 0, 0), // the first switch: nothing to follow
            (exit, 0, 2, 3, 0, 3),
            (exit, 0, 3, 4, 7, 4), // with a flow
            (yld, 0, 4, 5, 0, 3),  // a yield too
            (yld, 0, 5, 6, 9, 4),  // with a flow
            (exit, 1, 6, 2, 0, 0), // another P
            (exit, 1, 9, 3, 0, 0), // not the G the last switch started
            (none, 1, 3, 4, 0, 0), // why 0: a Start's
            (park, 1, 4, 5, 0, 4), // a park with no object
        ];
        for (i, &(why, p, g, a, flow, chain_bytes)) in steps.iter().enumerate() {
            let len = b.bytes.len();
            b.put_plain_switch(why, t0 + (10 + i as i64) * u, p, g, 0, a, flow);
            let n = b.bytes.len() - len;
            if chain_bytes != 0 {
                assert_eq!(n, chain_bytes, "step {i}");
                assert_eq!(b.bytes[len] & 15, Kind::Start as u8, "step {i}");
            } else {
                assert!(n > 4, "step {i}: {n}");
                assert_eq!(b.bytes[len] & 15, Kind::Switch as u8, "step {i}");
            }
        }
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got, &mut 0).is_some());
        let mut want = vec![(t0, Kind::Create as u8, 0, -1, 2, 1, f, 0)];
        for (i, &(why, p, g, a, flow, _)) in steps.iter().enumerate() {
            let c = if flow == 0 {
                0
            } else {
                flow | (a as u64) << 32
            };
            let t = t0 + (10 + i as i64) * u;
            want.push((t, Kind::Switch as u8, why, p as i32, g, a, 0, c));
        }
        let got = fields(&got);
        assert_eq!(got, want);
    }

    /// A spawn burst's Creates read the clock once in CREATE_UNTIMED + 1 (eight): the
    /// others (same creator, same function, the next G id, nothing else written since
    /// the Create before) are CreateNext records of one byte that decode to the whole
    /// Create, placed at the time of the record before the run (never after the
    /// created G's start, which may come before the record after the run: a run
    /// spread evenly up to that record showed G25946 starting before its creation
    /// in a trace of a spawn storm). A Create by another G, of another function, of
    /// a G whose id does not follow, or after another record, reads the clock and is
    /// written whole.
    #[test]
    fn a_spawn_burst_reads_the_clock_once_in_eight_creates() {
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        let t0 = 1i64 << 40;
        let (f, f2) = (0x5555_0000_1234u64, 0x5555_0000_9000u64);
        // (G, creator, function, written whole); G 0: a yield (switch 7 -> 8).
        let mut steps: Vec<(i64, i64, u64, bool)> = Vec::new();
        for g in 10..26 {
            steps.push((g, 1, f, g == 10 || g == 18)); // the eighth after a timed one
        }
        steps.extend([
            (26, 7, f, true),  // another creator
            (27, 7, f2, true), // another function
            (29, 7, f2, true), // not the next id (a new goid batch)
            (30, 7, f2, false),
            (0, 0, 0, true),   // the switch
            (40, 7, f2, true), // after another record
            (41, 7, f2, false),
            (42, 7, f2, false), // the buffer ends: at the lower bound
        ]);
        let y = Cause::Yield as u8;
        // Events as decoded, each with whether its time is its own.
        let mut want = Vec::new();
        for (i, &(g, by, func, whole)) in steps.iter().enumerate() {
            let t = t0 + (100 + 3 * i as i64) * u;
            if g == 0 {
                b.put_plain_switch(y, t, 0, 7, 0, 8, 0);
                want.push(((t, Kind::Switch as u8, y, 0, 7, 8, 0, 0), true));
                continue;
            }
            let mut read = false;
            let len = b.bytes.len();
            b.put_create(
                || {
                    read = true;
                    t
                },
                g,
                by,
                func,
            );
            assert_eq!(read, whole, "step {i}: clock read");
            assert_eq!(b.bytes.len() - len == 1, !whole, "step {i}: size");
            want.push(((t, Kind::Create as u8, 0, -1, g, by, func, 0), whole));
        }
        // The untimed ones: at the time of the timed event before their run.
        for k in 0..want.len() {
            if !want[k].1 {
                want[k].0 .0 = want[k - 1].0 .0;
            }
        }
        let want: Vec<_> = want.into_iter().map(|w| w.0).collect();
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got, &mut 0).is_some());
        let got = fields(&got);
        assert_eq!(got, want);
        // Times only grow.
        assert!(got.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    /// Once a held-back wake has gone into a switch (a ping-pong), the next wake by a
    /// G reads no clock: it is placed at the switch it goes into, or, written on its
    /// own, at its lower bound: the later of the buffer's last record before it and
    /// the woken G's park stamp (never before that park, never after the woken G's
    /// start); after that the next wake reads the clock again. A fresh buffer (no
    /// last record) always reads it.
    #[test]
    fn a_wake_after_a_fused_one_reads_no_clock() {
        TSC.store(true, Ordering::Relaxed);
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        let t0 = 1i64 << 40;
        let r = WaitReason::ChanRecv as u8;
        let (oa, ob) = (0x7f00_0000_1000u64, 0x7f00_0000_2040u64);
        let stamp = |t: i64| t as u64 & WAIT_TSC_MASK;
        let reads = Cell::new(0);
        let clock = |t: i64| {
            let reads = &reads;
            move || {
                reads.set(reads.get() + 1);
                t
            }
        };
        let steal = |b: &mut Buf, t: i64| {
            b.put_pending();
            // SAFETY: encode leaves MAX_REC bytes for the body.
            b.encode(Kind::Steal, 0, t, |c, _| unsafe {
                c.sv(0);
                c.gid(5);
                c.sv(1);
            });
        };
        // A fresh buffer's first wake reads the clock, and goes into the switch.
        b.hold_wake(2, 1, 1, stamp(t0), clock(t0 + 2 * u));
        b.put_switch(r, t0 + 5 * u, 0, 1, oa, 2, 0);
        assert_eq!(reads.get(), 1);
        // The next wake does not; it too goes into a switch: placed at it.
        b.hold_wake(1, 2, 1, stamp(t0 + 3 * u), clock(0));
        assert_eq!(reads.get(), 1);
        b.put_switch(r, t0 + 9 * u, 0, 2, ob, 1, 0);
        // Untimed again, but the next record is no switch to the woken G: the wake
        // is written on its own at the woken G's park, after the last record...
        b.hold_wake(1, 2, 2, stamp(t0 + 10 * u), clock(0));
        assert_eq!(reads.get(), 1);
        steal(&mut b, t0 + 12 * u);
        // ... and the wake after that reads the clock again.
        b.hold_wake(5, 2, 1, stamp(0), clock(t0 + 14 * u));
        assert_eq!(reads.get(), 2);
        b.put_switch(r, t0 + 15 * u, 0, 2, oa, 5, 0);
        // Untimed, its G parked before the last record: at the last record.
        b.hold_wake(6, 5, 1, stamp(t0 + 11 * u), clock(0));
        steal(&mut b, t0 + 17 * u);
        assert_eq!(reads.get(), 2);
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got, &mut 0).is_some());
        let got: Vec<_> = got.iter().map(|e| (e.ts, e.kind, e.g, e.a, e.b)).collect();
        let (w, sw, st) = (Kind::Unblock as u8, Kind::Switch as u8, Kind::Steal as u8);
        #[rustfmt::skip]
        let want = vec![
            (t0 + 2 * u, w, 2, 1, 1),
            (t0 + 5 * u, sw, 1, 2, oa),
            (t0 + 9 * u, w, 1, 2, 2),
            (t0 + 9 * u, sw, 2, 1, ob),
            (t0 + 10 * u, w, 1, 1 << 32 | 2, 2),
            (t0 + 12 * u, st, 5, 1, 0),
            (t0 + 14 * u, w, 5, 3, 2),
            (t0 + 15 * u, sw, 2, 5, oa),
            (t0 + 15 * u, w, 6, 6 << 32 | 1, 5),
            (t0 + 17 * u, st, 5, 1, 0),
        ];
        assert_eq!(got, want);
    }

    /// A ping-pong's steady state: once a wake went into a mirror switch, the next
    /// mirror switch's wake reads no clock, and the switch is a TwinSwitch of two
    /// bytes (kind 0), or of one (a TinySwitch) where its time since the last record
    /// fits in 4 bits and it parks for the reason of the park on its object before;
    /// either decodes as that wake at the switch's time and the switch (its `why`
    /// too), the flow ids numbered by the decoder as for a ShortSwitch; a timed
    /// wake's mirror switch is still a ShortSwitch.
    #[test]
    fn a_ping_pong_switch_with_an_untimed_wake_is_two_bytes_or_one() {
        TSC.store(true, Ordering::Relaxed);
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        let r = WaitReason::ChanRecv as u8;
        let r2 = WaitReason::ChanSend as u8;
        let (oa, ob) = (0x7f00_0000_1000u64, 0x7f00_0000_2040u64);
        let mut sizes = Vec::new();
        // (stopping G, its object, starting G, time units since the step before,
        // why); every switch woke its G first.
        let steps = [
            (1, oa, 2, 0, r),
            (2, ob, 1, 10, r),
            (1, oa, 2, 10, r),
            (2, ob, 1, 40, r),
            (1, oa, 2, 15, r2),
            (2, ob, 1, 15, r),
            (1, oa, 2, 0, r2),
        ];
        let mut t = 1i64 << 40;
        let mut at = Vec::new();
        for &(g, obj, a, gap, why) in &steps {
            t += gap * u;
            at.push(t);
            b.hold_wake(a, g, 1, 0, || t - 4 * u);
            let len = b.bytes.len();
            b.put_switch(why, t, 0, g, obj, a, 0);
            sizes.push(b.bytes.len() - len);
        }
        // Whole (first two: no chain yet; the first wake read the clock), then
        // ShortSwitch-sized no more: the wakes after the first fused one are untimed.
        // One byte where the time fits and the why is that of the park on the same
        // object before; two where the time does not fit (40) or the why changes.
        assert_eq!(&sizes[2..], &[1, 2, 2, 1, 1], "{sizes:?}");
        assert_eq!(b.bytes[b.bytes.len() - 1] & 15, Kind::TinySwitch as u8);
        let mut got = Vec::new();
        let mut woken = 7;
        assert!(decode(&b.bytes, &mut got, &mut woken).is_some());
        let got: Vec<_> = got
            .iter()
            .map(|e| (e.ts, e.kind, e.why, e.g, e.a, e.b, e.c))
            .collect();
        let (w, sw) = (Kind::Unblock as u8, Kind::Switch as u8);
        let mut want = Vec::new();
        for (i, &(g, obj, a, _, why)) in steps.iter().enumerate() {
            let t = at[i];
            let id = 8 + i as u64;
            // The first wake read the clock; the others are placed at their switch.
            let woke = if i == 0 { t - 4 * u } else { t };
            want.push((woke, w, Src::Waker as u8, a, id as i64, g as u64, 0));
            want.push((t, sw, why, g, a, obj, id));
        }
        assert_eq!(got, want);
        assert_eq!(woken, 7 + steps.len() as u64);
    }

    /// A netpoll is a Timers record with a `why` of its own (its kind went to the
    /// TinySwitch) and decodes as a Netpoll event; a Timers record stays one.
    #[test]
    fn a_netpoll_rides_in_a_timers_record() {
        let mut b = test_buf();
        let u = 1i64 << TICK_SHIFT;
        // SAFETY (both): a test buffer with room.
        b.encode(Kind::Timers, 0, 5 * u, |c, _| unsafe {
            c.sv(3);
            c.uv(2);
        });
        b.encode(Kind::Timers, TIMERS_NETPOLL, 7 * u, |c, _| unsafe {
            c.uv(300)
        });
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got, &mut 0).is_some());
        let got: Vec<_> = got
            .iter()
            .map(|e| (e.ts, e.kind, e.why, e.p, e.a))
            .collect();
        assert_eq!(
            got,
            [
                (5 * u, Kind::Timers as u8, 0, 3, 2),
                (7 * u, Kind::Netpoll as u8, 0, -1, 300)
            ]
        );
    }

    /// short_switch's TwinSwitch, written from the park's stamp by put_twin_switch,
    /// is byte for byte the record the general path (put_switch at the stamp's
    /// time, When::ticks) writes, with the same time and chain after it: for a
    /// stamp before the last record (no time), a delta of one byte and of several,
    /// and a stamp past a wrap of the counter's 56 bits.
    #[test]
    fn a_twin_switch_from_the_stamp_is_the_general_paths_record() {
        TSC.store(true, Ordering::Relaxed);
        let u = 1i64 << TICK_SHIFT;
        let r = WaitReason::ChanRecv as u8;
        let (oa, ob) = (0x7f00_0000_1000u64, 0x7f00_0000_2040u64);
        for t0 in [1i64 << 40, (WAIT_TSC_MASK as i64 + 1) * 3 - 40 * u] {
            let (mut fast, mut full) = (test_buf(), test_buf());
            let mut t = t0;
            // (stopping G, its object, starting G, ticks from the last record to
            // the park's stamp, negative: before it)
            let steps = [
                (1, oa, 2, 5 * u),
                (2, ob, 1, 7 * u),
                (1, oa, 2, 3 * u),
                (2, ob, 1, -2 * u),
                (1, oa, 2, 200 * u + 3),
                (2, ob, 1, 70_000 * u),
                (1, oa, 2, 9 * u),
            ];
            let mut twins = 0;
            for (i, &(g, obj, a, dt)) in steps.iter().enumerate() {
                t += 20 * u;
                for b in [&mut fast, &mut full] {
                    b.hold_wake(a, g, i as u32 + 1, 0, || t);
                }
                let stamp = (fast.last_ts << TICK_SHIFT).wrapping_add(dt) as u64 & WAIT_TSC_MASK;
                let ts = When::Stamp(stamp).ticks(full.last_ts);
                full.put_switch(r, ts, 0, g, obj, a, 0);
                match fast.pending {
                    // What short_switch checks on top: an untimed wake of `a` by `g`
                    // in a switch that mirrors the last one.
                    Some(w @ Ready { timed: false, .. })
                        if w.by == g && w.g == a && fast.chain.mirrors(0, g, obj, a) =>
                    {
                        fast.pending = None;
                        fast.put_twin_switch(r, stamp);
                        twins += 1;
                    }
                    _ => fast.put_switch(r, ts, 0, g, obj, a, 0),
                }
                assert_eq!(fast.bytes, full.bytes, "step {i}");
                assert_eq!(fast.last_ts, full.last_ts, "step {i}");
                assert_eq!(fast.chain.flip, full.chain.flip, "step {i}");
                t = fast.last_ts << TICK_SHIFT;
            }
            // The first two switches are whole (no chain yet): TwinSwitches after.
            assert_eq!(twins, steps.len() - 2);
            let mut got = Vec::new();
            assert!(decode(&fast.bytes, &mut got, &mut 0).is_some());
            assert!(got.windows(2).all(|w| w[0].ts <= w[1].ts));
        }
    }

    /// The flags every hook reads fill a cache line of their own, so that no other
    /// static lands beside them (see [`Hot`]).
    #[test]
    fn the_hooks_flags_have_a_cache_line_of_their_own() {
        assert_eq!(core::mem::align_of::<Hot>(), 64);
        assert_eq!(core::mem::size_of::<Hot>(), 64);
        assert_eq!(&HOT as *const Hot as usize % 64, 0);
        assert!(core::ptr::eq(ON, &HOT.on) && core::ptr::eq(GEN, &HOT.gen));
        assert!(core::ptr::eq(TSC, &HOT.tsc));
    }

    /// A G's own stamp (56 bits of the counter) is placed after the buffer's last
    /// record, or at it if the stamp is older.
    #[test]
    fn a_stamp_is_placed_relative_to_the_last_record() {
        TSC.store(true, Ordering::Relaxed);
        let last = (0x1_2345_6789_abcd_i64 | 0x0100_0000_0000_0000) >> TICK_SHIFT;
        let full = last << TICK_SHIFT;
        let s = |t: i64| When::Stamp(t as u64 & WAIT_TSC_MASK);
        assert_eq!(s(full + 1000).ticks(last), full + 1000);
        assert_eq!(s(full - 1000).ticks(last), full);
    }

    /// The JSON a writer (clock: `t1` ticks are `ns1` ns) makes of `bufs` (M, thread,
    /// events), up to the closing bracket (the tail holds the version and counters).
    fn json_of(t1: i64, ns1: i64, bufs: &[(i64, i64, Vec<Ev>)]) -> String {
        let mk = || {
            // SAFETY: a new anonymous file, ours.
            let fd = unsafe { libc::memfd_create(c"mrt-trace-test".as_ptr(), 0) };
            assert!(fd >= 0);
            // SAFETY: dup of the memfd we just made and own; the copy outlives the
            // writer's close.
            let keep = unsafe { libc::dup(fd) };
            assert!(keep >= 0);
            let w = Writer {
                fd,
                t0: 0,
                ns0: 0,
                t1,
                ns1,
                first: true,
                failed: false,
                out: Vec::new(),
                mlanes: Vec::new(),
                planes: Vec::new(),
                names: Vec::new(),
                syms: Vec::new(),
            };
            (w, keep)
        };
        let read = |keep: i32| {
            let mut s = vec![0u8; 1 << 20];
            // SAFETY: a buffer of s.len() bytes; keep is ours.
            let n = unsafe { libc::pread(keep, s.as_mut_ptr().cast(), s.len(), 0) };
            assert!(n >= 0);
            // SAFETY: ours.
            unsafe { libc::close(keep) };
            s.truncate(n as usize);
            let s = String::from_utf8(s).unwrap();
            s[..s.find("\n],\"displayTimeUnit\"").unwrap()].to_string()
        };
        let (mut w, keep) = mk();
        for (m, tid, evs) in bufs {
            w.encode(*m, *tid, evs);
        }
        w.finish().unwrap();
        read(keep)
    }

    /// The JSON of every kind of event, with the extremes of every field, names
    /// that need escaping and times past what 64 bits hold, is what it was when it
    /// was written with format! (the text below): the hand-made writer changed how
    /// it is made, not one byte of it.
    #[test]
    fn the_json_of_every_event_is_unchanged() {
        let ev = |ts: i64, kind: Kind, why: u8, p: i32, g: i64, a: i64, b: u64, c: u64| Ev {
            ts,
            kind: kind as u8,
            why,
            p,
            g,
            a,
            b,
            c,
        };
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w[..s.len()].copy_from_slice(s);
            u64::from_le_bytes(w)
        };
        let (ch, fd, hp) = (
            WaitReason::ChanRecv as u8,
            WaitReason::Fd as u8,
            WaitReason::HostPark as u8,
        );
        let (y, pre) = (Cause::Yield as u8, Cause::Preempted as u8);
        let (ex, nop) = (Cause::Exit as u8, Cause::SyscallNoP as u8);
        use Kind::*;
        let m3 = vec![
            // A name in two chunks: quote, backslash, control characters, UTF-8
            // split across the chunks and a byte that is no UTF-8.
            ev(
                5,
                Name,
                0,
                -1,
                5,
                word(b"a\"b\\c\n\x01") as i64,
                word(b"\x1f\xc3"),
                0,
            ),
            ev(6, Name, 1, -1, 5, word(b"\xa9 \xff z") as i64, 0, 0),
            ev(7, Name, 0, -1, 9, word(b"gone") as i64, 0, 0),
            ev(7, Name, 0, -1, 9, word(b"kept") as i64, 0, 0),
            ev(999, Create, 0, -1, 5, 1, 0, 0),
            ev(1000, Create, 0, -1, 9, 5, 0x10, 0),
            ev(1001, Create, 0, -1, 6, 5, 0x10, 0),
            ev(1_234_567, Start, 0, 0, 5, 5 << 32 | 1, 0, 0),
            ev(1_234_568, Start, 0, -1, 6, 0, 0, 0),
            ev(2_000_000, Stop, ch, 0, 5, 0, 0xdead_beef, 0),
            ev(2_000_001, Stop, ch, 0, 5, 0, 0, 0),
            ev(2_000_002, Stop, fd, 1, 5, 0, 7, 0),
            ev(2_000_003, Stop, hp, 0, 5, 0, 0, 0),
            ev(2_000_004, Stop, hp, -1, 5, 0, 0x10, 0),
            ev(2_000_005, Stop, y, 0, 5, 0, 0x55, 0),
            ev(2_000_006, Stop, ex, 0, i64::MAX, 0, u64::MAX, 0),
            ev(2_000_007, Stop, nop, -1, 5, 0, 0, 0),
            ev(3_000_000, Unblock, 0, -1, 6, 6 << 32 | 2, 5, 0),
            ev(3_000_001, Unblock, 1, -1, 6, 1, 0, 0),
            ev(3_000_002, Unblock, 2, -1, 6, 2, u64::MAX, 0),
            ev(3_000_003, Unblock, 3, -1, i64::MIN, i64::MIN, 0, 0),
            ev(4_000_000, SyscallEnter, 0, 0, 5, 0, 0, 0),
            ev(4_000_001, SyscallEnter, 0, -1, 5, 0, 0, 0),
            ev(4_000_002, SyscallExit, 0, 0, 5, 1, 0, 0),
            ev(4_000_003, SyscallExit, 0, 1, 5, 2, 0, 0),
            ev(4_000_004, SyscallExit, 0, -1, 5, 0, 0, 0),
            ev(5_000_000, Steal, 0, 1, 5, -1, 0, 0),
            ev(5_000_001, Steal, 0, i32::MAX, i64::MAX, i64::MIN, 0, 0),
            ev(5_000_002, Netpoll, 0, -1, 0, 3, 0, 0),
            ev(5_000_003, Timers, 0, 0, 0, 2, 0, 0),
            ev(5_000_004, PreemptReq, 0, 1, 5, 1, 0, 0),
            ev(5_000_005, Handoff, 0, 2, 0, 0, 0, 0),
            ev(
                6_000_000,
                Switch,
                WaitReason::Mutex as u8,
                0,
                5,
                6,
                0x1000,
                6 << 32 | 2,
            ),
            ev(6_000_001, Switch, pre, 0, 6, 5, 0, 0),
            ev(6_000_002, WokeSwitch, fd, -1, 5, 6, 3, 1),
            // No kind of event (kinds are 0..=16): its P gets a lane all the same.
            Ev {
                ts: 7_000_000,
                kind: Kind::Netpoll as u8 + 1,
                p: 7,
                ..Ev::default()
            },
        ];
        let m0 = vec![
            ev(-5, Unblock, 0, -1, 6, 3, 0, 0),
            ev(i64::MAX, Netpoll, 0, -1, 0, 1, 0, 0),
        ];
        let far = vec![
            ev(1 << 40, Netpoll, 0, -1, 0, 1, 0, 0),
            ev(3 << 62, Netpoll, 0, -1, 0, 1, 0, 0),
        ];
        let got = [
            json_of(1000, 1000, &[(3, 1234, m3), (0, 0, m0), (3, 1234, vec![])]),
            // Times whose product overflows 64 bits; and one whose quotient does.
            json_of(1 << 20, 1 << 40, &[(1, 2, far.clone())]),
            json_of(1, i64::MAX, &[(1, 2, far)]),
        ];
        let want: Vec<&str> = FORMAT_JSON.split("\n-----\n").collect();
        assert_eq!(want.len(), got.len());
        for (g, w) in got.iter().zip(want) {
            for (i, (gl, wl)) in g.lines().zip(w.lines()).enumerate() {
                assert_eq!(gl, wl, "line {}", i + 1);
            }
            assert_eq!(g, w);
        }
    }

    /// What format! made of the events of the_json_of_every_event_is_unchanged.
    const FORMAT_JSON: &str = r##"{"ph":"i","s":"t","name":"create G5","cat":"g","pid":1,"tid":3,"ts":0.999,"args":{"g":5,"by":1,"fn":"?","name":"a\"b\\c\u000a\u0001\u0000\u001fé � z"}},
{"ph":"i","s":"t","name":"create G9","cat":"g","pid":1,"tid":3,"ts":1.000,"args":{"g":9,"by":5,"fn":"0x10","name":"kept"}},
{"ph":"i","s":"t","name":"create G6","cat":"g","pid":1,"tid":3,"ts":1.001,"args":{"g":6,"by":5,"fn":"0x10"}},
{"ph":"B","name":"G5","cat":"run","pid":1,"tid":3,"ts":1234.567,"args":{"g":5,"p":0}},
{"ph":"f","bp":"e","name":"wake","cat":"wake","id":21474836481,"pid":1,"tid":3,"ts":1234.567,"args":{"g":5}},
{"ph":"B","name":"G5","cat":"run","pid":2,"tid":0,"ts":1234.567,"args":{"g":5,"m":3}},
{"ph":"B","name":"G6","cat":"run","pid":1,"tid":3,"ts":1234.568,"args":{"g":6,"p":-1}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":2000.000,"args":{"g":5,"why":"chan recv","obj":"0xdeadbeef"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.000,"args":{"g":5,"why":"chan recv","obj":"0xdeadbeef"}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":2000.001,"args":{"g":5,"why":"chan recv"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.001,"args":{"g":5,"why":"chan recv"}},
{"ph":"E","cat":"run","pid":2,"tid":1,"ts":2000.002,"args":{"g":5,"why":"fd","obj":"fd 7"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.002,"args":{"g":5,"why":"fd","obj":"fd 7"}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":2000.003,"args":{"g":5,"why":"host: ?"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.003,"args":{"g":5,"why":"host: ?"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.004,"args":{"g":5,"why":"host: 0x10"}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":2000.005,"args":{"g":5,"why":"yield"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.005,"args":{"g":5,"why":"yield"}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":2000.006,"args":{"g":9223372036854775807,"why":"exit"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.006,"args":{"g":9223372036854775807,"why":"exit"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":2000.007,"args":{"g":5,"why":"syscall (no P)"}},
{"ph":"X","dur":0.001,"name":"ready G6","cat":"ready","pid":1,"tid":3,"ts":3000.000,"args":{"g":6,"by":5,"src":"waker"}},
{"ph":"s","name":"wake","cat":"wake","id":25769803778,"pid":1,"tid":3,"ts":3000.000,"args":{"g":6}},
{"ph":"X","dur":0.001,"name":"ready G6","cat":"ready","pid":1,"tid":3,"ts":3000.001,"args":{"g":6,"by":0,"src":"timer"}},
{"ph":"s","name":"wake","cat":"wake","id":1,"pid":1,"tid":3,"ts":3000.001,"args":{"g":6}},
{"ph":"X","dur":0.001,"name":"ready G6","cat":"ready","pid":1,"tid":3,"ts":3000.002,"args":{"g":6,"by":18446744073709551615,"src":"netpoll"}},
{"ph":"s","name":"wake","cat":"wake","id":2,"pid":1,"tid":3,"ts":3000.002,"args":{"g":6}},
{"ph":"X","dur":0.001,"name":"ready G-9223372036854775808","cat":"ready","pid":1,"tid":3,"ts":3000.003,"args":{"g":-9223372036854775808,"by":0,"src":"waker"}},
{"ph":"s","name":"wake","cat":"wake","id":-9223372036854775808,"pid":1,"tid":3,"ts":3000.003,"args":{"g":-9223372036854775808}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":4000.000,"args":{"g":5,"why":"syscall"}},
{"ph":"B","name":"syscall","cat":"syscall","pid":1,"tid":3,"ts":4000.000,"args":{"g":5}},
{"ph":"B","name":"syscall","cat":"syscall","pid":1,"tid":3,"ts":4000.001,"args":{"g":5}},
{"ph":"E","cat":"syscall","pid":1,"tid":3,"ts":4000.002,"args":{"g":5,"exit":"same P"}},
{"ph":"B","name":"G5","cat":"run","pid":2,"tid":0,"ts":4000.002,"args":{"g":5,"m":3}},
{"ph":"E","cat":"syscall","pid":1,"tid":3,"ts":4000.003,"args":{"g":5,"exit":"idle P"}},
{"ph":"B","name":"G5","cat":"run","pid":2,"tid":1,"ts":4000.003,"args":{"g":5,"m":3}},
{"ph":"E","cat":"syscall","pid":1,"tid":3,"ts":4000.004,"args":{"g":5,"exit":"no P"}},
{"ph":"i","s":"t","name":"steal","cat":"sched","pid":1,"tid":3,"ts":5000.000,"args":{"p":1,"from":-1,"g":5}},
{"ph":"i","s":"t","name":"steal","cat":"sched","pid":1,"tid":3,"ts":5000.001,"args":{"p":2147483647,"from":-9223372036854775808,"g":9223372036854775807}},
{"ph":"i","s":"t","name":"netpoll","cat":"sched","pid":1,"tid":3,"ts":5000.002,"args":{"ready":3}},
{"ph":"i","s":"t","name":"timers","cat":"sched","pid":1,"tid":3,"ts":5000.003,"args":{"fired":2,"p":0}},
{"ph":"i","s":"t","name":"preempt G5","cat":"sched","pid":1,"tid":3,"ts":5000.004,"args":{"g":5,"p":1,"signal":1}},
{"ph":"i","s":"t","name":"handoff","cat":"sched","pid":2,"tid":2,"ts":5000.005,"args":{"p":2,"by":3}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":6000.000,"args":{"g":5,"why":"mutex","obj":"0x1000"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":6000.000,"args":{"g":5,"why":"mutex","obj":"0x1000"}},
{"ph":"B","name":"G6","cat":"run","pid":1,"tid":3,"ts":6000.000,"args":{"g":6,"p":0}},
{"ph":"f","bp":"e","name":"wake","cat":"wake","id":25769803778,"pid":1,"tid":3,"ts":6000.000,"args":{"g":6}},
{"ph":"B","name":"G6","cat":"run","pid":2,"tid":0,"ts":6000.000,"args":{"g":6,"m":3}},
{"ph":"E","cat":"run","pid":2,"tid":0,"ts":6000.001,"args":{"g":6,"why":"preempted"}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":6000.001,"args":{"g":6,"why":"preempted"}},
{"ph":"B","name":"G5","cat":"run","pid":1,"tid":3,"ts":6000.001,"args":{"g":5,"p":0}},
{"ph":"B","name":"G5","cat":"run","pid":2,"tid":0,"ts":6000.001,"args":{"g":5,"m":3}},
{"ph":"E","cat":"run","pid":1,"tid":3,"ts":6000.002,"args":{"g":5,"why":"fd","obj":"fd 3"}},
{"ph":"B","name":"G6","cat":"run","pid":1,"tid":3,"ts":6000.002,"args":{"g":6,"p":-1}},
{"ph":"f","bp":"e","name":"wake","cat":"wake","id":1,"pid":1,"tid":3,"ts":6000.002,"args":{"g":6}},
{"ph":"X","dur":0.001,"name":"ready G6","cat":"ready","pid":1,"tid":0,"ts":0.000,"args":{"g":6,"by":0,"src":"waker"}},
{"ph":"s","name":"wake","cat":"wake","id":3,"pid":1,"tid":0,"ts":0.000,"args":{"g":6}},
{"ph":"i","s":"t","name":"netpoll","cat":"sched","pid":1,"tid":0,"ts":9223372036854775.807,"args":{"ready":1}},
{"ph":"M","name":"process_name","pid":1,"args":{"name":"Ms (OS threads)"}},
{"ph":"M","name":"process_name","pid":2,"args":{"name":"Ps (processors)"}},
{"ph":"M","name":"thread_name","pid":1,"tid":0,"args":{"name":"no M (foreign threads)"}},
{"ph":"M","name":"thread_sort_index","pid":1,"tid":0,"args":{"sort_index":0}},
{"ph":"M","name":"thread_name","pid":1,"tid":3,"args":{"name":"M3 (tid 1234)"}},
{"ph":"M","name":"thread_sort_index","pid":1,"tid":3,"args":{"sort_index":3}},
{"ph":"M","name":"thread_name","pid":2,"tid":0,"args":{"name":"P0"}},
{"ph":"M","name":"thread_name","pid":2,"tid":1,"args":{"name":"P1"}},
{"ph":"M","name":"thread_name","pid":2,"tid":2,"args":{"name":"P2"}},
{"ph":"M","name":"thread_name","pid":2,"tid":7,"args":{"name":"P7"}},
{"ph":"M","name":"thread_name","pid":2,"tid":2147483647,"args":{"name":"P2147483647"}}
-----
{"ph":"i","s":"t","name":"netpoll","cat":"sched","pid":1,"tid":1,"ts":1152921504606846.976,"args":{"ready":1}},
{"ph":"i","s":"t","name":"netpoll","cat":"sched","pid":1,"tid":1,"ts":0.000,"args":{"ready":1}},
{"ph":"M","name":"process_name","pid":1,"args":{"name":"Ms (OS threads)"}},
{"ph":"M","name":"process_name","pid":2,"args":{"name":"Ps (processors)"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"M1 (tid 2)"}},
{"ph":"M","name":"thread_sort_index","pid":1,"tid":1,"args":{"sort_index":1}}
-----
{"ph":"i","s":"t","name":"netpoll","cat":"sched","pid":1,"tid":1,"ts":-1099511627.-776,"args":{"ready":1}},
{"ph":"i","s":"t","name":"netpoll","cat":"sched","pid":1,"tid":1,"ts":0.000,"args":{"ready":1}},
{"ph":"M","name":"process_name","pid":1,"args":{"name":"Ms (OS threads)"}},
{"ph":"M","name":"process_name","pid":2,"args":{"name":"Ps (processors)"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"M1 (tid 2)"}},
{"ph":"M","name":"thread_sort_index","pid":1,"tid":1,"args":{"sort_index":1}}"##;
}
