"""Helpers for the soak and crash tests (test/soak): asyncio POP3/IMAP clients, /proc figures of
a process, Maildir snapshots and consistency checks. The maild process, the temp root and the
wire forms come from test/smoke/maildtest.py."""
import asyncio
import hashlib
import os
import re
import resource
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))

import maildtest  # noqa: E402  (path set above)

UIDLIST = "maild-uidlist"


# ---------------------------------------------------------------------------------------------
# Descriptor limits


def maild_handler(exe):
    """The ioloop handler maild was built with, from `maild --version`."""
    import subprocess
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"\(ioloop, (\w+) handler\)", out)
    return m.group(1) if m else "unknown"


def raise_nofile(want):
    """Raises this process's RLIMIT_NOFILE soft limit to `want` (at most the hard limit) and
    returns the new soft limit. Children (maild) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def nofile_preexec(n):
    """A preexec_fn that gives the child `n` descriptors (soft and, if lower, hard stays)."""
    def set_limit():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return set_limit


# ---------------------------------------------------------------------------------------------
# /proc figures


def proc_status(pid):
    """{field: kB} for the Vm*/Rss* lines of /proc/<pid>/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.startswith(("Vm", "Rss")):
                out[k] = int(v.split()[0])
    return out


def pss_kib(pid):
    """Pss from /proc/<pid>/smaps_rollup: pages shared by several mappings count once in all."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fd_count(pid, quiet=0.3, timeout=5):
    """The descriptor count once it has not changed for `quiet` seconds (maild prints its
    'listening' lines before it sets up its signal pipe)."""
    import time
    deadline = time.monotonic() + timeout
    last = fd_count(pid)
    since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        n = fd_count(pid)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def fd_targets(pid):
    """The targets of maild's descriptors (for a message when the count does not return)."""
    out = []
    d = "/proc/%d/fd" % pid
    for n in sorted(os.listdir(d), key=int):
        try:
            out.append("%s -> %s" % (n, os.readlink(os.path.join(d, n))))
        except OSError:
            pass
    return out


def proc_alive(proc):
    return proc.poll() is None


# ---------------------------------------------------------------------------------------------
# Maildir snapshots


def digest(data):
    return hashlib.sha256(data).hexdigest()


_digests = {}


def snapshot(maildir):
    """{base name: [(sub/file, sha256)]} of the messages in cur/ and new/ of one Maildir. A base
    appearing twice (two files, one message) shows up as a list of two. Digests are cached by
    inode, size and mtime (hard links of one big message are read once)."""
    out = {}
    for sub in ("cur", "new"):
        d = os.path.join(maildir, sub)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            p = os.path.join(d, n)
            st = os.stat(p)
            key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if key not in _digests:
                with open(p, "rb") as f:
                    _digests[key] = digest(f.read())
            out.setdefault(n.split(":2,")[0], []).append((sub + "/" + n, _digests[key]))
    return out


def read_uidlist(maildir):
    """(uidvalidity, next_uid, [(uid, base)]) or None when the list is missing; raises
    ValueError on a damaged one (what maild would replace with a new UIDVALIDITY)."""
    p = os.path.join(maildir, UIDLIST)
    if not os.path.exists(p):
        return None
    with open(p, "rb") as f:
        text = f.read().decode("latin-1")
    if not text.endswith("\n"):
        raise ValueError("uidlist without a final newline: %r" % text[-80:])
    lines = text.split("\n")[:-1]
    m = re.match(r"V(\d+) N(\d+)(?: R(\d+)(?: M(\d+))?)?$", lines[0])
    if not m:
        raise ValueError("bad uidlist header %r" % lines[0])
    entries = []
    for line in lines[1:]:
        m2 = re.match(r"(\d+) W(\d+)(?: M\d+ F[A-Za-z]*)? :(.+)$", line)
        if not m2:
            raise ValueError("bad uidlist line %r" % line)
        entries.append((int(m2.group(1)), m2.group(3)))
    return int(m.group(1)), int(m.group(2)), entries


