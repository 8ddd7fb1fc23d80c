"""COMPRESS=DEFLATE (RFC 4978) through raw sockets and python's zlib: refused before login, an
unknown mechanism BAD, a second one NO [COMPRESSIONACTIVE]; commands pipelined right behind
COMPRESS are read as deflate; then FETCH of a big message, APPEND and FETCH back, IDLE with a
delivery and LOGOUT, all byte-exact. Bounds: a compressed over-long line gets BYE; 35 KB that
inflate to three million commands (and 180 MB of 60 KB lines) are served with maild's RSS
bounded, another client answered meanwhile; a client that never reads holds maild to its output
bound and is closed by the idle timeout; corrupt deflate gets BYE after the commands before it.
maild serves other clients throughout. Exits 77 (skip) when maild was built without zlib and does
not announce COMPRESS=DEFLATE."""
import base64
import os
import random
import select
import socket
import sys
import threading
import time
import zlib

from maildtest import SKIP, ImapRaw, Lit, Maild, Root, check, fail, fetches, rss_kib, time_limit

exe = sys.argv[1]
time_limit(85)
with open(exe, "rb") as f:
    SANITIZED = b"AddressSanitizer" in f.read()
MIB = 1024 * 1024
# Under sanitizers maild is much slower and its RSS not asserted: the same checks, less data.
COMMANDS, LONG_LINES = (100_000, 300) if SANITIZED else (3_000_000, 3000)


