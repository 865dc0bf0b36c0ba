#!/usr/bin/env python3
"""Runs examples/server under overload and faults, on loopback, bounded.

usage: check_server.py SERVER

The server runs with one worker, max_queued 4, 2 ms requests, a 1 s header
timeout. In turn:
  overload    64 connections in a closed loop ask for far more than one
              worker serves: some requests get 503 (shed), the others 200,
              and the accepted ones' p99 stays bounded (well under the
              time an unbounded queue would reach);
  disconnect  clients that leave mid-request (after a whole request, or
              after half of one) do not disturb the server;
  slowloris   connections that trickle a request byte by byte are closed
              by the header timeout while normal requests are served;
  burst       10,000 connections at once (RLIMIT_NOFILE raised to its hard
              limit; fewer if the limit is lower, and it says so), each
              with one request: every one gets 200 or 503;
  shutdown    SIGINT with requests in the pool: they get their replies,
              the server exits 0 (under AddressSanitizer: no error, no
              leak).
After each phase the server must still answer a plain request.
"""
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time

BURST = 10000


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def request(us=None, close=False):
    path = "/" if us is None else "/?us=%d" % us
    hdr = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
    if close:
        hdr += "Connection: close\r\n"
    return (hdr + "\r\n").encode()


def read_reply(sock, deadline):
    """One whole reply (headers and Content-Length body): its status."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                k, _, v = line.partition(":")
                if k.strip().lower() == "content-length":
                    length = int(v)
            if len(buf) >= end + 4 + length:
                return int(head.split(" ")[1]), buf[end + 4 + length:]
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no reply in time")
        sock.settimeout(left)
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before a reply")
        buf += chunk


def plain_request(port, what):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request(us=0))
            status, _ = read_reply(s, time.monotonic() + 10)
    except (OSError, TimeoutError) as e:
        fail("%s: a plain request failed: %s" % (what, e))
    if status not in (200, 503):
        fail("%s: a plain request got %d" % (what, status))


def overload(port):
    """A closed loop over many connections against one worker."""
    sel = selectors.DefaultSelector()
    conns = []
    for _ in range(64):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.setblocking(False)
        st = {"sock": s, "buf": b"", "sent": time.monotonic()}
        s.send(request())
        sel.register(s, selectors.EVENT_READ, st)
        conns.append(st)
    counts = {}
    lat_ok = []
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.5):
            st = key.data
            chunk = st["sock"].recv(65536)
            if not chunk:
                fail("overload: the server closed a connection")
            st["buf"] += chunk
            while True:
                b = st["buf"]
                i = b.find(b"\r\n\r\n")
                if i < 0:
                    break
                head = b[:i].decode("latin-1")
                n = 0
                for line in head.split("\r\n")[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        n = int(v)
                if len(b) < i + 4 + n:
                    break
                st["buf"] = b[i + 4 + n:]
                status = int(head.split(" ")[1])
                counts[status] = counts.get(status, 0) + 1
                now = time.monotonic()
                if status == 200:
                    lat_ok.append(now - st["sent"])
                st["sent"] = now
                st["sock"].send(request())
    for st in conns:
        sel.unregister(st["sock"])
        st["sock"].close()
    sel.close()
    ok, shed = counts.get(200, 0), counts.get(503, 0)
    other = sum(v for k, v in counts.items() if k not in (200, 503))
    lat_ok.sort()
    p99 = lat_ok[int(len(lat_ok) * 0.99)] if lat_ok else 0
    print("overload: 200=%d 503=%d other=%d accepted p99=%.1f ms"
          % (ok, shed, other, p99 * 1e3), flush=True)
    if not ok or not shed or other:
        fail("overload: expected both 200 and 503 and nothing else")
    # One worker, max_queued 4, 2 ms each: an accepted request waits for
    # at most about five others. A generous bound for a loaded machine
    # and a sanitizer build; an unbounded queue would grow past it.
    if p99 > 1.0:
        fail("overload: accepted p99 %.3f s is not bounded" % p99)


def disconnect(port):
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if i % 3 == 0:
            s.sendall(request(us=20000))       # leaves while it runs
        elif i % 3 == 1:
            s.sendall(request(us=0)[:20])      # leaves mid-request
        else:
            s.sendall(request() * 3)           # pipelined, then leaves
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
        s.close()
    time.sleep(0.3)
    print("disconnect: 300 clients left mid-request", flush=True)


def slowloris(port):
    slow = [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(50)]
    partial = request()[:-2]
    t0 = time.monotonic()
    closed = set()
    i = 0
    while len(closed) < len(slow) and time.monotonic() - t0 < 8:
        for k, s in enumerate(slow):
            if k in closed:
                continue
            try:
                if i < len(partial):
                    s.send(partial[i:i + 1])
                s.settimeout(0.001)
                if s.recv(1) == b"":
                    closed.add(k)
            except socket.timeout:
                pass
            except OSError:
                closed.add(k)
        i += 1
        if i == 3:
            plain_request(port, "slowloris")
        time.sleep(0.1)
    took = time.monotonic() - t0
    for s in slow:
        s.close()
    print("slowloris: %d of %d closed by the server after %.1f s"
          % (len(closed), len(slow), took), flush=True)
    if len(closed) != len(slow):
        fail("slowloris: the header timeout did not close them all")


def burst(port):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(BURST, hard - 100)
    if n < BURST:
        print("burst: RLIMIT_NOFILE hard limit %d allows %d connections, "
              "not %d" % (hard, n, BURST), flush=True)
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        st = {"sock": s, "out": request(us=0), "buf": b"", "status": None}
        sel.register(s, selectors.EVENT_WRITE, st)
        socks.append(st)
    pending = n
    counts = {}
    deadline = time.monotonic() + 90
    while pending and time.monotonic() < deadline:
        for key, ev in sel.select(timeout=1):
            st = key.data
            s = st["sock"]
            try:
                if ev & selectors.EVENT_WRITE:
                    k = s.send(st["out"])
                    st["out"] = st["out"][k:]
                    if not st["out"]:
                        sel.modify(s, selectors.EVENT_READ, st)
                    continue
                chunk = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as e:
                chunk = b""
                st["err"] = str(e)
            if chunk:
                st["buf"] += chunk
                if b"\r\n\r\n" not in st["buf"]:
                    continue
                code = int(st["buf"].split(b" ")[1])
            else:
                code = "closed"
            counts[code] = counts.get(code, 0) + 1
            sel.unregister(s)
            s.close()
            pending -= 1
    for st in socks:
        if st["sock"].fileno() >= 0:
            st["sock"].close()
    sel.close()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print("burst: %d connections: %s, %d unanswered"
          % (n, " ".join("%s=%d" % kv for kv in sorted(
              counts.items(), key=str)), pending), flush=True)
    if pending or set(counts) - {200, 503}:
        fail("burst: every connection should get 200 or 503")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    server = subprocess.Popen(
        [sys.argv[1], "--port", "0", "--workers", "1", "--max-queued", "4",
         "--work-us", "2000", "--header-timeout", "1",
         "--idle-timeout", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        if not line.startswith("listening port="):
            fail("the server did not start: %r %s"
                 % (line, server.stderr.read()))
        port = int(line.split("=")[1])
        for phase in (overload, disconnect, slowloris, burst):
            phase(port)
            if server.poll() is not None:
                fail("the server died during %s (status %d)"
                     % (phase.__name__, server.returncode))
            plain_request(port, phase.__name__)
        # Shutdown with requests in the pool: they still get replies.
        inflight = []
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(request(us=200000))
            inflight.append(s)
        time.sleep(0.3)
        server.send_signal(signal.SIGINT)
        got = []
        for s in inflight:
            try:
                got.append(read_reply(s, time.monotonic() + 10)[0])
            except (OSError, TimeoutError) as e:
                got.append(str(e))
            s.close()
        out, err = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        fail("the server did not exit after SIGINT")
    finally:
        if server.poll() is None:
            server.kill()
    print("shutdown: replies %s; %s" % (got, out.strip()), flush=True)
    if err.strip():
        print(err, flush=True)
    if server.returncode != 0:
        fail("the server exited with status %d" % server.returncode)
    if "Sanitizer" in err:
        fail("a sanitizer reported an error")
    if sorted(got) != [200, 200, 200]:
        fail("requests in flight at SIGINT should get 200")
    print("ok", flush=True)


if __name__ == "__main__":
    main()
