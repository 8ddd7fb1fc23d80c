"""IMAP BINARY (RFC 3516), through raw sockets and python's imaplib: CAPABILITY lists BINARY;
FETCH BINARY[part] decodes base64 and quoted-printable parts byte for byte (a big base64 part too,
streamed in pieces, whole and partial across its pieces), leaves 7bit parts as BODY sends them,
answers with a literal8 ~{n} exactly when the decoded bytes hold a NUL; BINARY.SIZE agrees with
what BINARY sends; partial ranges; BINARY sets \\Seen and BINARY.PEEK does not; an unknown
transfer encoding fails the FETCH with NO [UNKNOWN-CTE]; HEADER/TEXT/MIME sections are BAD;
APPEND with a literal8 stores a message holding NUL, which FETCH BINARY[] then returns exactly,
while a literal8 anywhere else is refused; a FETCH of a big part three times over, to a client
that does not read, keeps maild's memory bounded and then arrives whole."""
import base64
import hashlib
import random
import re
import sys
import time

from maildtest import Maild, Root, check, crlf, fail, rss_kib, time_limit

exe = sys.argv[1]
time_limit(80)
with open(exe, "rb") as f:
    SANITIZED = b"AddressSanitizer" in f.read()
MIB = 1024 * 1024

rng = random.Random(3516)
BLOB = bytes(range(256)) * 4                                 # holds NUL
TEXT_BLOB = b"no nul here\r\njust text\xc3\xa9\r\n" * 3      # decoded without NUL
BIG = bytes(rng.getrandbits(8) for _ in range(300000))       # several of FETCH's 32 KiB pieces
QP_SOURCE = (b"caf=C3=A9 and =3D sign=\n"
             b"joined with the line before   \n"
             b"tabs\t=09kept=20\n"
             b"a lone = stays, =ZZ too\n"
             b"last")
QP_DECODED = (b"caf\xc3\xa9 and = signjoined with the line before\r\n"
              b"tabs\t\tkept \r\n"
              b"a lone = stays, =ZZ too\r\n"
              b"last")
PLAIN = b"Plain 7bit part.\nSecond line.\n"


def b64_lines(data):
    enc = base64.b64encode(data)
    return b"".join(enc[i:i + 76] + b"\n" for i in range(0, len(enc), 76))


B = b"b-o-u-n-d"
MSG = (b"From: bin@example.org\nSubject: binary\nMIME-Version: 1.0\n"
       b"Content-Type: multipart/mixed; boundary=" + B + b"\n\n"
       b"--" + B + b"\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n" + QP_SOURCE + b"\n"
       b"--" + B + b"\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: BASE64\n\n" + b64_lines(BLOB) +
       b"--" + B + b"\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n" + b64_lines(TEXT_BLOB) +
       b"--" + B + b"\nContent-Type: text/plain\n\n" + PLAIN +
       b"--" + B + b"\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + b64_lines(BIG) +
       b"--" + B + b"--\n")
UU = (b"From: uu@example.org\nSubject: uuencoded\nContent-Type: text/plain\n"
      b"Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n`\nend\n")


def literal_of(resp, item):
    """The bytes of `item`'s literal in one FETCH response, and whether it was a literal8."""
    m = re.search(re.escape(item) + rb" (~?)\{(\d+)\}\r\n", resp)
    check(m is not None, "%s answered with a literal: %r" % (item.decode(), resp[:120]))
    start = m.end()
    return resp[start:start + int(m.group(2))], m.group(1) == b"~"


def one_fetch(r, command):
    untagged, done = r.cmd(command)
    check(done.startswith(b"OK"), "%s: OK (%r)" % (command, done))
    fetched = [u for u in untagged if re.match(rb"\* \d+ FETCH", u)]
    check(len(fetched) == 1, "%s: one FETCH response" % command)
    return fetched[0]


