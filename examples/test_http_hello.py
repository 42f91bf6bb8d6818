#!/usr/bin/env python3
"""Checks examples/http_hello.c from outside, as a client: keep-alive, pipelining,
requests split across writes, request bodies, Connection: close, HTTP/1.0, every error
status, clients that vanish, many connections at once, the idle timeout, and fd
exhaustion (EMFILE on accept: back off, then serve again).

    test_http_hello.py PATH/TO/http_hello

Python 3 stdlib only. No timed assertions: every wait is a watchdog that only fails a
test that would otherwise hang.
"""
import os
import re
import resource
import socket
import subprocess
import sys
import threading

WATCHDOG = 60  # seconds; only ever reached by a hang
HELLO = b"Hello, World!"


class Server:
    """One http_hello process; `conns` = how many connections it accepts before exiting."""

    def __init__(self, binary, conns, extra=(), nofile=None):
        def limit():
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(
            [binary, "-n", str(conns), *extra], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit)
        line = self.proc.stdout.readline().decode()
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise SystemExit("http_hello did not start: %r %r" % (line, self.proc.stderr.read()))
        self.port = int(m.group(1))
        self.stderr_lines = []
        self.stderr_event = threading.Event()
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr_lines.append(raw.decode(errors="replace"))
            self.stderr_event.set()

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=WATCHDOG)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def finish(self):
        """Waits for the exit (after its `conns` connections); returns the summary line."""
        try:
            out, _ = self.proc.communicate(timeout=WATCHDOG)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("http_hello did not exit after its connections")
        self.reader.join(timeout=WATCHDOG)
        assert self.proc.returncode == 0, (self.proc.returncode, self.stderr_lines)
        return out.decode().strip().splitlines()[-1]


