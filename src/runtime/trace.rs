//! The execution trace (Go's runtime/trace, written as Chrome trace-event JSON that
//! Perfetto and chrome://tracing open): rt_trace_start / rt_trace_stop and
//! `$MRT_TRACE=path` for a whole run.
//!
//! # Recording
//! Scheduler events are compact binary records (a kind, a reason and varints: the
//! time since the buffer's previous event, the P, the G and up to three arguments;
//! 10 to 20 bytes for most) appended to a buffer that belongs to the M which
//! observed them ([`MTrace`], a field of every M);
//! threads that are no M (a foreign thread's rt_go or rt_chan_send waking a G) share
//! one buffer under a lock. Nothing is formatted on the way in: an event is a read of
//! the CPU's time-stamp counter (`arch::cputicks`, where the kernel's clocksource is
//! the TSC; else clock_gettime) and a few stores. A full buffer (`BUF_BYTES`) is
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
//! valgrind) rt_trace_start says so in `STRONG` and emitters set `busy` with a SeqCst
//! swap. A trace has a generation number; a buffer (or an open G slice) of another
//! generation is stale and dropped. The scratch file is closed only once no M is
//! busy, so no late write can reach a descriptor number the process reused.
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
//! Off: one relaxed load per hook. On: a time-stamp read and a record per event (a
//! G-to-G switch is one record); `bench/run.sh :trace` measures both.
//!
//! # fork
//! A fork child does not inherit a running trace: the atfork child handler turns
//! tracing off there and closes the child's copy of the file without writing, and
//! events the parent had buffered are dropped in the child (they are the parent's,
//! which still writes them). `$MRT_TRACE` is honoured once per process, by its first
//! rt_init, so a child's rt_init does not overwrite the parent's file; a child that
//! wants a trace calls rt_trace_start with its own path.

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

use super::error::{Error, Result};
use super::g::G;
use super::m::M;
use super::note::Lock;
use super::time::nanotime;
use super::tls;

/// Tracing is on. Read relaxed by every hook: the only cost when off.
static ON: AtomicBool = AtomicBool::new(false);
/// The current trace's generation (0: none yet).
static GEN: AtomicU64 = AtomicU64::new(0);
/// Events dropped because a buffer could not be allocated.
static LOST: AtomicU64 = AtomicU64::new(0);
/// No membarrier: emitters set `busy` with a SeqCst swap (module comment).
static STRONG: AtomicBool = AtomicBool::new(true);
/// Timestamps are `arch::cputicks`, not nanotime.
static TSC: AtomicBool = AtomicBool::new(false);
/// The scratch file of raw buffers (-1: none), the next free offset in it, and
/// whether a write to it failed.
static RAW_FD: AtomicI32 = AtomicI32::new(-1);
static RAW_OFF: AtomicU64 = AtomicU64::new(0);
static RAW_FAILED: AtomicBool = AtomicBool::new(false);

/// Bytes per buffer, and the most one record takes (a kind, a reason, 7 varints).
const BUF_BYTES: usize = 64 << 10;
const MAX_REC: usize = 2 + 7 * 10;
/// Marks a buffer's header in the scratch file (ASCII mrtb).
const RAW_MAGIC: u64 = 0x6d72_7462;

/// Why a G stopped running, as the `why` of its slice's end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Why {
    None = 0,
    Yield,
    Preempted,
    Exit,
    /// Left a system call with no P: queued, its M parks.
    SyscallNoP,
    ChanSend,
    ChanRecv,
    Select,
    Sleep,
    Fd,
    Mutex,
    WaitGroup,
    /// rt_park; the event carries the host's rt_parkfn, named by its symbol.
    Host,
}

impl Why {
    fn name(self) -> &'static str {
        match self {
            Why::None => "park",
            Why::Yield => "yield",
            Why::Preempted => "preempted",
            Why::Exit => "exit",
            Why::SyscallNoP => "syscall (no P)",
            Why::ChanSend => "chan send",
            Why::ChanRecv => "chan recv",
            Why::Select => "select",
            Why::Sleep => "sleep",
            Why::Fd => "fd",
            Why::Mutex => "mutex",
            Why::WaitGroup => "wg",
            Why::Host => "host",
        }
    }

    fn from_u8(v: u8) -> Why {
        const ALL: [Why; 13] = [
            Why::None,
            Why::Yield,
            Why::Preempted,
            Why::Exit,
            Why::SyscallNoP,
            Why::ChanSend,
            Why::ChanRecv,
            Why::Select,
            Why::Sleep,
            Why::Fd,
            Why::Mutex,
            Why::WaitGroup,
            Why::Host,
        ];
        ALL.get(v as usize).copied().unwrap_or(Why::None)
    }

    /// Whether the G waits for someone to wake it (a park), rather than runnable.
    fn is_wait(self) -> bool {
        (self as u8) >= Why::ChanSend as u8 || self == Why::None
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
    Create = 1,
    Name,
    Start,
    Stop,
    Unblock,
    SyscallEnter,
    SyscallExit,
    Steal,
    Netpoll,
    Timers,
    PreemptReq,
    Handoff,
    /// A G-to-G switch: `g` stops (`why`, `b`), `a` starts (flow `c`).
    Switch,
}