with Root() as root:
    root.deliver("alice", "1700000001.M1P1.test", MSG, "cur", ":2,")
    root.deliver("alice", "1700000002.M2P2.test", UU, "cur", ":2,")
    with Maild(exe, root, imap=True, pop3=False) as m:
        r = m.iraw("alice")
        check(b"BINARY" in r.ok("CAPABILITY")[0].split(), "CAPABILITY lists BINARY")
        r.ok("SELECT INBOX")

        # PEEK first: nothing may set \Seen yet.
        resp = one_fetch(r, "FETCH 1 (BINARY.PEEK[1] FLAGS)")
        data, l8 = literal_of(resp, b"BINARY[1]")
        check(data == QP_DECODED and not l8, "quoted-printable decoded byte for byte, a plain literal")
        check(b"\\Seen" not in resp, "BINARY.PEEK leaves \\Seen unset")
        data, l8 = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[2]"), b"BINARY[2]")
        check(data == BLOB and l8, "base64 with NUL decoded byte for byte, as a literal8 ~{n}")
        data, l8 = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[3]"), b"BINARY[3]")
        check(data == TEXT_BLOB and not l8, "base64 without NUL: a plain literal")
        data, _ = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[4]"), b"BINARY[4]")
        body4, _ = literal_of(one_fetch(r, "FETCH 1 BODY.PEEK[4]"), b"BODY[4]")
        check(data == crlf(PLAIN)[:-2] == body4, "a 7bit part comes as BODY sends it")
        data, l8 = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[5]"), b"BINARY[5]")
        check(data == BIG and l8, "a %d-byte base64 part decoded in pieces, byte for byte" % len(BIG))
        data, _ = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[5]<40000.70000>"), b"BINARY[5]<40000>")
        check(data == BIG[40000:110000], "partial across the pieces of a big part")
        data, _ = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[2]<250.10>"), b"BINARY[2]<250>")
        check(data == BLOB[250:260], "partial BINARY: the decoded bytes from the origin")
        data, _ = literal_of(one_fetch(r, "FETCH 1 BINARY.PEEK[2]<5000.10>"), b"BINARY[2]<5000>")
        check(data == b"", "partial BINARY past the end: empty")
        resp = one_fetch(r, "FETCH 1 (BINARY.SIZE[1] BINARY.SIZE[2] BINARY.SIZE[5] BINARY.SIZE[4])")
        sizes = [int(x) for x in re.findall(rb"BINARY\.SIZE\[\d\] (\d+)", resp)]
        check(sizes == [len(QP_DECODED), len(BLOB), len(BIG), len(crlf(PLAIN)) - 2],
              "BINARY.SIZE gives the decoded sizes: %r" % sizes)
        check(b"\\Seen" not in one_fetch(r, "FETCH 1 FLAGS"), "BINARY.SIZE leaves \\Seen unset")

        for bad in ("FETCH 1 BINARY[1.MIME]", "FETCH 1 BINARY[HEADER]", "FETCH 1 BINARY[TEXT]",
                    "FETCH 1 BINARY.SIZE[1]<0.5>", "FETCH 1 BINARY", "FETCH 1 BINARY.PEEK[1"):
            check(r.cmd(bad)[1].startswith(b"BAD"), "%s: BAD" % bad)

        untagged, done = r.cmd("FETCH 2 BINARY.PEEK[1]")
        check(done.startswith(b"NO [UNKNOWN-CTE]"), "an unknown encoding: NO [UNKNOWN-CTE] (%r)" % done)
        untagged, done = r.cmd("FETCH 1:2 BINARY.PEEK[1]")
        check(done.startswith(b"NO [UNKNOWN-CTE]"), "FETCH 1:2 with message 2 unknown: NO [UNKNOWN-CTE]")
        check(b"\\Seen" not in one_fetch(r, "FETCH 2 FLAGS"), "the refused message was not marked \\Seen")
        check(r.cmd("FETCH 2 BINARY.PEEK[]")[1].startswith(b"OK"),
              "BINARY[] of that message: the message as stored, nothing to decode")

        resp = one_fetch(r, "FETCH 1 BINARY[2]")
        check(b"\\Seen" in resp, "BINARY sets \\Seen and reports it: %r" % resp[-40:])

        # APPEND with a literal8: the message may hold NUL.
        appended = b"From: nul@example.org\r\nSubject: nul\r\n\r\nbefore\x00after\r\n"
        tag = r.next_tag()
        r.send(b"%s APPEND INBOX ~{%d}\r\n" % (tag.encode(), len(appended)))
        check(r.response().startswith(b"+"), "APPEND ~{n}: continuation")
        r.send(appended + b"\r\n")
        _, done = r.until(tag)
        check(done.startswith(b"OK [APPENDUID"), "APPEND with a literal8 holding NUL: OK (%r)" % done)
        _, done = r.cmd(b"APPEND INBOX (\\Seen) ~{%d+}\r\n" % len(appended) + appended)
        check(done.startswith(b"OK [APPENDUID"), "APPEND ~{n+} (LITERAL+ form): OK (%r)" % done)
        r.ok("NOOP")
        data, l8 = literal_of(one_fetch(r, "FETCH 3 BINARY.PEEK[]"), b"BINARY[]")
        check(data == appended and l8, "FETCH BINARY[] of it: the exact bytes, as a literal8")
        data, l8 = literal_of(one_fetch(r, "FETCH 4 BINARY.PEEK[1]"), b"BINARY[1]")
        check(data == b"before\x00after\r\n" and l8, "BINARY[1] of it: the body with its NUL")
        _, done = r.cmd("LOGIN ~{5+}\r\nalice x")
        check(done.startswith(b"BAD"), "a literal8 outside APPEND: BAD (%r)" % done)
        check(r.ok("NOOP") is not None, "the session goes on after it")

        # imaplib reads literal8 responses like literals.
        c = m.imap("alice")
        c.select("INBOX", readonly=True)
        typ, data = c.fetch("1", "(BINARY.PEEK[2])")
        check(typ == "OK" and data[0][1] == BLOB, "imaplib: BINARY.PEEK[2] byte for byte")
        typ, data = c.fetch("1", "(BINARY.SIZE[3])")
        check(typ == "OK" and b"BINARY.SIZE[3] %d" % len(TEXT_BLOB) in data[0], "imaplib: BINARY.SIZE[3]")
        typ, data = c.fetch("2", "(BINARY.PEEK[1])")
        check(typ == "NO" and b"[UNKNOWN-CTE]" in data[0], "imaplib: NO [UNKNOWN-CTE] (%r)" % data)
        c.logout()
        r.ok("LOGOUT")