class Reader:
    """Parses responses off one socket, byte-exact (no buffering past a response)."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def _fill(self):
        data = self.s.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def response(self, head_request=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3}) ", lines[0])
        assert m, lines[0]
        headers = {}
        for ln in lines[1:]:
            k, v = ln.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        n = 0 if head_request else int(headers["content-length"])
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(m.group(1)), headers, body

    def eof(self):
        """True once the server closed (reads return nothing more)."""
        try:
            while True:
                self._fill()
        except EOFError:
            return self.buf == b""
        except ConnectionResetError:
            return self.buf == b""


def get(path="/", version="1.1", extra=""):
    host = "Host: t\r\n" if version == "1.1" else ""
    return ("GET %s HTTP/%s\r\n%s%s\r\n" % (path, version, host, extra)).encode()


def check_ok(resp, head=False, close=False):
    status, headers, body = resp
    assert status == 200, resp
    assert headers["content-length"] == "13", headers
    assert headers["content-type"] == "text/plain", headers
    assert re.match(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$", headers["date"]), headers
    assert body == (b"" if head else HELLO), body
    assert (headers.get("connection") == "close") == close, headers


def test_keepalive(srv):
    s = srv.connect()
    r = Reader(s)
    for i in range(3):
        s.sendall(get("/k%d" % i))
        check_ok(r.response())
    s.close()


def test_pipelined(srv):
    s = srv.connect()
    r = Reader(s)
    reqs = [get("/a"), b"HEAD /b HTTP/1.1\r\nHost: t\r\n\r\n",
            b"POST /c HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde",
            b"\r\n" + get("/d"), get("/e", extra="Connection: close\r\n")]
    s.sendall(b"".join(reqs))
    check_ok(r.response())
    check_ok(r.response(head_request=True), head=True)
    check_ok(r.response())
    check_ok(r.response())
    check_ok(r.response(), close=True)
    assert r.eof()
    s.close()


def test_split(srv):
    """A request one byte per write, then a body that spans many reads."""
    s = srv.connect()
    r = Reader(s)
    for b in get("/split"):
        s.send(bytes([b]))
    check_ok(r.response())
    body = b"x" * 200000
    s.sendall(b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 7000):
        s.sendall(body[i:i + 7000])
    check_ok(r.response())
    s.sendall(get("/after-body"))
    check_ok(r.response())
    s.close()


def test_close(srv):
    s = srv.connect()
    r = Reader(s)
    s.sendall(get(extra="Connection: keep-alive, close\r\n") + get("/never-answered"))
    check_ok(r.response(), close=True)
    assert r.eof()
    s.close()


def test_http10(srv):
    s = srv.connect()
    r = Reader(s)
    s.sendall(get(version="1.0", extra="Connection: Keep-Alive\r\n"))
    check_ok(r.response())
    s.sendall(get(version="1.0"))
    check_ok(r.response(), close=True)
    assert r.eof()
    s.close()


BAD = [
    (400, b"GARBAGE\r\n\r\n"),
    (400, b"GET / HTTP/1.1\r\n\r\n"),                          # no Host
    (400, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),      # two Hosts
    (400, b"GET / HTTP/2.7\r\nHost: t\r\n\r\n"),
    (400, b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n"),
    (400, b"GET / HTTP/1.1\r\nHost : t\r\n\r\n"),              # space before the colon
    (400, b"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n"),
    (400, b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1x\r\n\r\n"),
    (400, b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
    (400, b"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n"),
    (413, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n"),
    (431, b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n"),
    (501, b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
]


def test_bad(srv):
    for want, req in BAD:
        s = srv.connect()
        r = Reader(s)
        # A good request first: the error must not lose the answer before it.
        s.sendall(get("/first") + req)
        check_ok(r.response())
        status, headers, body = r.response()
        assert status == want, (want, status, req[:60])
        assert headers["connection"] == "close" and body.startswith(str(want).encode())
        assert r.eof(), req[:60]
        s.close()


def test_vanishing_clients(srv):
    # half a request, then gone; a request, then gone without reading; a reset
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    s.close()
    s = srv.connect()
    s.sendall(get() * 50)
    s.close()
    s = srv.connect()
    s.sendall(get())
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()  # RST
    test_keepalive(srv)  # still serving


def test_many(srv, n):
    socks = [srv.connect() for _ in range(n)]
    readers = [Reader(s) for s in socks]
    for rnd in range(2):
        for s in socks:
            s.sendall(get("/many%d" % rnd))
        for r in readers:
            check_ok(r.response())
    for s in socks:
        s.close()


def main_server(binary):
    conns = 0
    plan = [("keepalive", test_keepalive, 1), ("pipelined", test_pipelined, 1),
            ("split", test_split, 1), ("close", test_close, 1), ("http10", test_http10, 1),
            ("bad", test_bad, len(BAD)), ("vanishing", test_vanishing_clients, 4),
            ("many", lambda s: test_many(s, 200), 200)]
    conns = sum(c for _, _, c in plan)
    srv = Server(binary, conns)
    for name, fn, _ in plan:
        fn(srv)
        print("  ok  %s" % name)
    summary = srv.finish()
    m = re.match(r"served (\d+) connections, (\d+) requests, (\d+) error responses; "
                 r"0 accept back-offs, 0 connections dropped, 0 waits retried$", summary)
    assert m and int(m.group(1)) == conns and int(m.group(3)) == len(BAD), summary
    print("  ok  exit: " + summary)


def idle_timeout(binary):
    srv = Server(binary, 1, extra=("-t", "0.2"))
    s = srv.connect()
    r = Reader(s)
    s.sendall(get())
    check_ok(r.response())
    assert r.eof()  # closed by the server once idle; a missing timeout hangs here
    s.close()
    srv.finish()
    print("  ok  idle timeout")


def fd_exhaustion(binary):
    """The server may hold 40 fds; 80 clients connect. Accept hits EMFILE and must back
    off (a bounded number of retries, not a spin), serve those it accepted, and take the
    rest once fds come back."""
    nclients = 80
    srv = Server(binary, nclients + 1, extra=("-W",), nofile=40)
    # -W: the server accepts only once every client is queued, so it fills its fd table
    # before it ever waits on the listener. A connection's G then made the runtime's
    # first wait and found no fd for the poller (RT_ENOMEM: the connection was dropped)
    # until http_hello made the poller at start.
    socks = [srv.connect() for _ in range(nclients)]
    srv.proc.stdin.write(b"go\n")
    srv.proc.stdin.flush()
    # Wait (watchdog only) until the server reports EMFILE.
    while not any("backing off" in ln for ln in srv.stderr_lines):
        srv.stderr_event.clear()
        if not srv.stderr_event.wait(WATCHDOG):
            raise AssertionError("no EMFILE back-off reported: %r" % srv.stderr_lines)
    assert any("Too many open files" in ln for ln in srv.stderr_lines), srv.stderr_lines
    # The first connections were accepted: they are served.
    for i, s in enumerate(socks[:5]):
        s.sendall(get())
        r = Reader(s)
        try:
            check_ok(r.response())
        except EOFError:
            raise AssertionError("connection %d closed; server: %r" % (i, srv.stderr_lines))
    for s in socks:
        s.close()
    # Once fds are free again, a new connection is served.
    s = srv.connect()
    r = Reader(s)
    s.sendall(get())
    check_ok(r.response())
    s.close()
    summary = srv.finish()
    m = re.search(r"(\d+) accept back-offs, (\d+) connections dropped, (\d+) waits retried", summary)
    # Each back-off sleeps 5 ms doubling to 1 s: a spinning loop would show thousands.
    # A wait retried means rt_poll_fd said RT_ENOMEM: here, no fd left for the poller.
    assert m and 1 <= int(m.group(1)) < 1000 and m.group(2) == "0" and m.group(3) == "0", summary
    print("  ok  fd exhaustion: " + summary)


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    main_server(binary)
    idle_timeout(binary)
    fd_exhaustion(binary)
    print("http_hello: all checks passed")


if __name__ == "__main__":
    main()