impl Kind {
    fn from_u8(v: u8) -> Option<Kind> {
        const ALL: [Kind; 13] = [
            Kind::Create,
            Kind::Name,
            Kind::Start,
            Kind::Stop,
            Kind::Unblock,
            Kind::SyscallEnter,
            Kind::SyscallExit,
            Kind::Steal,
            Kind::Netpoll,
            Kind::Timers,
            Kind::PreemptReq,
            Kind::Handoff,
            Kind::Switch,
        ];
        ALL.get((v as usize).wrapping_sub(1)).copied()
    }
}

/// One record (plain data: the scratch file holds them as they are in memory). `p`
/// is the P lane it also goes on (-1: none); `kind` is a [`Kind`].
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Ev {
    ts: i64,
    kind: u8,
    why: u8,
    /// Explicit, so that a record has no uninitialised byte when written out.
    pad: u16,
    p: i32,
    g: i64,
    a: i64,
    b: u64,
    c: u64,
}

const _: () = assert!(core::mem::size_of::<Ev>() == 48);

struct Buf {
    gen: u64,
    /// Encoded records; the time of the last one (the next is stored as a delta).
    bytes: Vec<u8>,
    last_ts: i64,
}

/// Appends `x` as a LEB128 varint at `out[*n..]`.
#[inline(always)]
fn put_uvarint(out: &mut [u8; MAX_REC], n: &mut usize, mut x: u64) {
    while x >= 0x80 {
        out[*n] = x as u8 | 0x80;
        *n += 1;
        x >>= 7;
    }
    out[*n] = x as u8;
    *n += 1;
}

