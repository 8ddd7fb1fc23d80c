"""Shared helpers for the maild smoke and client tests: a temp mail root, a passwd file,
a maild process on port 0, raw POP3 and IMAP sockets, an IMAP response parser, and the sample
messages."""
import imaplib
import os
import poplib
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77  # meson's skip code

# alice: PLAIN (with a space, PASS takes the rest of the line); bob: SHA512-CRYPT of "hunter2".
USERS = {
    "alice": ("{PLAIN}open sesame", "open sesame"),
    "bob": ("{SHA512-CRYPT}$6$maildtestsalt$pPtm5FAOnJtRsM5hy8jjsVYH8.OVLhhOIKXFF7MJ2V09yAg4fARqpS"
            "ilJL6l1V0i8vXIe97jOwPBMlnMjWOzz/", "hunter2"),
}

# (base name, raw bytes on disk). Sizes and wire forms are derived, never hard-coded.
SAMPLES = [
    ("1700000001.M1P1.test", b"From: a@example.org\r\nTo: alice@example.org\r\nSubject: one\r\n"
     b"Message-ID: <one@test>\r\n\r\nFirst message, CRLF on disk.\r\nSecond line.\r\n"),
    ("1700000002.M2P2.test", b"From: b@example.org\r\nSubject: dots\r\nMessage-ID: <dots@test>\r\n\r\n"
     b".\r\n.leading dot\r\n..two dots\r\nmiddle . dot\r\n. space after dot\r\n...\r\nend\r\n"),
    ("1700000003.M3P3.test", b"From: c@example.org\nSubject: lf stored\nMessage-ID: <lf@test>\n\n"
     b"LF only on disk.\n.dot line in an LF file\n\nafter an empty line\n"),
    ("1700000004.M4P4.test", b"From: d@example.org\nSubject: no final newline\nMessage-ID: <nonl@test>\n\n"
     b"line one\nlast line without newline"),
]


