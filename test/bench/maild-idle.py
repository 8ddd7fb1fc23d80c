#!/usr/bin/env python3
"""maild IDLE benchmark: what N IMAP sessions in IDLE cost while no mail comes, and how soon a
delivered message reaches them.

    test/bench/maild-idle.py --build=BUILD [--sessions=1000] [--users=1] [--quiet=10]
                             [--deliveries=5] [--sources=8] [--limit=300] [--json=FILE]
                             [--tmpdir=DIR]

BUILD is any build tree with maild (BUILD/src/maild/maild); its handler (epoll, kevent...) is the
one measured. Everything runs on 127.0.0.x and stops by itself within --limit seconds.
1. A temp mail root (under --tmpdir: its file system decides what maild's synced uidlist writes
   cost, which the first session's time includes) with --users users (u0, u1...; {PLAIN} passwords), each with an empty INBOX;
   maild on 127.0.0.1:0 with --max-connections and --max-connections-per-address sized to N.
   Our RLIMIT_NOFILE is raised to its hard limit first; maild inherits it.
2. N sessions, session i as user i % users from source address 127.0.0.(2 + i % sources), each
   sending LOGIN, SELECT INBOX and IDLE pipelined in one write, at most 256 still on their way
   to IDLE at a time; it waits until every one has its "+ idling".
3. No mail for --quiet seconds: maild's CPU (utime+stime from /proc/PID/stat) over that time,
   as a share of one core. Any byte a session receives meanwhile is counted (there should be none).
4. --deliveries times: one message into one user's INBOX (round r: user r % users) as a delivery
   agent does it (written to tmp/, renamed into new/); the time from the rename until the first
   and until the last of that user's sessions has read "* n EXISTS", maild's CPU per delivery,
   and whether any session of another user got anything (it must not). Two seconds of quiet
   between deliveries let the mailbox settle. Medians over the deliveries are printed.
The times include this client's own work of reading N sockets in Python (one thread, epoll);
they are upper bounds of what maild takes.
"""
import argparse
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf('SC_CLK_TCK')


def log(*a):
    print(*a, flush=True)