def check_consistent(maildir, allowed_extra=("maild-keywords", "subscriptions", "maild-uidlist.lock",
                                             "maild-uidvalidity")):
    """Problems (a list of str, empty when fine) of one Maildir after maild has opened it:
    every file in cur/ is in the uidlist and every entry has a file, UIDs strictly ascending and
    below N, no base twice, new/ empty, and nothing in the directory besides cur new tmp, the
    uidlist, `allowed_extra` and Maildir++ folders."""
    problems = []
    try:
        ul = read_uidlist(maildir)
    except ValueError as e:
        return ["damaged uidlist: %s" % e]
    if ul is None:
        return ["no uidlist"]
    _, next_uid, entries = ul
    uids = [u for u, _ in entries]
    if any(b <= a for a, b in zip(uids, uids[1:])):
        problems.append("UIDs not ascending: %s" % uids)
    if uids and uids[-1] >= next_uid:
        problems.append("UID %d not below N%d" % (uids[-1], next_uid))
    listed = [b for _, b in entries]
    if len(set(listed)) != len(listed):
        problems.append("a base listed twice")
    cur = [n.split(":2,")[0] for n in os.listdir(os.path.join(maildir, "cur"))]
    if len(set(cur)) != len(cur):
        problems.append("a message has two files in cur/: %s" % sorted(cur))
    if set(cur) != set(listed):
        problems.append("cur/ and the uidlist differ: only in cur %s, only in list %s" %
                        (sorted(set(cur) - set(listed)), sorted(set(listed) - set(cur))))
    new = os.listdir(os.path.join(maildir, "new"))
    if new:
        problems.append("new/ not empty after an open: %s" % new)
    for n in os.listdir(maildir):
        if n in ("cur", "new", "tmp", UIDLIST) or n in allowed_extra:
            continue
        if n.startswith(".") and os.path.isdir(os.path.join(maildir, n)):
            continue
        problems.append("leftover %s" % n)
    return problems


# ---------------------------------------------------------------------------------------------
# asyncio clients


class Closed(Exception):
    pass


class AConn:
    """One client socket under asyncio: exact bytes in and out."""

    def __init__(self, reader, writer):
        self.r = reader
        self.w = writer
        self.buf = bytearray()

    @classmethod
    async def open(cls, port, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            # Before connect, so the window the server sees is small from the start.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        except BaseException:
            sock.close()
            raise
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        return cls(reader, writer)

    async def _fill(self):
        chunk = await self.r.read(1 << 18)
        if not chunk:
            raise Closed("connection closed; pending %r" % bytes(self.buf[:200]))
        self.buf += chunk

    async def send(self, data):
        self.w.write(data)
        await self.w.drain()

    def send_nowait(self, data):
        """Queues data without waiting for it to leave (for big pipelined writes whose replies
        must be read meanwhile, or the peer might stop reading)."""
        self.w.write(data)

    async def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            await self._fill()

    async def exactly(self, n):
        while len(self.buf) < n:
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def some(self, n):
        """Reads until at least n bytes arrived in all (then drops them)."""
        got = len(self.buf)
        self.buf.clear()
        while got < n:
            chunk = await self.r.read(1 << 16)
            if not chunk:
                raise Closed("closed after %d bytes" % got)
            got += len(chunk)
        return got

    async def multiline(self):
        """A POP3 multi-line body up to and including '.\\r\\n'."""
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                end = 3
            else:
                i = self.buf.find(b"\r\n.\r\n", start)
                end = i + 5 if i >= 0 else -1
            if end >= 0:
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            start = max(0, len(self.buf) - 4)
            await self._fill()

    async def response(self):
        """One IMAP response without its final CRLF; literals stay inline ('{n}\\r\\n' + bytes)."""
        pos = 0
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i < 0:
                await self._fill()
                continue
            m = re.search(rb"\{(\d+)\}$", self.buf[pos:i])
            if not m:
                out = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return out
            n = int(m.group(1))
            while len(self.buf) < i + 2 + n:
                await self._fill()
            pos = i + 2 + n

    async def until(self, tag):
        """IMAP: (untagged responses, the tagged reply without its tag)."""
        t = tag.encode() + b" "
        untagged = []
        while True:
            r = await self.response()
            if r.startswith(t):
                return untagged, r[len(t):]
            untagged.append(r)

    async def eof(self, timeout):
        """True when the peer closes within `timeout` (data before it is dropped)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    chunk = await self.r.read(1 << 16)
                    if not chunk:
                        return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def abort(self, rst=False):
        """Closes at once; with rst the kernel sends RST (SO_LINGER 0)."""
        sock = self.w.get_extra_info("socket")
        if rst and sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
        self.w.transport.abort()

    async def close(self):
        self.w.close()
        try:
            await self.w.wait_closed()
        except (ConnectionError, OSError):
            pass