# A big base64 part, fetched three times in one FETCH by a client that does not read: maild decodes
# it in pieces as the socket drains, so it holds the mapped file but never the decoded replies.
HUGE = random.Random(1).randbytes((2 if SANITIZED else 20) * MIB)
BIGMSG = (b"From: big@example.org\nSubject: big\nContent-Type: application/octet-stream\n"
          b"Content-Transfer-Encoding: base64\n\n" + b64_lines(HUGE))
with Root() as root:
    root.deliver("alice", "1700000003.M3P3.test", BIGMSG, "cur", ":2,")
    with Maild(exe, root, imap=True, pop3=False) as m:
        r = m.iraw("alice")
        r.ok("EXAMINE INBOX")
        base = rss_kib(m.proc.pid)
        r.send("big FETCH 1 (BINARY[1] BINARY[1] BINARY[1])\r\n")
        peak = base
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            peak = max(peak, rss_kib(m.proc.pid))
            time.sleep(0.05)
        check(m.proc.poll() is None, "maild runs while a BINARY FETCH waits for a client that does not read")
        limit = len(BIGMSG) // MIB + 12
        if SANITIZED:
            print("note: under sanitizers RSS is not asserted; grew %d KiB" % (peak - base), flush=True)
        else:
            check(peak - base < limit * 1024, "3 x BINARY of a %d MiB part unread: RSS grew %d KiB (< %d MiB: the "
                  "mapped file, not the decoded replies)" % (len(HUGE) // MIB, peak - base, limit))
        pieces = [b"* 1 FETCH (BINARY[1] ~{%d}\r\n" % len(HUGE), HUGE,
                  b" BINARY[1] ~{%d}\r\n" % len(HUGE), HUGE, b" BINARY[1] ~{%d}\r\n" % len(HUGE), HUGE, b")\r\n"]
        want = hashlib.sha256()
        for p in pieces:
            want.update(p)
        got = hashlib.sha256()
        size = sum(len(p) for p in pieces)
        while size > 0:
            if r.buf:
                chunk = bytes(r.buf[:size])
                del r.buf[:len(chunk)]
            else:
                chunk = r.sock.recv(min(size, 1 << 20))
                if not chunk:
                    fail("connection closed with %d bytes of the reply missing" % size)
            got.update(chunk)
            size -= len(chunk)
        check(got.hexdigest() == want.hexdigest() and r.response().startswith(b"big OK"),
              "then the three decoded copies arrive whole, tagged OK")
        r.ok("LOGOUT")