class ZRaw(ImapRaw):
    """ImapRaw that deflates what it sends and inflates what it receives once compress() is done;
    wire_in counts the bytes as they came off the socket."""

    def __init__(self, port, **kw):
        self.deflater = self.inflater = None
        self.wire_in = 0
        super().__init__(port, **kw)

    def compress(self, then=b""):
        """COMPRESS DEFLATE; `then` (plain text) is sent deflated in the same write as the
        command, before its OK arrives."""
        tag = self.next_tag()
        deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        after = deflater.compress(then) + deflater.flush(zlib.Z_SYNC_FLUSH) if then else b""
        self.sock.sendall(("%s COMPRESS DEFLATE\r\n" % tag).encode() + after)
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, rest = bytes(self.buf).partition(b"\r\n")
        check(line.startswith(tag.encode() + b" OK"), "COMPRESS DEFLATE: tagged OK in plain text: %r" % line)
        self.deflater, self.inflater = deflater, zlib.decompressobj(-15)
        self.buf = bytearray(self.inflater.decompress(rest))

    def send(self, data):
        data = data.encode() if isinstance(data, str) else data
        if self.deflater:
            data = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        if timeout is not None and not select.select([self.sock], [], [], max(timeout, 0))[0]:
            return False
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed; pending %r" % bytes(self.buf[:200]))
        self.wire_in += len(chunk)
        self.buf += self.inflater.decompress(chunk) if self.inflater else chunk
        return True

    def until_eof(self, timeout):
        """Everything until the server closes (True), or False when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self._fill(deadline - time.monotonic()):
                    return False
        except (EOFError, ConnectionResetError):
            return True


def count_replies(z, reply, last):
    """How many `reply` lines arrive before the one starting with `last` (read too)."""
    answered = 0
    while True:
        i = z.buf.find(last)
        cut = i if i >= 0 else z.buf.rfind(b"\r\n") + 2
        answered += z.buf.count(reply, 0, cut)
        if i >= 0:
            del z.buf[:z.buf.index(b"\r\n", i) + 2]
            return answered
        del z.buf[:cut]
        if not z._fill(30):
            fail("replies stopped after %d" % answered)


def zraw(m, user=None):
    r = ZRaw(m.imap_port)
    if user:
        r.ok('LOGIN %s "open sesame"' % user)
    return r


def text_message(i, size):
    """A message of readable lines that compresses well, each one different."""
    head = b"From: big@example.org\r\nSubject: big %d\r\nMessage-ID: <big%d@test>\r\n\r\n" % (i, i)
    lines, n = [], 0
    while n < size:
        l = b"line %07d of a long message that repeats itself, as mail often does\r\n" % n
        lines.append(l)
        n += len(l)
    return head + b"".join(lines)


def random_message(i, size, rng):
    """A message whose body is base64 of random bytes: deflate gains little on it."""
    body = base64.encodebytes(rng.randbytes(size * 3 // 4)).replace(b"\n", b"\r\n")
    return b"From: noise@example.org\r\nSubject: noise %d\r\n\r\n" % i + body


def noop_alive(m, what):
    r = ImapRaw(m.imap_port)
    _, done = r.cmd("NOOP")
    check(done.startswith(b"OK"), "%s: another client is still served" % what)
    r.close()


def bounded(growth_kib, limit_mib, what):
    if SANITIZED:
        print("note: under sanitizers RSS is not asserted; %s grew %d KiB" % (what, growth_kib), flush=True)
        return
    check(growth_kib < limit_mib * 1024, "%s: maild's RSS grew %d KiB (< %d MiB)" % (what, growth_kib, limit_mib))


rng = random.Random(4978)
with Root() as root:
    big = text_message(1, 4 * MIB)
    root.deliver("alice", "1700000001.M1P1.big", big, "cur", ":2,")
    with Maild(exe, root, imap=True, pop3=False) as m:
        plain = ImapRaw(m.imap_port)
        caps, _ = plain.cmd("CAPABILITY")
        if not any(b"COMPRESS=DEFLATE" in c.split() for c in caps):
            print("maild built without zlib: COMPRESS=DEFLATE not announced, skipping", flush=True)
            sys.exit(SKIP)
        check(b"COMPRESS=DEFLATE" in plain.greeting, "the greeting's CAPABILITY has COMPRESS=DEFLATE")

        # Not before login; the connection stays plain.
        _, done = plain.cmd("COMPRESS DEFLATE")
        check(done.startswith(b"BAD"), "COMPRESS before login: BAD, %r" % done)
        _, done = plain.cmd("NOOP")
        check(done.startswith(b"OK"), "after a refused COMPRESS the session goes on in plain text")
        plain.ok('LOGIN alice "open sesame"')
        _, done = plain.cmd("COMPRESS LZ4")
        check(done.startswith(b"BAD"), "COMPRESS with an unknown mechanism: BAD, %r" % done)
        plain.ok("SELECT INBOX")
        t = plain.ok("FETCH 1 BODY[]")
        check(fetches(t)[1]["BODY[]"] == big, "plain FETCH of the big message is exact")
        plain.ok("LOGOUT")
        plain.close()

        # Compressed: a NOOP pipelined behind COMPRESS, read as deflate; then a second COMPRESS.
        z = zraw(m, "alice")
        z.compress(then=b"p1 NOOP\r\n")
        _, done = z.until("p1")
        check(done.startswith(b"OK"), "a command sent deflated right behind COMPRESS is answered: %r" % done)
        _, done = z.cmd("COMPRESS DEFLATE")
        check(done.startswith(b"NO [COMPRESSIONACTIVE]"), "a second COMPRESS: NO [COMPRESSIONACTIVE], %r" % done)
        caps, _ = z.cmd("CAPABILITY")
        check(any(c.startswith(b"* CAPABILITY IMAP4rev1") for c in caps), "CAPABILITY over deflate")

        z.ok("SELECT INBOX")
        before = z.wire_in
        t = z.ok("FETCH 1 BODY[]")
        wire = z.wire_in - before
        check(fetches(t)[1]["BODY[]"] == big, "FETCH BODY[] of a %d-byte message over deflate is exact" % len(big))
        print("FETCH 1 BODY[] of %d bytes: %d bytes on the wire compressed" % (len(big), wire), flush=True)
        check(wire < len(big) // 4, "and it is smaller on the wire: %d bytes for %d" % (wire, len(big)))

        # APPEND with a synchronizing literal (its "+" arrives deflated), then the same bytes back.
        appended = bytes(b for b in rng.randbytes(300 * 1024) if b not in (0, 10, 13)) + b"\r\nend\r\n"
        _, done = z.cmd("APPEND INBOX ", Lit(b"Subject: appended\r\n\r\n" + appended))
        check(done.startswith(b"OK [APPENDUID"), "APPEND over deflate: %r" % done)
        uid = int(done.split()[3].rstrip(b"]"))
        t = z.ok("UID FETCH %d BODY[]" % uid)
        got = [v["BODY[]"] for v in fetches(t).values() if "BODY[]" in v]
        check(got == [b"Subject: appended\r\n\r\n" + appended], "the appended message comes back byte-identical")

        # IDLE: a delivery into new/ reaches the client deflated.
        z.send("i1 IDLE\r\n")
        cont = z.response(10)
        check(cont is not None and cont.startswith(b"+"), "IDLE's continuation over deflate: %r" % cont)
        root.deliver("alice", "1700000009.M9P9.idle", b"Subject: while idle\r\n\r\nhello\r\n")
        got = z.response(15)
        check(got == b"* 3 EXISTS", "IDLE reports the delivery deflated: %r" % got)
        z.send("DONE\r\n")
        _, done = z.until("i1")
        check(done.startswith(b"OK"), "DONE ends IDLE over deflate")
        untagged, done = z.cmd("LOGOUT")
        check(done.startswith(b"OK") and untagged[0].startswith(b"* BYE"), "LOGOUT over deflate: BYE, OK")
        check(z.until_eof(5), "and the connection closes")

        # A compressed line over the line limit: a few KB that inflate to 64 MiB without a LF.
        base = rss_kib(m.proc.pid)
        z = zraw(m, "alice")
        z.compress()
        d = z.deflater
        piece = d.compress(b"a1 NOOP " + b"A" * MIB)
        sent = 0
        try:
            for _ in range(64):
                z.sock.sendall(piece)
                sent += len(piece)
                piece = d.compress(b"A" * MIB)
            z.sock.sendall(d.flush(zlib.Z_SYNC_FLUSH))
        except (BrokenPipeError, ConnectionResetError):
            pass
        check(z.until_eof(10), "an over-long compressed line: the connection closes")
        check(b"* BYE Line too long" in z.buf, "with * BYE Line too long (deflated): %r" % bytes(z.buf[:100]))
        bounded(rss_kib(m.proc.pid) - base, 20, "a compressed 64 MiB line")
        noop_alive(m, "after a compressed over-long line")

        # A bomb of commands: 8 bytes a NOOP inflated, some 35 KB for three million deflated. maild
        # inflates no more than its input buffer takes and stops reading meanwhile: it serves
        # them at its pace with its memory bounded, and answers every one.
        z = zraw(m, "alice")
        z.compress()
        d = zlib.compressobj(9, zlib.DEFLATED, -15)
        bomb = d.compress(b"n NOOP\r\n" * COMMANDS) + d.compress(b"end NOOP\r\n") + d.flush(zlib.Z_SYNC_FLUSH)
        base = rss_kib(m.proc.pid)
        z.sock.sendall(bomb)
        z.deflater = d
        peak = base
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # the client does not read for a while
            peak = max(peak, rss_kib(m.proc.pid))
            time.sleep(0.05)
        # Now the client reads, in a thread; meanwhile another client is answered promptly, as
        # maild inflates a bounded amount per loop iteration instead of the whole bomb at once.
        result = {}

        def read_bomb():
            try:
                result["answered"] = count_replies(z, b"n OK NOOP completed\r\n", b"end OK")
            except Exception as e:  # reported by the main thread
                result["error"] = repr(e)

        t0 = time.monotonic()
        reader = threading.Thread(target=read_bomb)
        reader.start()
        time.sleep(0.3)
        other = ImapRaw(m.imap_port)
        slowest = 0
        for _ in range(3):
            t = time.monotonic()
            _, done = other.cmd("NOOP")
            slowest = max(slowest, time.monotonic() - t)
            check(done.startswith(b"OK"), "another client's NOOP during the bomb")
        other.close()
        check(slowest < 2, "another client is answered within 2 s while the bomb is served (%.3f s)" % slowest)
        while reader.is_alive():
            peak = max(peak, rss_kib(m.proc.pid))
            reader.join(0.1)
        check("error" not in result, "reading the bomb's replies: %s" % result.get("error"))
        answered = result["answered"]
        print("bomb: %d bytes deflated for %d NOOPs; all answered in %.1f s; maild's RSS grew %d KiB at most; "
              "another client's slowest NOOP meanwhile %.3f s" % (len(bomb), COMMANDS, time.monotonic() - t0,
                                                                 peak - base, slowest), flush=True)
        check(answered == COMMANDS, "every NOOP of the bomb is answered: %d of %d" % (answered, COMMANDS))
        bounded(peak - base, 4, "%d deflated NOOPs" % COMMANDS)
        z.close()

        # A bomb of long lines: each under the line limit, 180 MiB in all from some 200 KB. Without
        # backpressure on the inflated input it would all be in maild at once.
        z = zraw(m, "alice")
        z.compress()
        line = b"l " + b"X" * 60000 + b"\r\n"
        d = zlib.compressobj(9, zlib.DEFLATED, -15)
        z.sock.sendall(b"".join(d.compress(line) for _ in range(LONG_LINES)) + d.compress(b"end NOOP\r\n") +
                       d.flush(zlib.Z_SYNC_FLUSH))
        base = peak = rss_kib(m.proc.pid)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:  # not reading
            peak = max(peak, rss_kib(m.proc.pid))
            time.sleep(0.05)
        answered = count_replies(z, b"l BAD Unknown command\r\n", b"end OK")
        print("long-line bomb: maild's RSS grew %d KiB at most" % (peak - base), flush=True)
        check(answered == LONG_LINES, "every long line of the bomb is answered: %d of %d" % (answered, LONG_LINES))
        bounded(peak - base, 20, "%d deflated lines of 60 KB" % LONG_LINES)
        z.close()

        # Corrupt deflate after a good command: its reply, then BYE, deflated; then the close.
        z = zraw(m, "alice")
        z.compress()
        good = z.deflater.compress(b"c1 NOOP\r\n") + z.deflater.flush(zlib.Z_SYNC_FLUSH)
        z.sock.sendall(good + b"\xff" * 64 + b"c2 NOOP\r\n")
        _, done = z.until("c1")
        check(done.startswith(b"OK"), "the command before corrupt deflate is answered: %r" % done)
        check(z.until_eof(10), "corrupt deflate: the connection closes")
        check(bytes(z.buf).startswith(b"* BYE Corrupt compressed input"), "with * BYE (deflated): %r" % bytes(z.buf[:80]))
        noop_alive(m, "after corrupt deflate")
        check(m.proc.poll() is None, "maild still runs")

    # A client that never reads, with and without compression: maild keeps its output bound
    # (incompressible data, so the bound is met in deflated bytes) and the idle timeout closes it.
    for i in range(4):
        root.deliver("alice", "17000001%02d.M%dP1.noise" % (i, i), random_message(i, 8 * MIB, rng), "cur", ":2,S")
    with Maild(exe, root, imap=True, pop3=False, args=["--idle-timeout", "3"]) as m:
        # Both at once (one idle timeout to wait for, not two): each bounded on its own, so both
        # together within twice the bound.
        clients = []
        for compressed in (False, True):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(20)
            s.connect(("127.0.0.1", m.imap_port))
            z = ZRaw.__new__(ZRaw)
            z.sock, z.buf, z.n, z.deflater, z.inflater, z.wire_in = s, bytearray(), 0, None, None, 0
            z.greeting = z.response()
            z.ok('LOGIN alice "open sesame"')
            if compressed:
                z.compress()
            z.ok("EXAMINE INBOX")
            clients.append((z, "a client that does not read a %d MiB FETCH%s" % (32, " (deflated)" if compressed else "")))
        count = len(os.listdir(os.path.join(root.mail, "alice", "cur")))
        base = rss_kib(m.proc.pid)
        for z, _ in clients:
            z.send("f FETCH 1:* BODY.PEEK[]\r\n")
        peak = base
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            peak = max(peak, rss_kib(m.proc.pid))
            time.sleep(0.05)
        bounded(peak - base, 2 * 24, "two clients that do not read a 32 MiB FETCH, one of them deflated")
        time.sleep(6)  # still not reading: twice the idle timeout without progress
        for z, what in clients:
            closed = z.until_eof(20)
            check(closed, "%s: closed by the idle timeout" % what)
            check(b"f OK" not in z.buf, "%s: closed before the whole reply went out" % what)
            print("%s: %d messages, %d bytes received before the close" % (what, count, len(z.buf)), flush=True)
            z.close()
        noop_alive(m, "after the clients that did not read")
print("ok")