def cpu_s(pid):
    with open(f'/proc/{pid}/stat') as f:
        s = f.read()
    fields = s[s.rindex(')') + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Session:
    __slots__ = ('sock', 'user', 'buf', 'idle', 'seen')

    def __init__(self, sock, user):
        self.sock, self.user, self.buf, self.idle, self.seen = sock, user, bytearray(), False, None


def start_maild(exe, root, passwd, n, sources, logf):
    per_address = -(-n // sources) + 16
    cmd = [exe, '--mail-root', root, '--passwd', passwd, '--imap', '127.0.0.1:0',
           '--max-connections', str(n + 64), '--max-connections-per-address', str(per_address),
           '--log-level', 'info']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        line = proc.stdout.readline().decode()
        if not line:
            break
        parts = line.split()
        if len(parts) == 4 and parts[1] == 'listening' and parts[2] == 'imap':
            return proc, int(parts[3].rsplit(':', 1)[1])
    proc.kill()
    raise RuntimeError('maild did not start')


def open_sessions(sel, port, n, users, sources, deadline):
    sessions = []
    pending = 0  # connected or connecting, not yet in IDLE
    started = 0
    while started < n or pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f'only {started - pending} of {n} sessions reached IDLE in time')
        while started < n and pending < 256:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((f'127.0.0.{2 + started % sources}', 0))
            s.setblocking(False)
            s.connect_ex(('127.0.0.1', port))
            u = started % users
            sess = Session(s, u)
            sessions.append(sess)
            sel.register(s, selectors.EVENT_WRITE, sess)
            started += 1
            pending += 1
        for key, ev in sel.select(1.0):
            sess = key.data
            if ev & selectors.EVENT_WRITE:
                err = sess.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise RuntimeError(f'connect: {os.strerror(err)}')
                sess.sock.send(f'a LOGIN u{sess.user} pw\r\nb SELECT INBOX\r\nc IDLE\r\n'.encode())
                sel.modify(sess.sock, selectors.EVENT_READ, sess)
                continue
            data = sess.sock.recv(65536)
            if not data:
                raise RuntimeError('maild closed a session before IDLE')
            sess.buf += data
            if b'\r\n+ ' in sess.buf:
                sess.idle = True
                sess.buf.clear()
                pending -= 1
    return sessions


def drain(sel, seconds):
    """Reads whatever comes during `seconds`; the number of bytes."""
    got = 0
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            data = key.data.sock.recv(65536)
            if not data:
                raise RuntimeError('maild closed a session')
            got += len(data)
    return got


def deliver(sel, root, user, sessions, r, timeout):
    d = os.path.join(root, f'u{user}')
    name = f'{int(time.time())}.M{r}P{os.getpid()}.bench'
    tmp = os.path.join(d, 'tmp', name)
    with open(tmp, 'wb') as f:
        f.write(b'From: bench@example.org\r\nSubject: round %d\r\n\r\nhello\r\n' % r)
    want = [s for s in sessions if s.user == user]
    for s in want:
        s.seen = None
        s.buf.clear()
    others = 0
    left = len(want)
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(d, 'new', name))
    end = t0 + timeout
    while left and time.monotonic() < end:
        for key, _ in sel.select(max(0.0, end - time.monotonic())):
            s = key.data
            data = s.sock.recv(65536)
            if not data:
                raise RuntimeError('maild closed a session')
            now = time.monotonic()
            if s.user != user:
                others += len(data)
                continue
            s.buf += data
            if s.seen is None and b' EXISTS\r\n' in s.buf:
                s.seen = now - t0
                left -= 1
    times = sorted(s.seen for s in want if s.seen is not None)
    return times, len(want) - len(times), others


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', required=True)
    ap.add_argument('--sessions', type=int, default=1000)
    ap.add_argument('--users', type=int, default=1)
    ap.add_argument('--quiet', type=float, default=10.0)
    ap.add_argument('--deliveries', type=int, default=5)
    ap.add_argument('--sources', type=int, default=8)
    ap.add_argument('--limit', type=int, default=300)
    ap.add_argument('--json')
    ap.add_argument('--tmpdir')
    a = ap.parse_args()
    exe = os.path.join(a.build, 'src', 'maild', 'maild')
    if not os.access(exe, os.X_OK):
        sys.exit(f'no maild in {a.build}')

    def expired(signo, frame):
        raise TimeoutError(f'time limit of {a.limit} s exceeded')
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(a.limit)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < a.sessions + 256:
        sys.exit(f'RLIMIT_NOFILE hard limit {hard} is too low for {a.sessions} sessions')

    tmpdir = tempfile.mkdtemp(prefix='maild-idle.', dir=a.tmpdir)
    proc = None
    sel = selectors.DefaultSelector()
    sessions = []
    try:
        root = os.path.join(tmpdir, 'mail')
        passwd = os.path.join(tmpdir, 'passwd')
        with open(passwd, 'w') as f:
            for u in range(a.users):
                f.write(f'u{u}:{{PLAIN}}pw:1000:1000::::\n')
                for sub in ('cur', 'new', 'tmp'):
                    os.makedirs(os.path.join(root, f'u{u}', sub))
        logf = open(os.path.join(tmpdir, 'maild.log'), 'ab')
        proc, port = start_maild(exe, root, passwd, a.sessions, a.sources, logf)
        t = time.monotonic()
        sessions = open_sessions(sel, port, a.sessions, a.users, a.sources, t + a.limit / 2)
        log(f'{a.sessions} sessions ({a.users} users) in IDLE after {time.monotonic() - t:.1f} s')
        drain(sel, 2.0)  # the start's own changes (recent marks) settle

        c0 = cpu_s(proc.pid)
        got = drain(sel, a.quiet)
        quiet_pct = (cpu_s(proc.pid) - c0) / a.quiet * 100
        log(f'no mail for {a.quiet:.0f} s: maild CPU {quiet_pct:.2f}% of a core; {got} bytes to clients')

        firsts, lasts, cpus, missed, others = [], [], [], 0, 0
        for r in range(a.deliveries):
            user = r % a.users
            c0 = cpu_s(proc.pid)
            times, miss, oth = deliver(sel, root, user, sessions, r, 10.0)
            drain(sel, 2.0)
            cpus.append(cpu_s(proc.pid) - c0)
            missed += miss
            others += oth
            if times:
                firsts.append(times[0] * 1000)
                lasts.append(times[-1] * 1000)
            log(f'delivery {r + 1} to u{user}: first {firsts[-1] if times else -1:.1f} ms, '
                f'last {lasts[-1] if times else -1:.1f} ms of {len(times)}; {miss} missed; '
                f'maild CPU {cpus[-1]:.2f} s; {oth} bytes to other users')
        result = {
            'sessions': a.sessions, 'users': a.users, 'quiet_s': a.quiet, 'quiet_cpu_pct': quiet_pct,
            'quiet_bytes': got, 'first_ms_median': statistics.median(firsts) if firsts else None,
            'last_ms_median': statistics.median(lasts) if lasts else None,
            'delivery_cpu_s_median': statistics.median(cpus), 'missed': missed, 'to_other_users': others,
        }
        log(f"== N={a.sessions} users={a.users}: idle CPU {quiet_pct:.2f}%; first {result['first_ms_median']:.1f} ms; "
            f"last {result['last_ms_median']:.1f} ms (medians of {a.deliveries}); CPU/delivery "
            f"{result['delivery_cpu_s_median']:.2f} s; missed {missed}; to other users {others} bytes")
        if a.json:
            with open(a.json, 'w') as f:
                json.dump(result, f, indent=1)
        return 1 if missed else 0
    finally:
        signal.alarm(0)
        for s in sessions:
            s.sock.close()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