def crlf(data):
    """The message with CRLF line ends, as RFC 1939 sends and counts it."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def wire(data):
    """What RETR sends after its +OK line: CRLF, dot-stuffed, terminated."""
    body = crlf(data)
    if body and not body.endswith(b"\r\n"):
        body += b"\r\n"
    lines = body.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok:", msg, flush=True)


def time_limit(seconds):
    """The whole script fails (and its maild processes die) after `seconds`."""
    def expired(signo, frame):
        fail("time limit of %d s exceeded" % seconds)
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)


class Root:
    """A temp dir with mail/ and passwd; removed at exit by the caller's `with`."""

    def __init__(self, users=USERS):
        self.dir = tempfile.mkdtemp(prefix="maild-test.")
        self.mail = os.path.join(self.dir, "mail")
        self.passwd = os.path.join(self.dir, "passwd")
        os.mkdir(self.mail)
        self.write_passwd(users)

    def write_passwd(self, users, extra=""):
        with open(self.passwd, "w") as f:
            f.write("# test accounts\n\n")
            for name, (field, _) in users.items():
                f.write("%s:%s:1000:1000::::\n" % (name, field))
            f.write(extra)

    def maildir(self, user):
        d = os.path.join(self.mail, user)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        return d

    def deliver(self, user, name, data, where="new", info=""):
        d = self.maildir(user)
        tmp = os.path.join(d, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, os.path.join(d, where, name + info))

    def deliver_samples(self, user):
        for i, (name, data) in enumerate(SAMPLES):
            # Half already in cur/ (one of them seen), half fresh in new/.
            if i < 2:
                self.deliver(user, name, data, "cur", ":2,S" if i == 0 else ":2,")
            else:
                self.deliver(user, name, data, "new")

    def files(self, user, sub):
        return sorted(os.listdir(os.path.join(self.mail, user, sub)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        shutil.rmtree(self.dir, ignore_errors=True)


def run_fetchmail(root, protocol, port, mode, flags):
    """fetchmail as doc/clients.md runs it (0600 rc file, an MDA script writing one file per message,
    --sslproto '') against alice; returns the CompletedProcess and the delivered messages. One
    idfile for every run: fetchmail remembers UIDLs between runs."""
    d = os.path.join(root.dir, "fm-" + mode)
    out = os.path.join(d, "out")
    os.makedirs(out)
    rc = os.path.join(d, "rc")
    with open(rc, "w") as f:
        f.write('poll 127.0.0.1 user "alice" password "open sesame"\n')
    os.chmod(rc, 0o600)
    mda = os.path.join(d, "mda")
    with open(mda, "w") as f:
        f.write('#!/bin/sh\ncat > "$MDA_OUT/msg.$(date +%s%N).$$"\n')
    os.chmod(mda, 0o755)
    env = dict(os.environ, MDA_OUT=out, HOME=d)
    args = ["fetchmail", "-f", rc, "-p", protocol, "-P", str(port), "-u", "alice", "--sslproto", ""] + flags + [
            "--mda", mda, "--nosyslog", "--nodetach", "--idfile", os.path.join(root.dir, "fetchmail-ids"),
            "--pidfile", os.path.join(d, "pid"), "127.0.0.1"]
    r = subprocess.run(args, env=env, capture_output=True, timeout=30)
    got = [open(os.path.join(out, n), "rb").read() for n in sorted(os.listdir(out))]
    return r, got


def curl(*args, user="alice:open sesame"):
    """curl as doc/clients.md runs it against maild (-sS, 10 s at most, -u user); the CompletedProcess."""
    return subprocess.run(["curl", "-sS", "--max-time", "10", "-u", user] + list(args),
                          capture_output=True, timeout=20)


def fetchmail_delivered(data):
    """What fetchmail's MDA got, back to the stored message: LF line ends, without the Received:
    header (and its continuation lines) fetchmail adds."""
    text = data.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    kept = []
    skipping = False
    for l in head.split(b"\n"):
        if l.lower().startswith(b"received:"):
            skipping = True
            continue
        if skipping and l[:1] in (b" ", b"\t"):
            continue
        skipping = False
        kept.append(l)
    return b"\n".join(kept) + sep + body


class Maild:
    """maild on 127.0.0.1:0; .port is the real POP3 port from its 'listening' line, .imap_port
    the IMAP one (with imap=True; pop3=False leaves out the POP3 listener)."""

    def __init__(self, exe, root, args=(), delay_ms=50, log_level="debug", preexec_fn=None,
                 imap=False, pop3=True):
        env = dict(os.environ)
        if delay_ms is not None:
            env["MAILD_AUTH_FAIL_DELAY_MS"] = str(delay_ms)
        else:
            env.pop("MAILD_AUTH_FAIL_DELAY_MS", None)
        self.log_path = os.path.join(root.dir, "maild.log")
        self.log = open(self.log_path, "ab")
        cmd = [exe, "--mail-root", root.mail, "--passwd", root.passwd]
        if pop3:
            cmd += ["--pop3", "127.0.0.1:0"]
        if imap:
            cmd += ["--imap", "127.0.0.1:0"]
        cmd += ["--log-level", log_level] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     preexec_fn=preexec_fn)
        self.port = self.imap_port = None
        if pop3:
            self.port = self.listening("pop3")
        if imap:
            # POP3 listeners (also any from args) print first, then IMAP.
            self.imap_port = self.listening("imap", skip="maild: listening pop3 ")

    def listening(self, protocol, skip=None):
        prefix = "maild: listening %s 127.0.0.1:" % protocol
        while True:
            line = self.read_stdout_line(10)
            if skip and line.startswith(skip):
                continue
            if not line.startswith(prefix):
                self.kill()
                fail("no '%s' line from maild, got %r; log:\n%s" % (prefix, line, self.log_text()[-3000:]))
            return int(line.rsplit(":", 1)[1])

    def read_stdout_line(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return buf.decode(errors="replace")
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode(errors="replace").rstrip("\n")

    def log_text(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def send_signal(self, signo):
        self.proc.send_signal(signo)

    def stop(self, signo=signal.SIGTERM, timeout=10):
        """Sends signo and returns maild's exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signo)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            fail("maild did not exit within %d s after signal %d" % (timeout, signo))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def pop(self, user, password=None):
        p = poplib.POP3("127.0.0.1", self.port, timeout=10)
        p.user(user)
        p.pass_(password if password is not None else USERS[user][1])
        return p

    def raw(self):
        return Raw(self.port)

    def imap(self, user=None, password=None):
        """A python imaplib session, logged in when `user` is given."""
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        if user is not None:
            c.login(user, password if password is not None else USERS[user][1])
        return c

    def iraw(self, user=None, password=None, greet=True):
        """A raw IMAP socket (ImapRaw), logged in with LOGIN and a literal password when `user`
        is given."""
        r = ImapRaw(self.imap_port, greet=greet)
        if user is not None:
            _, done = r.cmd("LOGIN %s " % user, Lit((password if password is not None else USERS[user][1]).encode()))
            if not done.startswith(b"OK"):
                fail("IMAP LOGIN %s failed: %r" % (user, done))
        return r

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self.log.close()


class Conn:
    """What both raw protocol sockets share: the socket, what it has received, and its end."""

    def at_eof(self, timeout=5):
        """True when the server closes the connection within `timeout`."""
        before = self.sock.gettimeout()
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(before)

    def close(self):
        self.sock.close()


def connect(port, timeout, source=None):
    """A TCP connection to 127.0.0.1:port, from the loopback address `source` when given (all of
    127.0.0.0/8 is loopback on Linux: another client address without another host)."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0) if source else None)


class Raw(Conn):
    """A plain socket that speaks POP3 by hand: exact bytes, pipelining."""

    def __init__(self, port, timeout=10, greet=True, source=None):
        self.sock = connect(port, timeout, source)
        self.buf = b""
        if greet:
            g = self.line()
            if not g.startswith(b"+OK"):
                fail("bad greeting %r" % g)

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text):
        self.send(text.encode() + b"\r\n")
        return self.line()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; pending %r" % self.buf[:200])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def multiline(self):
        """The raw bytes of a multi-line body up to and including '.\\r\\n'."""
        while True:
            if self.buf.startswith(b".\r\n"):
                end = 3
            else:
                i = self.buf.find(b"\r\n.\r\n")
                end = i + 5 if i >= 0 else -1
            if end >= 0:
                body, self.buf = self.buf[:end], self.buf[end:]
                return body
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed inside a multi-line reply")
            self.buf += chunk

    def login(self, user, password=None):
        r1 = self.cmd("USER " + user)
        r2 = self.cmd("PASS " + (password if password is not None else USERS[user][1]))
        return r1, r2



def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ---------------------------------------------------------------------------------------------
# IMAP


class Lit:
    """A literal argument for ImapRaw.cmd: sent as {n} (waiting for '+') or {n+} (LITERAL+)."""

    def __init__(self, data, plus=False):
        self.data = data
        self.plus = plus


class ImapRaw(Conn):
    """A plain socket that speaks IMAP by hand: exact bytes, literals, pipelining."""

    def __init__(self, port, timeout=10, greet=True, source=None):
        self.sock = connect(port, timeout, source)
        self.buf = bytearray()
        self.n = 0
        self.greeting = None
        if greet:
            self.greeting = self.response()
            if not self.greeting.startswith(b"* OK"):
                fail("bad IMAP greeting %r" % self.greeting)

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self, timeout=None):
        """Reads more; False when `timeout` passed first."""
        if timeout is not None and not select.select([self.sock], [], [], max(timeout, 0))[0]:
            return False
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed; pending %r" % bytes(self.buf[:200]))
        self.buf += chunk
        return True

    def _take(self):
        """One complete response from the buffer (consumed), or None."""
        pos = 0
        out = b""
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i < 0:
                return None
            line = bytes(self.buf[pos:i])
            out += line
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                del self.buf[:i + 2]
                return out
            n = int(m.group(1))
            if len(self.buf) < i + 2 + n:
                return None
            out += b"\r\n" + bytes(self.buf[i + 2:i + 2 + n])
            pos = i + 2 + n

    def response(self, timeout=None):
        """One whole response without its final CRLF; a literal stays inline as '{n}\r\n' + bytes.
        With `timeout`, None when nothing complete arrived in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            r = self._take()
            if r is not None:
                return r
            if not self._fill(None if deadline is None else deadline - time.monotonic()):
                return None

    def line(self):
        return self.response()

    def next_tag(self):
        self.n += 1
        return "a%03d" % self.n

    def cmd(self, *pieces, tag=None):
        """Sends `tag pieces...` (str text and Lit literals) and reads up to its tagged reply.
        Returns (untagged and continuation responses, the tagged reply without its tag). When a
        sync literal gets a tagged reply instead of '+', the rest of the command is not sent."""
        tag = tag or self.next_tag()
        out = tag.encode() + b" "
        untagged = []
        for p in pieces:
            if isinstance(p, Lit):
                out += b"{%d%s}\r\n" % (len(p.data), b"+" if p.plus else b"")
                if not p.plus:
                    self.send(out)
                    out = b""
                    while True:
                        r = self.response()
                        if r.startswith(b"+"):
                            break
                        if r.startswith(tag.encode() + b" "):
                            return untagged, r[len(tag) + 1:]
                        untagged.append(r)
                out += p.data
            else:
                out += p.encode() if isinstance(p, str) else p
        self.send(out + b"\r\n")
        more, done = self.until(tag)
        return untagged + more, done

    def until(self, tag):
        untagged = []
        t = tag.encode() + b" "
        while True:
            r = self.response()
            if r.startswith(t):
                return untagged, r[len(t):]
            untagged.append(r)

    def ok(self, *pieces):
        """cmd() that must end in a tagged OK; returns the untagged responses."""
        untagged, done = self.cmd(*pieces)
        if not done.startswith(b"OK"):
            text = " ".join(p if isinstance(p, str) else "{literal}" for p in pieces)
            fail("IMAP %r: expected OK, got %r" % (text[:200], done[:300]))
        return untagged



def parse(data):
    """An IMAP response (as ImapRaw.response returns it) as a Python list: atoms are str (a
    bracketed section like BODY[HEADER.FIELDS (X)]<0> stays one atom), quoted strings and literals
    bytes, NIL None, parenthesised lists lists."""
    pos = 0

    def value():
        nonlocal pos
        c = data[pos:pos + 1]
        if c == b"(":
            pos += 1
            items = []
            while True:
                while data[pos:pos + 1] == b" ":
                    pos += 1
                if data[pos:pos + 1] == b")":
                    pos += 1
                    return items
                if pos >= len(data):
                    raise ValueError("unterminated list in %r" % data[:300])
                items.append(value())
        if c == b'"':
            pos += 1
            out = b""
            while data[pos:pos + 1] != b'"':
                if pos >= len(data):
                    raise ValueError("unterminated string in %r" % data[:300])
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            pos += 1
            return out
        if c == b"{":
            end = data.index(b"}", pos)
            n = int(data[pos + 1:end].rstrip(b"+"))
            pos = end + 3  # "}\r\n"
            out = data[pos:pos + n]
            pos += n
            return out
        start = pos
        while pos < len(data) and data[pos:pos + 1] not in (b" ", b"(", b")"):
            if data[pos:pos + 1] == b"[":
                pos = data.index(b"]", pos)
            pos += 1
        atom = data[start:pos].decode("latin-1")
        return None if atom.upper() == "NIL" else atom

    out = []
    while pos < len(data):
        if data[pos:pos + 1] == b" ":
            pos += 1
            continue
        out.append(value())
    return out


def text(v):
    """An atom or string as str."""
    return v.decode("latin-1") if isinstance(v, bytes) else v


def fetches(untagged):
    """{seq: {ITEM: value}} from the '* n FETCH (...)' responses; item names exactly as sent.
    Several FETCH responses for one message are merged."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) FETCH ", r)
        if not m:
            continue
        items = parse(r[m.end():])[0]
        d = out.setdefault(int(m.group(1)), {})
        for i in range(0, len(items) - 1, 2):
            d[items[i]] = items[i + 1]
    return out


