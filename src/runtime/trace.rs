//! The execution trace (Go's runtime/trace, written as Chrome trace-event JSON that
//! Perfetto and chrome://tracing open): rt_trace_start / rt_trace_stop and
//! `$MRT_TRACE=path` for a whole run.
//!
//! # Recording
//! Scheduler events are fixed-size binary records ([`Ev`]) appended to a buffer that
//! belongs to the M which observed them ([`MTrace`], a field of every M); threads that
//! are no M (a foreign thread's rt_go or rt_chan_send waking a G) share one buffer
//! under a lock. Nothing is formatted on the way in: an event is a clock read
//! (vDSO, no system call) and a 40-byte store. A full buffer (`BUF_EVENTS` records)
//! is formatted and written to the file by the M that filled it, under the writer's
//! lock: one lock and one write per buffer, never per event.
//!
//! When tracing is off every hook costs one relaxed load of [`ON`] and a branch.
//!
//! # Stopping without a lock per event
//! An M's buffer is touched only by its own thread while `busy` is set. The emitter
//! sets `busy` and then re-reads `ON`; rt_trace_stop clears `ON` and then waits for
//! every M's `busy` to clear. Both sides are a store followed by a load with SeqCst
//! on each, so at least one sees the other: either the emitter sees tracing off and
//! leaves its buffer alone, or the stopper sees it busy and waits for it. Once `ON`
//! is false and `busy` clear, the stopper owns the buffer. A trace has a generation
//! number; a buffer (or an open G slice) of another generation is stale and dropped.
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
//! # fork
//! A fork child does not inherit a running trace: the atfork child handler turns
//! tracing off there and closes the child's copy of the file without writing, and
//! events the parent had buffered are dropped in the child (they are the parent's,
//! which still writes them). `$MRT_TRACE` is honoured once per process, by its first
//! rt_init, so a child's rt_init does not overwrite the parent's file; a child that
//! wants a trace calls rt_trace_start with its own path.

use core::cell::{Cell, UnsafeCell};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
/// Flow ids (wake arrows).
static FLOW: AtomicU64 = AtomicU64::new(0);
/// Events dropped because a buffer could not be allocated.
static LOST: AtomicU64 = AtomicU64::new(0);

/// Records per buffer (40 bytes each).
const BUF_EVENTS: usize = 4096;

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
}

/// One record. `p` is the P lane it also goes on (-1: none).
#[derive(Clone, Copy)]
#[repr(C)]
struct Ev {
    ts: i64,
    kind: Kind,
    why: u8,
    p: i32,
    g: i64,
    a: i64,
    b: u64,
}

struct Buf {
    gen: u64,
    ev: Vec<Ev>,
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
    gen: u64,
    epoch: i64,
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
        let d = (ts - self.epoch).max(0);
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

