"""Shared helpers for the maild smoke and client tests: a temp mail root, a passwd file,
a maild process on port 0, raw POP3 sockets, and the sample messages."""
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
                f.write("%s:%s:1000:1000::/home/%s::\n" % (name, field, name))
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


class Maild:
    """maild on 127.0.0.1:0; .port is the real port from its 'listening' line."""

    def __init__(self, exe, root, args=(), delay_ms=50, log_level="debug", preexec_fn=None):
        env = dict(os.environ)
        if delay_ms is not None:
            env["MAILD_AUTH_FAIL_DELAY_MS"] = str(delay_ms)
        else:
            env.pop("MAILD_AUTH_FAIL_DELAY_MS", None)
        self.log_path = os.path.join(root.dir, "maild.log")
        self.log = open(self.log_path, "ab")
        cmd = [exe, "--mail-root", root.mail, "--passwd", root.passwd, "--pop3", "127.0.0.1:0",
               "--log-level", log_level] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     preexec_fn=preexec_fn)
        line = self.read_stdout_line(10)
        if not line.startswith("maild: listening pop3 127.0.0.1:"):
            self.kill()
            fail("no listening line from maild, got %r; log:\n%s" % (line, self.log_text()))
        self.port = int(line.rsplit(":", 1)[1])

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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        self.log.close()


class Raw:
    """A plain socket that speaks POP3 by hand: exact bytes, pipelining."""

    def __init__(self, port, timeout=10, greet=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
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

    def at_eof(self, timeout=5):
        """True when the server closes the connection within `timeout`."""
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

    def close(self):
        self.sock.close()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