/// Zigzag: small negative numbers stay short.
#[inline(always)]
fn zig(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzig(x: u64) -> i64 {
    (x >> 1) as i64 ^ -((x & 1) as i64)
}

impl Buf {
    /// Encodes `e` (its `ts` as the delta from the previous record; a clock that
    /// went back counts as no time, so that a lane's time never decreases).
    #[inline(always)]
    fn put(&mut self, e: &Ev) {
        let mut rec = [0u8; MAX_REC];
        let mut n = 2;
        rec[0] = e.kind;
        rec[1] = e.why;
        let d = (e.ts - self.last_ts).max(0);
        self.last_ts += d;
        put_uvarint(&mut rec, &mut n, d as u64);
        put_uvarint(&mut rec, &mut n, zig(e.p as i64));
        put_uvarint(&mut rec, &mut n, zig(e.g));
        put_uvarint(&mut rec, &mut n, zig(e.a));
        put_uvarint(&mut rec, &mut n, e.b);
        put_uvarint(&mut rec, &mut n, e.c);
        self.bytes.extend_from_slice(&rec[..n]);
    }

    fn room(&self) -> bool {
        self.bytes.len() + MAX_REC <= BUF_BYTES
    }

    fn reset(&mut self, gen: u64) {
        self.bytes.clear();
        self.last_ts = 0;
        self.gen = gen;
    }
}

/// Decodes one buffer's records (see [`Buf::put`]); None if it is malformed.
fn decode(mut b: &[u8], out: &mut Vec<Ev>) -> Option<()> {
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
    let mut ts = 0i64;
    while !b.is_empty() {
        let (kind, why) = (b[0], *b.get(1)?);
        b = &b[2..];
        ts = ts.wrapping_add(uv(&mut b)? as i64);
        let p = unzig(uv(&mut b)?) as i32;
        let g = unzig(uv(&mut b)?);
        let a = unzig(uv(&mut b)?);
        let bb = uv(&mut b)?;
        let c = uv(&mut b)?;
        out.push(Ev {
            ts,
            kind,
            why,
            pad: 0,
            p,
            g,
            a,
            b: bb,
            c,
        });
    }
    Some(())
}

/// An M's part of the trace. Touched only by the M's own thread, except that
/// rt_trace_stop and mexit take `buf` once `busy` is clear (see the module comment).
pub struct MTrace {
    busy: AtomicBool,
    buf: UnsafeCell<Option<Buf>>,
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
            buf: UnsafeCell::new(None),
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

/// Whether tracing is on (the hooks' fast test).
#[inline(always)]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
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
    syms: Vec<(u64, String)>,
}

static WRITER: Lock<Option<Writer>> = Lock::new(None);
/// Serialises rt_trace_start and rt_trace_stop.
static CONTROL: Lock<()> = Lock::new(());
/// Events of threads that are no M.
static FOREIGN: Lock<Option<Buf>> = Lock::new(None);
/// `$MRT_TRACE` was looked at (once per process; inherited by fork children).
static ENV_DONE: AtomicBool = AtomicBool::new(false);

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

impl Writer {
    fn flush_out(&mut self) {
        if !self.failed && !write_all(self.fd, &self.out) {
            self.failed = true;
        }
        self.out.clear();
    }

    fn us(&self, ts: i64) -> String {
        let dt = (ts - self.t0).max(0) as i128;
        let span = (self.t1 - self.t0).max(1) as i128;
        let d = (dt * (self.ns1 - self.ns0).max(0) as i128 / span) as i64;
        format!("{}.{:03}", d / 1000, d % 1000)
    }

    fn sym(&mut self, addr: u64) -> String {
        if addr == 0 {
            return String::from("?");
        }
        if let Some((_, s)) = self.syms.iter().find(|(a, _)| *a == addr) {
            return s.clone();
        }
        let s = symbol(addr as usize);
        self.syms.push((addr, s.clone()));
        s
    }

    fn push(&mut self, json: &str) {
        if !self.first {
            self.out.extend_from_slice(b",\n");
        }
        self.first = false;
        self.out.extend_from_slice(json.as_bytes());
    }

    fn lane_m(&mut self, m: i64, tid: i64) {
        if !self.mlanes.iter().any(|(x, _)| *x == m) {
            self.mlanes.push((m, tid));
        }
    }

    fn lane_p(&mut self, p: i32) {
        if p >= 0 && !self.planes.contains(&p) {
            self.planes.push(p);
        }
    }

    /// A G's run begins on M `m` (lane `ml`) and P `p` (lane `pl`), with the end of
    /// the wake arrow `flow` if it was woken.
    #[allow(clippy::too_many_arguments)]
    fn start_json(&mut self, m: i64, ml: &str, pl: &str, p: i32, g: i64, flow: i64) {
        let j = format!(
            "{{\"ph\":\"B\",\"name\":\"G{g}\",\"cat\":\"run\",{ml},\"args\":{{\"g\":{g},\"p\":{p}}}}}"
        );
        self.push(&j);
        if flow != 0 {
            let flow = g << 32 | flow;
            let j = format!(
                "{{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":{flow},{ml},\"args\":{{\"g\":{g}}}}}"
            );
            self.push(&j);
        }
        if p >= 0 {
            let j = format!(
                "{{\"ph\":\"B\",\"name\":\"G{g}\",\"cat\":\"run\",{pl},\"args\":{{\"g\":{g},\"m\":{m}}}}}"
            );
            self.push(&j);
        }
    }

    /// A G's run ends (`why`, with the wait object or host function `obj`).
    #[allow(clippy::too_many_arguments)]
    fn stop_json(&mut self, _m: i64, ml: &str, pl: &str, p: i32, g: i64, why: u8, obj: u64) {
        let why = Why::from_u8(why);
        let mut wj = json_str(why.name());
        let mut site = String::new();
        if why == Why::Host {
            wj = json_str(&format!("host: {}", self.sym(obj)));
        } else if why == Why::Fd {
            site = format!(",\"obj\":\"fd {obj}\"");
        } else if why.is_wait() && obj != 0 {
            site = format!(",\"obj\":\"{obj:#x}\"");
        }
        if p >= 0 {
            let j = format!(
                "{{\"ph\":\"E\",\"cat\":\"run\",{pl},\"args\":{{\"g\":{g},\"why\":{wj}{site}}}}}"
            );
            self.push(&j);
        }
        let j = format!(
            "{{\"ph\":\"E\",\"cat\":\"run\",{ml},\"args\":{{\"g\":{g},\"why\":{wj}{site}}}}}"
        );
        self.push(&j);
    }

    /// Formats one buffer of M `m` (0: threads that are no M; `tid` its OS thread).
    fn encode(&mut self, m: i64, tid: i64, evs: &[Ev]) {
        self.lane_m(m, tid);
        for e in evs {
            let ts = self.us(e.ts);
            let ml = format!("\"pid\":1,\"tid\":{m},\"ts\":{ts}");
            let pl = format!("\"pid\":2,\"tid\":{},\"ts\":{ts}", e.p);
            self.lane_p(e.p);
            let Some(kind) = Kind::from_u8(e.kind) else {
                continue;
            };
            match kind {
                Kind::Name => {
                    let mut bytes = Vec::new();
                    bytes.extend_from_slice(&e.a.to_le_bytes());
                    bytes.extend_from_slice(&e.b.to_le_bytes());
                    while bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    match self.names.iter_mut().find(|(g, _)| *g == e.g) {
                        Some((_, n)) if e.why > 0 => n.extend_from_slice(&bytes),
                        Some((_, n)) => *n = bytes,
                        None => self.names.push((e.g, bytes)),
                    }
                }
                Kind::Create => {
                    let f = json_str(&self.sym(e.b));
                    let name = match self.names.iter().position(|(g, _)| *g == e.g) {
                        Some(i) => {
                            let (_, n) = self.names.swap_remove(i);
                            format!(",\"name\":{}", json_str(&String::from_utf8_lossy(&n)))
                        }
                        None => String::new(),
                    };
                    let j = format!(
                        "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"create G{}\",\"cat\":\"g\",{ml},\"args\":{{\"g\":{},\"by\":{},\"fn\":{f}{name}}}}}",
                        e.g, e.g, e.a
                    );
                    self.push(&j);
                }
                Kind::Switch => {
                    let (old, new) = (e.g, e.a);
                    self.stop_json(m, &ml, &pl, e.p, old, e.why, e.b);
                    self.start_json(m, &ml, &pl, e.p, new, e.c as i64);
                }
                Kind::Start => self.start_json(m, &ml, &pl, e.p, e.g, e.a),
                Kind::Stop => self.stop_json(m, &ml, &pl, e.p, e.g, e.why, e.b),
                Kind::Unblock => {
                    let src = match e.why {
                        1 => "timer",
                        2 => "netpoll",
                        _ => "waker",
                    };
                    let j = format!(
                        "{{\"ph\":\"X\",\"dur\":0.001,\"name\":\"ready G{}\",\"cat\":\"ready\",{ml},\"args\":{{\"g\":{},\"by\":{},\"src\":\"{src}\"}}}}",
                        e.g, e.g, e.b
                    );
                    self.push(&j);
                    let j = format!(
                        "{{\"ph\":\"s\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":{},{ml},\"args\":{{\"g\":{}}}}}",
                        e.g << 32 | e.a,
                        e.g
                    );
                    self.push(&j);
                }
                Kind::SyscallEnter => {
                    if e.p >= 0 {
                        let j = format!(
                            "{{\"ph\":\"E\",\"cat\":\"run\",{pl},\"args\":{{\"g\":{},\"why\":\"syscall\"}}}}",
                            e.g
                        );
                        self.push(&j);
                    }
                    let j = format!(
                        "{{\"ph\":\"B\",\"name\":\"syscall\",\"cat\":\"syscall\",{ml},\"args\":{{\"g\":{}}}}}",
                        e.g
                    );
                    self.push(&j);
                }
                Kind::SyscallExit => {
                    let how = match e.a {
                        1 => "same P",
                        2 => "idle P",
                        _ => "no P",
                    };
                    let j = format!(
                        "{{\"ph\":\"E\",\"cat\":\"syscall\",{ml},\"args\":{{\"g\":{},\"exit\":\"{how}\"}}}}",
                        e.g
                    );
                    self.push(&j);
                    if e.p >= 0 {
                        let j = format!(
                            "{{\"ph\":\"B\",\"name\":\"G{}\",\"cat\":\"run\",{pl},\"args\":{{\"g\":{},\"m\":{m}}}}}",
                            e.g, e.g
                        );
                        self.push(&j);
                    }
                }
                Kind::Steal => {
                    let j = format!(
                        "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"steal\",\"cat\":\"sched\",{ml},\"args\":{{\"p\":{},\"from\":{},\"g\":{}}}}}",
                        e.p, e.a, e.g
                    );
                    self.push(&j);
                }
                Kind::Netpoll => {
                    let j = format!(
                        "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"netpoll\",\"cat\":\"sched\",{ml},\"args\":{{\"ready\":{}}}}}",
                        e.a
                    );
                    self.push(&j);
                }
                Kind::Timers => {
                    let j = format!(
                        "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"timers\",\"cat\":\"sched\",{ml},\"args\":{{\"fired\":{},\"p\":{}}}}}",
                        e.a, e.p
                    );
                    self.push(&j);
                }
                Kind::PreemptReq => {
                    let j = format!(
                        "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"preempt G{}\",\"cat\":\"sched\",{ml},\"args\":{{\"g\":{},\"p\":{},\"signal\":{}}}}}",
                        e.g, e.g, e.p, e.a
                    );
                    self.push(&j);
                }
                Kind::Handoff => {
                    let j = format!(
                        "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"handoff\",\"cat\":\"sched\",{pl},\"args\":{{\"p\":{},\"by\":{m}}}}}",
                        e.p
                    );
                    self.push(&j);
                }
            }
            if self.out.len() > 1 << 16 {
                self.flush_out();
            }
        }
        self.flush_out();
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
        for (m, tid) in ms {
            let name = if m == 0 {
                String::from("no M (foreign threads)")
            } else {
                format!("M{m} (tid {tid})")
            };
            let j = format!(
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":{m},\"args\":{{\"name\":\"{name}\"}}}}"
            );
            self.push(&j);
            let j = format!(
                "{{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":1,\"tid\":{m},\"args\":{{\"sort_index\":{m}}}}}"
            );
            self.push(&j);
        }
        let mut ps = core::mem::take(&mut self.planes);
        ps.sort();
        for p in ps {
            let j = format!(
                "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2,\"tid\":{p},\"args\":{{\"name\":\"P{p}\"}}}}"
            );
            self.push(&j);
        }
        let tail = format!(
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"libmrt {}\",\"lost_events\":{},\"raw_bytes\":{}}}}}\n",
            env!("CARGO_PKG_VERSION"),
            LOST.load(Ordering::Relaxed),
            RAW_OFF.load(Ordering::Relaxed)
        );
        self.out.extend_from_slice(tail.as_bytes());
        self.flush_out();
        // SAFETY: our own descriptor, closed once.
        let closed = unsafe { libc::close(self.fd) } == 0;
        if self.failed || !closed {
            return Err(Error::Inval);
        }
        Ok(())
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The symbol containing `addr` (dladdr), else its address.
fn symbol(addr: usize) -> String {
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    unsafe {
        let mut info: libc::Dl_info = core::mem::zeroed();
        if libc::dladdr(addr as *const libc::c_void, &mut info) != 0 && !info.dli_sname.is_null() {
            return core::ffi::CStr::from_ptr(info.dli_sname)
                .to_string_lossy()
                .into_owned();
        }
    }
    format!("{addr:#x}")
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

/// Appends `e` to the buffer of the calling thread's M (or the shared one).
#[inline(never)]
fn emit(e: Ev) {
    let m = tls::getm();
    if m.is_null() {
        return emit_foreign(e);
    }
    // SAFETY: the calling thread's live M.
    emit_on(unsafe { &*m }, e)
}

/// [`emit`] for the calling thread's own M `m`.
#[inline]
fn emit_on(m: &M, mut e: Ev) {
    let t = &m.trace;
    // Dekker with the stopper (module comment): busy, then ON.
    if STRONG.load(Ordering::Relaxed) {
        t.busy.swap(true, Ordering::SeqCst);
    } else {
        t.busy.store(true, Ordering::Relaxed);
        core::sync::atomic::compiler_fence(Ordering::SeqCst);
    }
    if !ON.load(Ordering::SeqCst) {
        t.busy.store(false, Ordering::Release);
        return;
    }
    e.ts = now();
    let gen = GEN.load(Ordering::Relaxed);
    // SAFETY: busy is set and tracing is on: the stopper waits for us (see the module
    // comment), so nobody else reaches the buffer.
    let slot = unsafe { &mut *t.buf.get() };
    append(slot, gen, e, || (m.id, m.procid.load(Ordering::Relaxed)));
    t.busy.store(false, Ordering::Release);
}

#[cold]
fn emit_foreign(mut e: Ev) {
    let mut f = FOREIGN.lock();
    if !ON.load(Ordering::SeqCst) {
        return;
    }
    // Under the lock: the shared lane's timestamps then follow its order.
    e.ts = now();
    let gen = GEN.load(Ordering::Relaxed);
    append(&mut f, gen, e, || (0, 0));
}

/// Appends to `slot`, (re)making it for `gen`; a full buffer is written first.
#[inline]
fn append(slot: &mut Option<Buf>, gen: u64, e: Ev, who: impl Fn() -> (i64, i64)) {
    if let Some(b) = slot.as_mut() {
        if b.gen == gen && b.room() {
            b.put(&e);
            return;
        }
    }
    append_slow(slot, gen, e, &who);
}

#[cold]
#[inline(never)]
fn append_slow(slot: &mut Option<Buf>, gen: u64, e: Ev, who: &dyn Fn() -> (i64, i64)) {
    if let Some(b) = slot.as_mut() {
        if b.gen == gen {
            let (m, tid) = who();
            flush_raw(m, tid, &b.bytes);
        }
        b.reset(gen);
    } else {
        let mut v = Vec::new();
        if v.try_reserve_exact(BUF_BYTES).is_err() {
            LOST.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *slot = Some(Buf {
            gen,
            bytes: v,
            last_ts: 0,
        });
    }
    if let Some(b) = slot.as_mut() {
        b.put(&e);
    }
}

fn ev(kind: Kind, p: i32, g: i64) -> Ev {
    Ev {
        kind: kind as u8,
        p,
        g,
        ..Ev::default()
    }
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

/// The id of the G the calling thread runs (0: none).
fn cur_goid() -> i64 {
    goid_of(super::g::curg())
}

// ---- hooks (each a relaxed load when off) ----------------------------------------

/// newproc: G `gp` was created by the calling thread.
#[inline(always)]
pub fn go_create(gp: *mut G) {
    if on() {
        go_create_slow(gp)
    }
}

#[cold]
fn go_create_slow(gp: *mut G) {
    // SAFETY: a new G, still owned by its creator.
    let g = unsafe { &*gp };
    let name = g.name();
    for (i, chunk) in name.chunks(16).enumerate() {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        for (k, &c) in chunk.iter().enumerate() {
            if k < 8 {
                a[k] = c;
            } else {
                b[k - 8] = c;
            }
        }
        let mut e = ev(Kind::Name, -1, g.goid);
        e.why = i as u8;
        e.a = i64::from_le_bytes(a);
        e.b = u64::from_le_bytes(b);
        emit(e);
    }
    let mut e = ev(Kind::Create, -1, g.goid);
    e.a = cur_goid();
    e.b = g.start_fn() as u64;
    emit(e);
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
    let mut e = ev(Kind::Start, pid(m), g);
    e.a = flow as i64;
    emit_on(m, e);
}

/// What a start records, and the M's state for it: the G's id and the flow id of the
/// wake that made it runnable (0: none), taken from the G.
#[inline]
fn start_state(m: &M, gp: *mut G) -> (i64, u64) {
    // SAFETY: a G that is about to run on this M: ours.
    let g = unsafe { &*gp };
    let v = g.trace_flow.load(Ordering::Relaxed);
    let flow = v & 0xffff_ffff;
    if flow != 0 {
        g.trace_flow.store(v & !0xffff_ffff, Ordering::Relaxed);
    }
    m.trace.open.set(GEN.load(Ordering::Relaxed));
    m.trace.in_syscall.set(0);
    (g.goid, flow)
}

/// What a stop records: None if the G's slice was not opened in this trace; else
/// the P lane to end it on, the reason and its object (`Why::None`: the reason the
/// G gave through `wait`).
#[inline]
fn stop_state(m: &M, mut why: Why, mut obj: u64) -> Option<(i32, Why, u64)> {
    let t = &m.trace;
    if why == Why::None {
        why = Why::from_u8(t.why.get());
        obj = t.obj.get();
    }
    t.why.set(0);
    t.obj.set(0);
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
    Some((p, why, obj))
}

#[cold]
fn go_stop_slow(m: &M, gp: *mut G, why: Why, obj: u64) {
    if let Some((p, why, obj)) = stop_state(m, why, obj) {
        let mut e = ev(Kind::Stop, p, goid_of(gp));
        e.why = why as u8;
        e.b = obj;
        emit_on(m, e);
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
    let why = match m.pending.get() {
        super::g::Pending::Yield => Why::Yield,
        super::g::Pending::Exit => Why::Exit,
        super::g::Pending::Park(..) => Why::None,
    };
    // One record for both when the stopping G's slice is ours.
    match stop_state(m, why, 0) {
        Some((p, why, obj)) => {
            let (n, flow) = start_state(m, next);
            let mut e = ev(Kind::Switch, p, goid_of(gp));
            e.why = why as u8;
            e.b = obj;
            e.a = n;
            e.c = flow;
            emit_on(m, e);
        }
        None => go_start_slow(m, next),
    }
}

/// The stop of an mcall `action` (execute, after the switch back to g0).
#[inline(always)]
pub fn go_stop_action(m: &M, gp: *mut G, action: &super::g::Action) {
    if on() {
        use super::g::Action;
        let (why, obj) = match *action {
            Action::Yield | Action::YieldGlobal => (Why::Yield, 0),
            Action::Preempt => (Why::Preempted, 0),
            Action::Park(..) => (Why::None, 0),
            Action::ParkHost(f, _) => (Why::Host, f.map_or(0, |f| f as usize as u64)),
            Action::Exit => (Why::Exit, 0),
            Action::ExitSyscall => (Why::SyscallNoP, 0),
            Action::None => (Why::None, 0),
        };
        go_stop_slow(m, gp, why, obj)
    }
}

/// Called by a G just before it parks: why, and on what object (a channel, mutex or
/// wait group address, an fd, a sleep's duration).
#[inline(always)]
pub fn wait(why: Why, obj: u64) {
    if on() {
        wait_slow(why, obj)
    }
}

#[cold]
fn wait_slow(why: Why, obj: u64) {
    let m = tls::getm();
    if !m.is_null() {
        // SAFETY: the calling thread's M; the Cells are its own.
        unsafe {
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

#[cold]
fn go_unblock_slow(gp: *mut G, src: Src) {
    let m = tls::getm();
    // SAFETY: the caller won the G (it is Runnable and not yet queued): nobody
    // starts it before these stores are published by the queueing.
    let g = unsafe { &*gp };
    // The G's wakes are numbered (high half: the last number; low half: the one
    // its next start ends, 0 for none); the JSON's flow id is (G id << 32 | number).
    let v = g.trace_flow.load(Ordering::Relaxed);
    let mut id = ((v >> 32) as u32).wrapping_add(1);
    if id == 0 {
        id = 1;
    }
    g.trace_flow
        .store((id as u64) << 32 | id as u64, Ordering::Relaxed);
    let mut e = ev(Kind::Unblock, -1, g.goid);
    e.why = src as u8;
    e.a = id as i64;
    e.b = cur_goid() as u64;
    if m.is_null() {
        emit_foreign(e);
    } else {
        // SAFETY: the calling thread's live M.
        emit_on(unsafe { &*m }, e);
    }
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
    emit(ev(Kind::SyscallEnter, p, goid_of(gp)));
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
    let mut e = ev(
        Kind::SyscallExit,
        if how == 3 { -1 } else { pid(m) },
        goid_of(gp),
    );
    e.a = how;
    emit(e);
}

/// The P `p` took G `g` (and maybe more) from P `from`.
#[inline(always)]
pub fn steal(p: i32, from: i32, g: *const G) {
    if on() {
        let mut e = ev(Kind::Steal, p, goid_of(g));
        e.a = from as i64;
        emit(e);
    }
}

/// netpoll made `n` Gs runnable.
#[inline(always)]
pub fn netpoll(n: usize) {
    if on() && n > 0 {
        let mut e = ev(Kind::Netpoll, -1, 0);
        e.a = n as i64;
        emit(e);
    }
}

/// `n` timers of P `p` fired.
#[inline(always)]
pub fn timers(p: i32, n: usize) {
    if on() && n > 0 {
        let mut e = ev(Kind::Timers, p, 0);
        e.a = n as i64;
        emit(e);
    }
}

/// sysmon asked the G `g` on P `p` to give up its P (`signal`: by signal too).
#[inline(always)]
pub fn preempt_request(p: i32, g: *const G, signal: bool) {
    if on() {
        let mut e = ev(Kind::PreemptReq, p, goid_of(g));
        e.a = signal as i64;
        emit(e);
    }
}

/// P `p` was handed off (taken from a G in a system call).
#[inline(always)]
pub fn handoff(p: i32) {
    if on() {
        emit(ev(Kind::Handoff, p, 0));
    }
}

// ---- start, stop, exit, fork -----------------------------------------------------

/// Whether the kernel keeps time with the TSC (then it is constant-rate and in step
/// across CPUs, and the trace stamps events with it).
fn tsc_is_clocksource() -> bool {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .is_ok_and(|s| s.trim() == "tsc")
}

/// Registers for membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED); false where the
/// kernel (or valgrind) has none: emitters then fence themselves (`STRONG`).
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
    let dir = match bytes.iter().rposition(|&c| c == b'/') {
        Some(0) => b"/".to_vec(),
        Some(i) => bytes[..i].to_vec(),
        None => b".".to_vec(),
    };
    let Ok(dir) = std::ffi::CString::new(dir) else {
        return Err(Error::Inval);
    };
    // SAFETY: a valid C string; a new unnamed file we own.
    let fd = unsafe {
        libc::open(
            dir.as_ptr(),
            libc::O_TMPFILE | libc::O_RDWR | libc::O_CLOEXEC,
            0o600,
        )
    };
    if fd >= 0 {
        return Ok(fd);
    }
    let mut name = bytes.to_vec();
    name.extend_from_slice(format!(".mrt-scratch-{}", std::process::id()).as_bytes());
    let Ok(name) = std::ffi::CString::new(name) else {
        return Err(Error::Inval);
    };
    // SAFETY: `name` is a valid NUL-terminated C string that outlives the call; O_EXCL
    // makes a new file we own (the name is unlinked at once).
    let fd = unsafe {
        libc::open(
            name.as_ptr(),
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
    unsafe { libc::unlink(name.as_ptr()) };
    Ok(fd)
}

/// rt_trace_start: Error::Inval for a path that cannot be created and written,
/// Error::Already if a trace runs, Error::NoMem / Error::Again when out of memory /
/// file descriptors, Error::Shutdown in a fork child before its rt_init.
pub fn start(path: &core::ffi::CStr) -> Result<()> {
    let _c = CONTROL.lock();
    if ON.load(Ordering::Acquire) {
        return Err(Error::Already);
    }
    if super::run_state() == super::RunState::Forked {
        // A fork child before its rt_init: the parent's Ms are still listed.
        return Err(Error::Shutdown);
    }
    // SAFETY: a valid C string; the flags ask for a new file we own.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644,
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
    let close = |e: Error| {
        // SAFETY: ours.
        unsafe { libc::close(fd) };
        Err(e)
    };
    if !write_all(fd, b"{\"traceEvents\":[\n") {
        return close(Error::Inval);
    }
    let mut out = Vec::new();
    if out.try_reserve(1 << 17).is_err() {
        return close(Error::NoMem);
    }
    let raw = match scratch_file(path) {
        Ok(raw) => raw,
        Err(e) => return close(e),
    };
    static REGISTERED: AtomicBool = AtomicBool::new(false);
    if !REGISTERED.load(Ordering::Relaxed) && membarrier_register() {
        REGISTERED.store(true, Ordering::Relaxed);
    }
    STRONG.store(!REGISTERED.load(Ordering::Relaxed), Ordering::Relaxed);
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
    ON.store(true, Ordering::SeqCst);
    Ok(())
}

/// rt_trace_stop: Error::Inval if no trace runs (Error::Inval also when writing the
/// file failed: the trace is stopped and the file closed either way).
pub fn stop() -> Result<()> {
    let _c = CONTROL.lock();
    if !ON.swap(false, Ordering::SeqCst) {
        return Err(Error::Inval);
    }
    if !STRONG.load(Ordering::Relaxed) && !membarrier() {
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
                if let Some(b) = (*t.buf.get()).as_mut() {
                    if b.gen == GEN.load(Ordering::Relaxed) {
                        flush_raw((*x).id, (*x).procid.load(Ordering::Relaxed), &b.bytes);
                    }
                    b.reset(0);
                }
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
    let read_ok = convert(&mut w, raw, end);
    // SAFETY: ours, and nobody writes to it any more.
    unsafe { libc::close(raw) };
    let r = w.finish();
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
    if bytes.try_reserve_exact(BUF_BYTES).is_err() || evs.try_reserve_exact(BUF_BYTES / 10).is_err()
    {
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
        if decode(&bytes, &mut evs).is_none() {
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
    let b = unsafe { (*t.buf.get()).take() };
    if let Some(b) = b {
        if ON.load(Ordering::SeqCst) && b.gen == GEN.load(Ordering::Relaxed) {
            flush_raw(m.id, m.procid.load(Ordering::Relaxed), &b.bytes);
        }
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
    let Some(path) = std::env::var_os("MRT_TRACE") else {
        return;
    };
    if path.is_empty() {
        return;
    }
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_bytes()) else {
        super::write_stderr(b"libmrt: MRT_TRACE: the path contains a NUL byte\n");
        return;
    };
    match start(&c) {
        Ok(()) => {
            // SAFETY: registering a plain extern "C" function.
            unsafe { libc::atexit(stop_at_exit) };
        }
        Err(Error::Already) => {}
        Err(_) => {
            let msg = format!(
                "libmrt: MRT_TRACE: cannot write {}\n",
                String::from_utf8_lossy(path.as_bytes())
            );
            super::write_stderr(msg.as_bytes());
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
    ON.store(false, Ordering::SeqCst);
    // SAFETY: the fork child's only thread: nobody else can hold these locks.
    unsafe {
        CONTROL.get_after_fork();
        FOREIGN.get_after_fork().take();
        let raw = RAW_FD.swap(-1, Ordering::Relaxed);
        if raw >= 0 {
            libc::close(raw);
        }
        if let Some(w) = WRITER.get_after_fork().take() {
            libc::close(w.fd);
            // Its memory is the parent's to free; the child only leaks this copy.
            core::mem::forget(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: i64, kind: Kind, p: i32, g: i64, a: i64, b: u64, c: u64) -> Ev {
        Ev {
            ts,
            kind: kind as u8,
            why: Why::ChanRecv as u8,
            pad: 0,
            p,
            g,
            a,
            b,
            c,
        }
    }

    /// The compact records decode to what was put, extremes included, and a clock
    /// that goes back is recorded as no time (a lane's time never decreases).
    #[test]
    fn records_round_trip_through_the_varint_encoding() {
        let put = [
            rec(1 << 40, Kind::Start, 0, 1, 0, 0, 0),
            rec(
                (1 << 40) + 5,
                Kind::Switch,
                -1,
                i64::MAX,
                -7,
                u64::MAX,
                1 << 32,
            ),
            rec(
                (1 << 40) + 3,
                Kind::Unblock,
                1023,
                42,
                i64::MIN,
                0x7fff_1234_5678,
                9,
            ),
        ];
        let mut b = Buf {
            gen: 1,
            bytes: Vec::new(),
            last_ts: 0,
        };
        for e in &put {
            b.put(e);
        }
        let mut got = Vec::new();
        assert!(decode(&b.bytes, &mut got).is_some());
        assert_eq!(got.len(), put.len());
        for (g, p) in got.iter().zip(put.iter()) {
            assert_eq!(
                (g.kind, g.why, g.p, g.g, g.a, g.b, g.c),
                (p.kind, p.why, p.p, p.g, p.a, p.b, p.c)
            );
        }
        assert_eq!(got[0].ts, 1 << 40);
        assert_eq!(got[1].ts, (1 << 40) + 5);
        assert_eq!(
            got[2].ts,
            (1 << 40) + 5,
            "time went back: recorded as no time"
        );
        // A truncated buffer is refused, not misread.
        assert!(decode(&b.bytes[..b.bytes.len() - 1], &mut Vec::new()).is_none());
    }
}