def codes(untagged):
    """{CODE: argument text} from untagged '* OK [CODE arg]' responses."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* OK \[([A-Z0-9-]+)(?: ([^\]]*))?\]", r)
        if m:
            out[m.group(1).decode()] = (m.group(2) or b"").decode()
    return out


def counts(untagged):
    """{'EXISTS': n, 'RECENT': n} from the responses (the last of each)."""
    out = {}
    for r in untagged:
        m = re.match(rb"\* (\d+) (EXISTS|RECENT)$", r)
        if m:
            out[m.group(2).decode()] = int(m.group(1))
    return out


def expunges(untagged):
    return [int(m.group(1)) for m in (re.match(rb"\* (\d+) EXPUNGE$", r) for r in untagged) if m]


def resp_code(tagged, name):
    """The argument of [NAME ...] in a tagged reply, or None."""
    m = re.search(rb"\[" + name.encode() + rb"(?: ([^\]]*))?\]", tagged)
    return None if m is None else (m.group(1) or b"").decode()


def uid_set(text):
    """'1:3,7' -> [1, 2, 3, 7]."""
    out = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        lo, hi = sorted((int(a), int(b or a)))
        out.extend(range(lo, hi + 1))
    return out


FLAG_LETTERS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}


def flags_of(name):
    """The system flags a Maildir file name carries (':2,<letters>')."""
    _, _, info = name.partition(":2,")
    return {FLAG_LETTERS[c] for c in info if c in FLAG_LETTERS}


def header_of(data):
    """The header of the CRLF form, up to and including the empty line."""
    wire_form = crlf(data)
    i = wire_form.find(b"\r\n\r\n")
    return wire_form if i < 0 else wire_form[:i + 4]


def text_of(data):
    wire_form = crlf(data)
    i = wire_form.find(b"\r\n\r\n")
    return b"" if i < 0 else wire_form[i + 4:]


def find_message(maildir, data):
    """Names (cur/ or new/ relative) of the files in `maildir` whose bytes are `data`."""
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(maildir, sub)
        if not os.path.isdir(d):
            continue
        for n in sorted(os.listdir(d)):
            with open(os.path.join(d, n), "rb") as f:
                if f.read() == data:
                    out.append(sub + "/" + n)
    return out


def all_dirs(top):
    """Every directory under `top`, relative, for 'nothing was created outside' checks."""
    out = set()
    for dirpath, dirnames, _ in os.walk(top):
        for d in dirnames:
            out.add(os.path.relpath(os.path.join(dirpath, d), top))
    return out


def search_result(untagged):
    """The numbers of the '* SEARCH ...' response."""
    for r in untagged:
        if r == b"* SEARCH" or r.startswith(b"* SEARCH "):
            return [int(x) for x in r.split()[2:]]
    fail("no * SEARCH response in %r" % untagged[:5])


def uids(r):
    """The selected mailbox's UIDs in sequence order."""
    return search_result(r.ok("UID SEARCH ALL"))


def mailbox_dir(root, user, box="INBOX"):
    """INBOX is <mail>/<user>, a folder Name is <mail>/<user>/.Name (Maildir++)."""
    if box.upper() == "INBOX":
        return os.path.join(root.mail, user)
    return os.path.join(root.mail, user, "." + box)


def message_files(d):
    """{base name: 'cur/<file>' or 'new/<file>'} for the messages in Maildir `d`."""
    out = {}
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            for n in os.listdir(p):
                out[n.split(":2,")[0]] = sub + "/" + n
    return out


def snapshot(d):
    """Everything a reader could see of Maildir `d`: its top-level files' bytes (uidlist,
    keywords) and the names in cur/, new/ and tmp/."""
    out = {}
    for n in sorted(os.listdir(d)):
        p = os.path.join(d, n)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                out[n] = f.read()
    for sub in ("cur", "new", "tmp"):
        out[sub + "/"] = sorted(os.listdir(os.path.join(d, sub)))
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()
