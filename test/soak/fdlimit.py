"""Past the handler's descriptor ceiling: maild with --max-connections 1100 and 1,100 connections
at once, while 40 POP3 sessions hold a message file open each (a RETR to a client that does not
read). Under select(2) descriptors >= FD_SETSIZE (1024) cannot be watched, so some of these
connections land past what the loop can take. Pass: every connection is either greeted or refused
politely (-ERR [SYS/TEMP], then closed), maild stays up, serves a session afterwards, and its
descriptors return to the baseline. Under epoll, poll and kevent all of them are simply greeted."""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import soaklib  # noqa: E402  (puts test/smoke on sys.path)
from maildtest import SAMPLES, Maild, Root, check, time_limit, wire  # noqa: E402

exe = sys.argv[1]
time_limit(60)
CONNECTIONS = 1100
HOLDERS = 40

handler = soaklib.maild_handler(exe)
print("handler:", handler, flush=True)
nofile = soaklib.raise_nofile(4 * CONNECTIONS)
users = {"h%d" % i: ("{PLAIN}pw", "pw") for i in range(HOLDERS)}
users["alice"] = ("{PLAIN}open sesame", "open sesame")
with Root(users) as root:
    root.deliver_samples("alice")
    big = b"From: big@example.org\nSubject: big\n\n" + (b"z" * 78 + b"\n") * 40000
    with open(os.path.join(root.dir, "big"), "wb") as f:
        f.write(big)
    for i in range(HOLDERS):
        d = root.maildir("h%d" % i)
        os.link(os.path.join(root.dir, "big"), os.path.join(d, "cur", "1700000001.M1P1.big:2,"))
    # Every client is 127.0.0.1: no per-address limit.
    with Maild(exe, root, args=["--max-connections", str(CONNECTIONS), "--max-connections-per-address", "0"],
               log_level="warn",
               preexec_fn=soaklib.nofile_preexec(nofile)) as m:
        pid = m.proc.pid
        fds0 = soaklib.settled_fd_count(pid)
        holders = []
        for i in range(HOLDERS):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(10)
            s.connect(("127.0.0.1", m.port))
            g = s.recv(200)
            if not g.startswith(b"+OK"):
                check(False, "holder %d greeted: %r" % (i, g))
            s.sendall(b"USER h%d\r\nPASS pw\r\nRETR 1\r\n" % i)
            holders.append(s)
        deadline = time.monotonic() + 10
        while True:
            open_files = sum(1 for t in soaklib.fd_targets(pid) if "/cur/" in t)
            if open_files >= HOLDERS or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(open_files == HOLDERS, "%d message files held open by RETRs that are not read" % open_files)
        conns = []
        for i in range(CONNECTIONS - HOLDERS):
            if m.proc.poll() is not None:
                break
            try:
                conns.append(socket.create_connection(("127.0.0.1", m.port), timeout=10))
            except OSError as e:
                print("connect %d: %s" % (i, e))
                break
        greeted = refused = other = 0
        for s in conns:
            try:
                data = b""
                while b"\r\n" not in data:
                    chunk = s.recv(200)
                    if not chunk:
                        break
                    data += chunk
            except OSError as e:
                data = repr(e).encode()
            if data.startswith(b"+OK"):
                greeted += 1
            elif data.startswith(b"-ERR [SYS/TEMP]"):
                refused += 1
            else:
                other += 1
        time.sleep(1.0)  # a maild on its way out has its exit code by now
        peak_fds = soaklib.fd_count(pid) if m.proc.poll() is None else -1
        print("figure: %d connections + %d holders: %d greeted, %d refused politely, %d neither; maild fds %d"
              % (len(conns), HOLDERS, greeted, refused, other, peak_fds), flush=True)
        if m.proc.poll() is not None:
            print("maild log tail:\n" + m.log_text()[-600:], flush=True)
        check(m.proc.poll() is None, "maild is up with %d descriptors' worth of clients (handler %s; exit code %s)"
              % (CONNECTIONS + HOLDERS, handler, m.proc.poll()))
        check(other == 0 and greeted + refused == len(conns) == CONNECTIONS - HOLDERS,
              "every connection is greeted or refused politely")
        for s in conns + holders:
            s.close()
        n = fds0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            n = soaklib.fd_count(pid)
            if n <= fds0:
                break
            time.sleep(0.05)
        check(n == fds0, "maild's descriptors return to %d (%d)" % (fds0, n))
        r = m.raw()
        check(r.login("alice")[1].startswith(b"+OK") and r.cmd("RETR 1").startswith(b"+OK")
              and r.multiline() == wire(SAMPLES[0][1]), "a session afterwards gets its mail byte-exact")
        r.cmd("QUIT")
        r.close()
        check(m.stop(signal.SIGTERM) == 0, "clean exit")
print("PASS")