    /// Formats one buffer of M `m` (0: threads that are no M; `tid` its OS thread).
    fn encode(&mut self, m: i64, tid: i64, evs: &[Ev]) {
        self.lane_m(m, tid);
        for e in evs {
            let ts = self.us(e.ts);
            let ml = format!("\"pid\":1,\"tid\":{m},\"ts\":{ts}");
            let pl = format!("\"pid\":2,\"tid\":{},\"ts\":{ts}", e.p);
            self.lane_p(e.p);
            match e.kind {
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
                Kind::Start => {
                    let j = format!(
                        "{{\"ph\":\"B\",\"name\":\"G{}\",\"cat\":\"run\",{ml},\"args\":{{\"g\":{},\"p\":{}}}}}",
                        e.g, e.g, e.p
                    );
                    self.push(&j);
                    if e.a != 0 {
                        let j = format!(
                            "{{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"wake\",\"cat\":\"wake\",\"id\":{},{ml},\"args\":{{\"g\":{}}}}}",
                            e.a, e.g
                        );
                        self.push(&j);
                    }
                    if e.p >= 0 {
                        let j = format!(
                            "{{\"ph\":\"B\",\"name\":\"G{}\",\"cat\":\"run\",{pl},\"args\":{{\"g\":{},\"m\":{m}}}}}",
                            e.g, e.g
                        );
                        self.push(&j);
                    }
                }
                Kind::Stop => {
                    let why = Why::from_u8(e.why);
                    let mut wj = json_str(why.name());
                    let mut site = String::new();
                    if why == Why::Host {
                        wj = json_str(&format!("host: {}", self.sym(e.b)));
                    } else if why.is_wait() && e.b != 0 {
                        site = format!(",\"obj\":\"{:#x}\"", e.b);
                    }
                    if e.p >= 0 {
                        let j = format!(
                            "{{\"ph\":\"E\",\"cat\":\"run\",{pl},\"args\":{{\"g\":{},\"why\":{wj}{site}}}}}",
                            e.g
                        );
                        self.push(&j);
                    }
                    let j = format!(
                        "{{\"ph\":\"E\",\"cat\":\"run\",{ml},\"args\":{{\"g\":{},\"why\":{wj}{site}}}}}",
                        e.g
                    );
                    self.push(&j);
                }
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
                        e.a, e.g
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
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"producer\":\"libmrt {}\",\"lost_events\":{}}}}}\n",
            env!("CARGO_PKG_VERSION"),
            LOST.load(Ordering::Relaxed)
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

/// Writes a buffer of trace generation `gen` (dropped if the trace is another one).
fn write_buf(m: i64, tid: i64, buf: &Buf) {
    if buf.ev.is_empty() {
        return;
    }
    let mut w = WRITER.lock();
    if let Some(w) = w.as_mut() {
        if w.gen == buf.gen {
            w.encode(m, tid, &buf.ev);
        }
    }
}

// ---- recording -------------------------------------------------------------------

/// Appends `e` to the buffer of the calling thread's M (or the shared one).
#[inline(never)]
fn emit(mut e: Ev) {
    e.ts = nanotime();
    let m = tls::getm();
    if m.is_null() {
        return emit_foreign(e);
    }
    // SAFETY: the calling thread's live M.
    let t = unsafe { &(*m).trace };
    t.busy.store(true, Ordering::SeqCst);
    if !ON.load(Ordering::SeqCst) {
        t.busy.store(false, Ordering::Release);
        return;
    }
    let gen = GEN.load(Ordering::Relaxed);
    // SAFETY: busy is set and tracing is on: the stopper waits for us (see the module
    // comment), so nobody else reaches the buffer.
    let slot = unsafe { &mut *t.buf.get() };
    append(slot, gen, e, || {
        // SAFETY: as above; the M's id and thread id are fixed.
        unsafe { ((*m).id, (*m).procid.load(Ordering::Relaxed)) }
    });
    t.busy.store(false, Ordering::Release);
}

#[cold]
fn emit_foreign(mut e: Ev) {
    let mut f = FOREIGN.lock();
    if !ON.load(Ordering::SeqCst) {
        return;
    }
    // Under the lock: the shared lane's timestamps then follow its order.
    e.ts = nanotime();
    let gen = GEN.load(Ordering::Relaxed);
    append(&mut f, gen, e, || (0, 0));
}

/// Appends to `slot`, (re)making it for `gen`; a full buffer is written first.
#[inline]
fn append(slot: &mut Option<Buf>, gen: u64, e: Ev, who: impl Fn() -> (i64, i64)) {
    if let Some(b) = slot.as_mut() {
        if b.gen == gen && b.ev.len() < BUF_EVENTS {
            b.ev.push(e);
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
            write_buf(m, tid, b);
        }
        b.ev.clear();
        b.gen = gen;
    } else {
        let mut v = Vec::new();
        if v.try_reserve_exact(BUF_EVENTS).is_err() {
            LOST.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *slot = Some(Buf { gen, ev: v });
    }
    if let Some(b) = slot.as_mut() {
        b.ev.push(e);
    }
}

fn ev(kind: Kind, p: i32, g: i64) -> Ev {
    Ev {
        ts: 0,
        kind,
        why: 0,
        p,
        g,
        a: 0,
        b: 0,
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
    // SAFETY: a G that is about to run on this M.
    let g = unsafe { &*gp };
    let mut e = ev(Kind::Start, pid(m), g.goid);
    e.a = g.trace_flow.swap(0, Ordering::Relaxed) as i64;
    emit(e);
    m.trace.open.set(GEN.load(Ordering::Relaxed));
    m.trace.in_syscall.set(0);
}

#[cold]
fn go_stop_slow(m: &M, gp: *mut G, mut why: Why, mut obj: u64) {
    let t = &m.trace;
    if why == Why::None {
        why = Why::from_u8(t.why.get());
        obj = t.obj.get();
    }
    t.why.set(0);
    t.obj.set(0);
    if t.open.replace(0) != GEN.load(Ordering::Relaxed) {
        return;
    }
    let p = if t.in_syscall.replace(0) != 0 {
        // Its syscall slice ended without an exit (cannot happen: the G leaves
        // through exitsyscall); the P lane was closed at entry.
        -1
    } else {
        pid(m)
    };
    let mut e = ev(Kind::Stop, p, goid_of(gp));
    e.why = why as u8;
    e.b = obj;
    emit(e);
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
    go_stop_slow(m, gp, why, 0);
    go_start_slow(m, next);
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
    let id = FLOW.fetch_add(1, Ordering::Relaxed) + 1;
    // SAFETY: the caller won the G (it is Runnable and not yet queued): nobody
    // starts it before this store is published by the queueing.
    let g = unsafe { &*gp };
    g.trace_flow.store(id, Ordering::Relaxed);
    let mut e = ev(Kind::Unblock, -1, g.goid);
    e.why = src as u8;
    e.a = id as i64;
    e.b = cur_goid() as u64;
    emit(e);
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

/// rt_trace_start: Error::Inval for a path that cannot be created and written,
/// Error::Already if a trace runs, Error::NoMem / Error::Again when out of memory /
/// file descriptors.
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
    let head = b"{\"traceEvents\":[\n";
    if !write_all(fd, head) {
        // SAFETY: ours.
        unsafe { libc::close(fd) };
        return Err(Error::Inval);
    }
    let mut out = Vec::new();
    if out.try_reserve(1 << 17).is_err() {
        // SAFETY: ours.
        unsafe { libc::close(fd) };
        return Err(Error::NoMem);
    }
    let gen = GEN.load(Ordering::Relaxed) + 1;
    *WRITER.lock() = Some(Writer {
        fd,
        gen,
        epoch: nanotime(),
        first: true,
        failed: false,
        out,
        mlanes: Vec::new(),
        planes: Vec::new(),
        names: Vec::new(),
        syms: Vec::new(),
    });
    LOST.store(0, Ordering::Relaxed);
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
    // Every M's buffer, once its owner is out of its busy section.
    let mut bufs: Vec<(i64, i64, Buf)> = Vec::new();
    {
        let s = super::SCHED.lock();
        let mut x = s.allm;
        while !x.is_null() {
            // SAFETY: Ms on allm are live under the sched lock; `busy` clear with
            // tracing off means the owner no longer touches `buf` (module comment).
            unsafe {
                let t = &(*x).trace;
                while t.busy.load(Ordering::SeqCst) {
                    core::hint::spin_loop();
                }
                if let Some(b) = (*t.buf.get()).as_mut() {
                    if !b.ev.is_empty() {
                        let ev = core::mem::take(&mut b.ev);
                        let id = (*x).id;
                        let tid = (*x).procid.load(Ordering::Relaxed);
                        bufs.push((id, tid, Buf { gen: b.gen, ev }));
                    }
                }
                x = (*x).alllink;
            }
        }
    }
    if let Some(b) = FOREIGN.lock().take() {
        bufs.push((0, 0, b));
    }
    for (m, tid, b) in &bufs {
        write_buf(*m, *tid, b);
    }
    let w = WRITER.lock().take();
    match w {
        Some(w) => w.finish(),
        None => Err(Error::Inval),
    }
}

/// mexit: an M leaves for good; its buffered events go to the file now.
pub fn m_exit(m: &M) {
    let t = &m.trace;
    t.busy.store(true, Ordering::SeqCst);
    // SAFETY: busy is set by the owner thread; the stopper waits for it.
    let b = unsafe { (*t.buf.get()).take() };
    t.busy.store(false, Ordering::Release);
    // Written if its trace still runs (write_buf checks the generation under the
    // writer's lock, which rt_trace_stop takes only after collecting the buffers).
    if let Some(b) = b {
        write_buf(m.id, m.procid.load(Ordering::Relaxed), &b);
    }
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
        if let Some(w) = WRITER.get_after_fork().take() {
            libc::close(w.fd);
            // Its memory is the parent's to free; the child only leaks this copy.
            core::mem::forget(w);
        }
    }
}
