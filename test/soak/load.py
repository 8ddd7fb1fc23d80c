"""Soak: one maild (POP3 + IMAP, --max-connections 2000) under 2,000 concurrent clients that mix
well-behaved sessions with faulty and hostile ones, then 100 more past the limit. (On the select
handler, which cannot watch descriptors >= 1024, everything is scaled to 900 clients.)

Phases: every client connects and reads its greeting (2,000 live sessions, the limit); 100 more
connections must be refused politely (POP3 -ERR [SYS/TEMP], IMAP * BYE [UNAVAILABLE]) and
closed; then all 2,000 run their part at once; once they have left, the 100 refused ones come
back and must be served.

Pass: maild stays up and exits 0 on SIGTERM; every well-behaved session gets byte-exact mail;
peak RSS (VmHWM) stays under the bound derived below; maild's descriptors return to the count
before the first client; each Maildir holds exactly the messages it held before, minus those
whose deletion was confirmed (POP3 QUIT +OK, IMAP EXPUNGE OK), plus those whose APPEND was
confirmed; tmp/ is empty (aborted APPENDs are removed) and the uidlists are consistent."""
import asyncio
import collections
import functools
import os
import random
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import soaklib  # noqa: E402  (also puts test/smoke on sys.path)
from soaklib import AConn, Closed  # noqa: E402
import maildtest  # noqa: E402
from maildtest import Maild, Root, check, fail, fetches, time_limit  # noqa: E402

# Wire forms and digests, computed once per message (the big one is 4 MiB and shared by 220 users).
crlf = functools.lru_cache(maxsize=None)(maildtest.crlf)
wire = functools.lru_cache(maxsize=None)(maildtest.wire)
digest = functools.lru_cache(maxsize=None)(soaklib.digest)

exe = sys.argv[1]
SANITIZED = "--sanitized" in sys.argv[2:]  # maild built with -Db_sanitize: RSS is not maild's own
time_limit(110)

HANDLER = soaklib.maild_handler(exe)
# select(2) cannot watch descriptors >= FD_SETSIZE (1024): maild on that handler holds ~1000
# descriptors at most, so there the mix is scaled to 900 clients (soak-fd-limit checks what happens
# past the ceiling). Every other handler takes the 2,000.
CLIENTS = 900 if HANDLER == "select" else 2000   # concurrent, == --max-connections
OVERFLOW = CLIENTS // 20                          # connections past the limit
DELAY_MS = 200          # MAILD_AUTH_FAIL_DELAY_MS
BIG = 4 * 1024 * 1024   # the big message the mid-RETR and never-reading clients ask for
PIPELINED = 10000
GARBAGE = 64 * 1024
LONG_LINE = 1024 * 1024

# Roles and how many clients take each (per 2,000); each client has its own user (POP3 allows one
# session per user), so every Maildir has exactly one writer and its expected end state is known.
ROLES = [
    ("pop3_good", 600), ("imap_good", 600),
    ("pop3_dele_quit", 40), ("pop3_dele_drop", 40), ("imap_expunge", 40), ("imap_store_drop", 40),
    ("mid_cmd", 100), ("mid_retr", 100), ("no_read", 120), ("long_line", 100), ("garbage", 100),
    ("pipeline", 20), ("guess", 100),
]
if CLIENTS != 2000:
    ROLES = [(r, max(2, n * CLIENTS // 2000)) for r, n in ROLES]
    ROLES[0] = (ROLES[0][0], ROLES[0][1] + CLIENTS - sum(n for _, n in ROLES))
assert sum(n for _, n in ROLES) == CLIENTS
FAULTS = {"pop3_dele_drop", "imap_store_drop", "mid_cmd", "mid_retr", "no_read", "long_line",
          "garbage", "pipeline", "guess"}
BIG_ROLES = {"mid_retr", "no_read"}


def user(i):
    return "u%04d" % i


def password(i):
    return "pw-%d-secret" % i


_corpus_rng = random.Random(12345)
_WORDS = ["alpha", "beta", "gamma", ".dot", "..two", "delta", "x" * 70, "", "end", "."]
CORPUS = [" ".join(_corpus_rng.choice(_WORDS) for _ in range(_corpus_rng.randint(0, 9))) for _ in range(4000)]


def make_messages(i):
    """Three small messages per user, all different (a sha256 tells them apart): CRLF, dot lines,
    LF-only without a final newline. Bodies are slices of a fixed corpus of lines (some empty,
    some '.' or starting with '.')."""
    rng = random.Random(i)

    def body(sep):
        n = rng.randint(5, 60)
        start = rng.randrange(len(CORPUS) - n)
        return sep.join(CORPUS[start:start + n])

    u = user(i)
    m1 = ("From: a@example.org\r\nTo: %s@example.org\r\nSubject: one %d\r\nMessage-ID: <%s.1@soak>\r\n\r\n"
          % (u, i, u) + body("\r\n") + "\r\n").encode()
    m2 = ("From: b@example.org\r\nSubject: dots\r\nMessage-ID: <%s.2@soak>\r\n\r\n.\r\n..\r\n.x\r\n"
          % u + body("\r\n") + "\r\n.\r\n").encode()
    m3 = ("From: c@example.org\nSubject: lf\nMessage-ID: <%s.3@soak>\n\n" % u
          + body("\n") + "\nno final newline").encode()
    return [m1, m2, m3]


def big_message():
    line = b".a line starting with a dot, stuffed on the wire " + b"y" * 40 + b"\n"
    return b"From: big@example.org\nSubject: big\n\n" + line * (BIG // len(line))


class Stats:
    def __init__(self):
        self.errors = []
        self.done = collections.Counter()
        self.faults = collections.Counter()
        self.deleted = collections.defaultdict(list)   # user -> contents whose deletion was confirmed
        self.appended = collections.defaultdict(list)  # user -> contents whose APPEND was confirmed
        self.delays = []
        self.good_bytes = 0


stats = Stats()


def want(cond, what):
    if not cond:
        raise AssertionError(what)


# ---------------------------------------------------------------------------------------------
# POP3 pieces


async def pop3_login(c, i):
    await c.send(b"USER %s\r\nPASS %s\r\n" % (user(i).encode(), password(i).encode()))
    r1, r2 = await c.line(), await c.line()
    want(r1.startswith(b"+OK") and r2.startswith(b"+OK"), "POP3 login: %r %r" % (r1, r2))


async def pop3_quit(c, deleted=0):
    await c.send(b"QUIT\r\n")
    r = await c.line()
    want(r.startswith(b"+OK Bye, %d messages deleted" % deleted), "QUIT: %r" % r)
    want(await c.eof(10), "QUIT closes")


async def pop3_retr_all(c, msgs):
    await c.send(b"STAT\r\n")
    r = await c.line()
    want(r == b"+OK %d %d" % (len(msgs), sum(len(crlf(m)) for m in msgs)), "STAT: %r" % r)
    for k, m in enumerate(msgs, 1):
        await c.send(b"RETR %d\r\n" % k)
        r = await c.line()
        want(r.startswith(b"+OK %d " % len(crlf(m))), "RETR %d: %r" % (k, r))
        body = await c.multiline()
        want(body == wire(m), "RETR %d is not byte-exact (%d bytes, want %d)" % (k, len(body), len(wire(m))))
        stats.good_bytes += len(body)


# ---------------------------------------------------------------------------------------------
# IMAP pieces


class Tags:
    def __init__(self):
        self.n = 0

    def __call__(self):
        self.n += 1
        return "t%d" % self.n


async def imap_cmd(c, tags, text, ok=True):
    tag = tags()
    await c.send(tag.encode() + b" " + text + b"\r\n")
    untagged, done = await c.until(tag)
    if ok:
        want(done.startswith(b"OK"), "IMAP %r: %r" % (text[:60], done[:200]))
    return untagged, done


async def imap_login(c, tags, i, select=True):
    await imap_cmd(c, tags, b"LOGIN %s %s" % (user(i).encode(), password(i).encode()))
    if select:
        await imap_cmd(c, tags, b"SELECT INBOX")


async def imap_fetch_all(c, tags, msgs):
    untagged, _ = await imap_cmd(c, tags, b"UID FETCH 1:* BODY.PEEK[]")
    f = fetches(untagged)
    got = [f[k].get("BODY[]") for k in sorted(f)]
    want(got == [crlf(m) for m in msgs], "UID FETCH 1:* BODY.PEEK[] not byte-exact: %d replies, sizes %s, want %s"
         % (len(got), [len(g or b"") for g in got], [len(crlf(m)) for m in msgs]))
    stats.good_bytes += sum(len(g) for g in got)


async def imap_logout(c, tags):
    untagged, _ = await imap_cmd(c, tags, b"LOGOUT")
    want(any(u.startswith(b"* BYE") for u in untagged), "LOGOUT without * BYE")
    want(await c.eof(10), "LOGOUT closes")


# ---------------------------------------------------------------------------------------------
# Roles: each gets a greeted connection and runs after the barrier.


async def pop3_good(c, i, msgs):
    await pop3_login(c, i)
    await pop3_retr_all(c, msgs)
    await pop3_quit(c)


async def imap_good(c, i, msgs):
    tags = Tags()
    await imap_login(c, tags, i)
    await imap_fetch_all(c, tags, msgs)
    await imap_logout(c, tags)


async def pop3_dele_quit(c, i, msgs):
    await pop3_login(c, i)
    await c.send(b"DELE 1\r\n")
    want((await c.line()).startswith(b"+OK"), "DELE 1")
    await c.send(b"RETR 2\r\n")
    want((await c.line()).startswith(b"+OK") and await c.multiline() == wire(msgs[1]), "RETR 2 after DELE 1")
    await pop3_quit(c, deleted=1)
    stats.deleted[user(i)].append(msgs[0])


async def pop3_dele_drop(c, i, msgs):
    await pop3_login(c, i)
    await c.send(b"DELE 1\r\nDELE 2\r\n")
    want((await c.line()).startswith(b"+OK") and (await c.line()).startswith(b"+OK"), "DELE 1, 2")
    c.abort(rst=i % 2 == 0)  # no QUIT: nothing may be deleted


async def imap_expunge(c, i, msgs):
    tags = Tags()
    await imap_login(c, tags, i)
    new = ("From: appended@example.org\r\nSubject: appended %d\r\nMessage-ID: <%s.app@soak>\r\n\r\n"
           "appended body\r\n.\r\n" % (i, user(i))).encode()
    tag = tags()
    if i % 2:
        await c.send(b"%s APPEND INBOX (\\Seen) {%d+}\r\n%s\r\n" % (tag.encode(), len(new), new))
    else:
        await c.send(b"%s APPEND INBOX (\\Seen) {%d}\r\n" % (tag.encode(), len(new)))
        r = await c.response()
        want(r.startswith(b"+"), "APPEND continuation: %r" % r)
        await c.send(new + b"\r\n")
    _, done = await c.until(tag)
    want(done.startswith(b"OK [APPENDUID "), "APPEND: %r" % done)
    stats.appended[user(i)].append(new)
    app_uid = int(done.split(b"]")[0].split()[-1])
    await imap_cmd(c, tags, b"UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    untagged, _ = await imap_cmd(c, tags, b"EXPUNGE")
    want(b"* 1 EXPUNGE" in untagged, "EXPUNGE reports message 1: %r" % untagged)
    stats.deleted[user(i)].append(msgs[0])
    untagged, _ = await imap_cmd(c, tags, b"UID FETCH %d BODY.PEEK[]" % app_uid)
    f = fetches(untagged)
    want([v.get("BODY[]") for v in f.values()] == [new], "the appended message is byte-exact")
    await imap_fetch_all(c, tags, msgs[1:] + [new])
    await imap_logout(c, tags)


async def imap_store_drop(c, i, msgs):
    tags = Tags()
    await imap_login(c, tags, i)
    await imap_cmd(c, tags, b"UID STORE 1:* +FLAGS (\\Deleted)")
    c.abort(rst=i % 2 == 0)  # no EXPUNGE, no CLOSE: nothing may be deleted


async def mid_cmd(c, i, msgs):
    kind = i % 5
    if kind == 0:      # POP3, half a command
        await pop3_login(c, i)
        await c.send(b"RETR 1")
    elif kind == 1:    # POP3, half a keyword before login
        await c.send(b"US")
    elif kind == 2:    # IMAP, a FETCH without its line end
        tags = Tags()
        await imap_login(c, tags, i)
        await c.send(b"x UID FETCH 1:* BODY.PEEK[]")
    else:              # IMAP, APPEND cut inside its literal ({n} and {n+})
        tags = Tags()
        await imap_login(c, tags, i, select=False)
        if kind == 3:
            await c.send(b"x APPEND INBOX {100000}\r\n")
            r = await c.response()
            want(r.startswith(b"+"), "APPEND continuation: %r" % r)
            await c.send(b"z" * 50000)
        else:
            await c.send(b"x APPEND INBOX {100000+}\r\n" + b"z" * 30000)
    await asyncio.sleep(random.random() * 0.05)
    c.abort(rst=i % 2 == 0)
    stats.faults["disconnect mid-command"] += 1


async def mid_retr(c, i, msgs):
    if i % 2:
        await pop3_login(c, i)
        await c.send(b"RETR 4\r\n")
    else:
        tags = Tags()
        await imap_login(c, tags, i)
        await c.send(b"x UID FETCH 4 BODY.PEEK[]\r\n")
    await c.some(256 * 1024)
    c.abort(rst=i % 4 < 2)
    stats.faults["disconnect mid-RETR/FETCH"] += 1


live = {}  # figures taken while all clients are connected
release_readers = None  # an Event: the never-reading clients hold until every other one is done


async def no_read(c, i, msgs):
    # The socket's receive buffer was made small before connect; see run().
    if i % 2:
        await pop3_login(c, i)
        await c.send(b"RETR 4\r\n" * 4 + b"NOOP\r\n" * 1000)
    else:
        tags = Tags()
        await imap_login(c, tags, i)
        await c.send(b"".join(b"x%d UID FETCH 4 BODY.PEEK[]\r\n" % k for k in range(4)) + b"y NOOP\r\n" * 1000)
    stats.faults["never read (4 x %d MiB requested)" % (BIG >> 20)] += 1
    await release_readers.wait()
    c.abort()


async def long_line(c, i, msgs):
    if i % 2:
        await pop3_login(c, i)
        await c.send(b"A" * LONG_LINE)
        if i % 4 == 1:
            c.abort()
        else:
            await c.send(b"\r\nSTAT\r\n")
            r = await c.line()
            want(r.startswith(b"-ERR line too long"), "POP3 after 1 MiB without LF: %r" % r)
            r = await c.line()
            want(r.startswith(b"+OK 3 "), "STAT after the long line: %r" % r)
            await pop3_quit(c)
    else:
        await c.send(b"A" * LONG_LINE)
        if i % 4 == 0:
            c.abort()
        else:
            await c.send(b"\r\nb1 NOOP\r\n")
            untagged, done = await c.until("b1")
            want(any(b"BAD Line too long" in u for u in untagged) and done.startswith(b"OK"),
                 "IMAP after 1 MiB without LF: %r %r" % ([u[:60] for u in untagged], done))
            await imap_logout(c, Tags())
    stats.faults["1 MiB without a line end"] += 1


async def garbage(c, i, msgs):
    rng = random.Random(1000 + i)
    junk = rng.randbytes(GARBAGE)
    if i % 2:  # POP3: then QUIT must still work
        await c.send(junk)
        if i % 4 == 1:
            c.abort(rst=True)
        else:
            await c.send(b"\r\nQUIT\r\n")
            last = None
            try:
                while True:
                    last = await c.line()
            except Closed:
                pass
            want(last is not None and last.startswith(b"+OK"), "POP3 QUIT after garbage: last line %r" % last)
    else:      # IMAP before login, without '{' so no literal starts; then LOGOUT must still work
        junk = junk.replace(b"{", b"(")
        await c.send(junk)
        if i % 4 == 0:
            c.abort(rst=True)
        else:
            await c.send(b"\r\nzz LOGOUT\r\n")
            _, done = await c.until("zz")
            want(done.startswith(b"OK"), "IMAP LOGOUT after garbage: %r" % done)
            want(await c.eof(10), "LOGOUT closes")
    stats.faults["binary garbage (64 KiB)"] += 1


async def pipeline(c, i, msgs):
    if i % 2:
        await pop3_login(c, i)
        total = sum(len(crlf(m)) for m in msgs)
        cmds = [b"NOOP", b"STAT", b"LIST 1", b"UIDL 2"]
        expect = [lambda r: r == b"+OK", lambda r: r == b"+OK 3 %d" % total,
                  lambda r: r == b"+OK 1 %d" % len(crlf(msgs[0])), lambda r: r.startswith(b"+OK 2 ")]
        c.send_nowait(b"".join(cmds[k % 4] + b"\r\n" for k in range(PIPELINED)))
        for k in range(PIPELINED):
            r = await c.line()
            want(expect[k % 4](r), "pipelined POP3 reply %d to %r: %r" % (k, cmds[k % 4], r))
        await pop3_quit(c)
    else:
        tags = Tags()
        await imap_login(c, tags, i)
        c.send_nowait(b"".join(b"p%d NOOP\r\n" % k if k % 2 else b"p%d UID FETCH 2 (RFC822.SIZE)\r\n" % k
                              for k in range(PIPELINED)))
        sizes = 0
        for k in range(PIPELINED):
            untagged, done = await c.until("p%d" % k)
            want(done.startswith(b"OK"), "pipelined IMAP reply %d: %r" % (k, done))
            if k % 2 == 0:
                want(untagged == [b"* 2 FETCH (UID 2 RFC822.SIZE %d)" % len(crlf(msgs[1]))],
                     "pipelined FETCH %d: %r" % (k, untagged))
                sizes += 1
        want(sizes == PIPELINED // 2, "every pipelined FETCH answered")
        await imap_logout(c, tags)
    stats.faults["%d pipelined commands" % PIPELINED] += 1


async def timed(c, data, reply):
    t0 = time.monotonic()
    await c.send(data)
    r = await reply()
    dt = time.monotonic() - t0
    stats.delays.append(dt)
    want(dt >= DELAY_MS / 1000 - 0.001, "a failed login was answered after %.0f ms < %d ms" % (dt * 1000, DELAY_MS))
    return r


async def guess(c, i, msgs):
    u = user(i).encode()
    if i % 2:
        for k in range(3):
            await c.send(b"USER %s\r\n" % u)
            want((await c.line()).startswith(b"+OK"), "USER")
            r = await timed(c, b"PASS guess%d\r\n" % k, c.line)
            want(r == b"-ERR [AUTH] Authentication failed", "a wrong PASS: %r" % r)
        await pop3_login(c, i)
        await pop3_quit(c)
    else:
        tags = Tags()
        for k in range(3):
            tag = tags()
            _, done = await timed(c, b"%s LOGIN %s guess%d\r\n" % (tag.encode(), u, k), lambda: c.until(tag))
            want(done.startswith(b"NO [AUTHENTICATIONFAILED]"), "a wrong LOGIN: %r" % done)
        await imap_login(c, tags, i, select=False)
        await imap_logout(c, tags)
    stats.faults["password guesser (3 wrong)"] += 1


ROLE_FN = {name: globals()[name] for name, _ in ROLES}
# Which protocol each client speaks: by role and index (the role functions agree).
IMAP_ROLES = {"imap_good", "imap_expunge", "imap_store_drop"}
POP3_ROLES = {"pop3_good", "pop3_dele_quit", "pop3_dele_drop"}


def is_imap(role, i):
    if role in IMAP_ROLES:
        return True
    if role in POP3_ROLES:
        return False
    if role == "mid_cmd":
        return i % 5 >= 2
    return i % 2 == 0


# ---------------------------------------------------------------------------------------------


async def run(m, plan, msgs):
    global release_readers
    release_readers = asyncio.Event()
    pid = m.proc.pid
    peak = {"rss": 0, "anon": 0, "mapped": 0, "pss": 0}
    sampling = True

    async def sampler():
        while sampling:
            try:
                st = soaklib.proc_status(pid)
                peak["rss"] = max(peak["rss"], st["VmRSS"])
                peak["anon"] = max(peak["anon"], st.get("RssAnon", 0))
                peak["mapped"] = max(peak["mapped"], st.get("RssFile", 0) + st.get("RssShmem", 0))
                peak["pss"] = max(peak["pss"], soaklib.pss_kib(pid))
            except (OSError, KeyError):
                pass
            await asyncio.sleep(0.05)

    sampler_task = asyncio.create_task(sampler())
    go = asyncio.Event()
    greeted = asyncio.Event()
    count = {"greeted": 0}
    gate = asyncio.Semaphore(200)  # connects in flight

    async def client(i, role):
        imap = is_imap(role, i)
        port = m.imap_port if imap else m.port
        async with gate:
            c = await AConn.open(port, rcvbuf=16384 if role == "no_read" else None)
        try:
            g = await c.line()
            want(g.startswith(b"* OK") if imap else g.startswith(b"+OK"), "greeting %r" % g)
            count["greeted"] += 1
            if count["greeted"] == CLIENTS:
                greeted.set()
            await go.wait()
            await ROLE_FN[role](c, i, msgs[i])
            stats.done[role] += 1
        except (AssertionError, Closed, ConnectionError, OSError, asyncio.IncompleteReadError) as e:
            stats.errors.append("client %d (%s, %s): %s: %s" % (i, role, "imap" if imap else "pop3",
                                                                type(e).__name__, e))
            c.abort()
        finally:
            if role != "no_read":
                c.abort()

    t0 = time.monotonic()
    tasks = [asyncio.create_task(client(i, role)) for i, role in enumerate(plan)]
    try:
        async with asyncio.timeout(40):
            await greeted.wait()
    except TimeoutError:
        fail("only %d of %d clients were greeted in 40 s; errors: %s" % (count["greeted"], CLIENTS, stats.errors[:5]))
    t_conn = time.monotonic() - t0
    live["fds"] = soaklib.fd_count(pid)
    print("figure: %d concurrent clients greeted in %.1f s; maild holds %d fds" % (CLIENTS, t_conn, live["fds"]), flush=True)

    # Past --max-connections: refused politely and closed.
    async def refused(k):
        imap = k % 2 == 0
        c = await AConn.open(m.imap_port if imap else m.port)
        try:
            line = await c.line()
            want(line.startswith(b"* BYE [UNAVAILABLE]") if imap else line.startswith(b"-ERR [SYS/TEMP] too many"),
                 "connection past the limit: %r" % line)
            want(await c.eof(5), "a refused connection is closed")
        finally:
            c.abort()
    res = await asyncio.gather(*(refused(k) for k in range(OVERFLOW)), return_exceptions=True)
    bad = [r for r in res if r is not None]
    check(not bad, "%d connections past --max-connections %d refused politely and closed%s"
          % (OVERFLOW, CLIENTS, "" if not bad else ": %r" % bad[:3]))

    # Everyone at once.
    t1 = time.monotonic()
    go.set()
    others = [t for t, role in zip(tasks, plan) if role != "no_read"]

    async def progress():
        while True:
            await asyncio.sleep(5)
            left = collections.Counter(role for t, role in zip(tasks, plan) if not t.done())
            print("progress: %.0f s, still running: %s" % (time.monotonic() - t1, dict(left)), flush=True)
    progress_task = asyncio.create_task(progress())
    try:
        async with asyncio.timeout(50):
            await asyncio.gather(*others)
            check(soaklib.proc_alive(m.proc), "maild is up while the never-reading clients still hold")
            release_readers.set()
            await asyncio.gather(*tasks)
    except TimeoutError:
        left = collections.Counter(role for t, role in zip(tasks, plan) if not t.done())
        fail("clients still running after 50 s: %s; errors so far: %s" % (dict(left), stats.errors[:5]))
    t_run = time.monotonic() - t1
    progress_task.cancel()
    sampling = False
    await sampler_task
    return peak, t_run


async def served_after(m, overflow_msgs, base):
    """The refused ones come back once the others have left: now served, byte-exact."""
    async def one(k):
        i = base + k
        imap = k % 2 == 0
        c = await AConn.open(m.imap_port if imap else m.port)
        try:
            g = await c.line()
            want(g.startswith(b"* OK") if imap else g.startswith(b"+OK"), "greeting %r" % g)
            if imap:
                await imap_good(c, i, overflow_msgs[k])
            else:
                await pop3_good(c, i, overflow_msgs[k])
        finally:
            c.abort()
    async with asyncio.timeout(30):
        res = await asyncio.gather(*(one(k) for k in range(OVERFLOW)), return_exceptions=True)
    return [r for r in res if r is not None]


async def quiet_guesses(m, base):
    """With the crowd gone: 5 POP3 and 5 IMAP wrong passwords, each answered after >= the delay,
    and the right ones of the same users answered well within it, so the wait comes from the
    delay, not from a busy maild. Returns (failed latencies, successful latencies)."""
    failed, passed = [], []
    for k in range(10):
        i = base + k
        imap = k % 2 == 0
        c = await AConn.open(m.imap_port if imap else m.port)
        try:
            await c.line()
            for pw, out in ((b"not-" + password(i).encode(), failed), (password(i).encode(), passed)):
                t0 = time.monotonic()
                if imap:
                    await c.send(b"q%d LOGIN %s %s\r\n" % (len(out), user(i).encode(), pw))
                    _, r = await c.until("q%d" % len(out))
                    good = r.startswith(b"OK")
                else:
                    await c.send(b"USER %s\r\nPASS %s\r\n" % (user(i).encode(), pw))
                    await c.line()
                    good = (await c.line()).startswith(b"+OK")
                out.append(time.monotonic() - t0)
                want(good == (out is passed), "quiet login %d (%s): %s" % (k, "right" if out is passed else "wrong", good))
        finally:
            c.abort()
    return failed, passed


def wait_fds(pid, want_n, timeout):
    deadline = time.monotonic() + timeout
    while True:
        n = soaklib.fd_count(pid)
        if n <= want_n or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def main():
    t_start = time.monotonic()
    nofile = soaklib.raise_nofile(3 * CLIENTS + 2048)
    check(nofile >= CLIENTS + OVERFLOW + 200, "RLIMIT_NOFILE %d is enough for %d clients" % (nofile, CLIENTS + OVERFLOW))
    plan = [role for role, n in ROLES for _ in range(n)]
    random.Random(7).shuffle(plan)  # roles interleaved in connect order
    # The mail root on tmpfs when there is one: 2,100 Maildirs are made and removed fast, and
    # fsync (maild syncs each uidlist write inside its loop) does not turn the run into a disk
    # benchmark. SOAK_TMPDIR overrides.
    tmpdir = os.environ.get("SOAK_TMPDIR") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else None)
    if tmpdir:
        tempfile.tempdir = tmpdir
    users = {user(i): ("{PLAIN}" + password(i), password(i)) for i in range(CLIENTS + OVERFLOW)}
    with Root(users) as root:
        big = big_message()
        big_path = os.path.join(root.dir, "big")
        with open(big_path, "wb") as f:
            f.write(big)
        msgs = []
        validity = {}
        for i in range(CLIENTS + OVERFLOW):
            ms = make_messages(i)
            d = root.maildir(user(i))
            names = ["17000000%02d.M%dP%d.soak" % (k + 1, k + 1, i) for k in range(len(ms))]
            if i < CLIENTS and plan[i] in BIG_ROLES:
                os.link(big_path, os.path.join(d, "cur", "1700000099.M9P%d.big:2," % i))
                ms = ms + [big]
                names.append("1700000099.M9P%d.big" % i)
            if i % 10:
                # Most users come with a uidlist (doc/maild.md's format, nothing \Recent), so their
                # logins do not rewrite it; its UIDVALIDITY must survive the run.
                for k, data in enumerate(ms[:3]):
                    root.deliver(user(i), names[k], data, "cur", ":2,S" if k == 0 else ":2,")
                validity[user(i)] = 1600000000 + i
                with open(os.path.join(d, soaklib.UIDLIST), "w") as f:
                    f.write("V%d N%d R%d\n" % (validity[user(i)], len(ms) + 1, len(ms) + 1))
                    for k, data in enumerate(ms):
                        f.write("%d W%d :%s\n" % (k + 1, len(crlf(data)), names[k]))
            else:
                # The rest have no list yet and mail in new/ (moved to cur/ at the first login).
                for k, data in enumerate(ms[:3]):
                    root.deliver(user(i), names[k], data, "new" if k else "cur", "" if k else ":2,")
            msgs.append(ms)
        before = {user(i): collections.Counter(digest(x) for x in msgs[i]) for i in range(CLIENTS + OVERFLOW)}
        print("figure: setup %.1f s, %d users, mail root in %s" % (time.monotonic() - t_start, len(users), root.dir),
              flush=True)

        # Every client is 127.0.0.1: no per-address limit.
        with Maild(exe, root, args=["--max-connections", str(CLIENTS), "--max-connections-per-address", "0"],
                   delay_ms=DELAY_MS, log_level="info",
                   imap=True, preexec_fn=soaklib.nofile_preexec(nofile)) as m:
            pid = m.proc.pid
            fds0 = soaklib.settled_fd_count(pid)
            st0 = soaklib.proc_status(pid)
            base_rss = st0["VmRSS"]
            peak, t_run = asyncio.run(run(m, plan, msgs))
            peak_rss = peak["rss"]
            check(soaklib.proc_alive(m.proc), "maild survived %d clients" % CLIENTS)
            for line in sorted(stats.errors)[:30]:
                print("client error:", line, flush=True)
            check(not stats.errors, "no client saw a wrong reply or wrong bytes (%d errors)" % len(stats.errors))
            print("figure: roles completed: %s" % dict(stats.done), flush=True)
            print("figure: faults survived: %s (total %d)" % (dict(stats.faults), sum(stats.faults.values())), flush=True)
            check(all(stats.done[r] == n for r, n in ROLES), "every client completed its part")

            fds1 = wait_fds(pid, fds0, 10)
            print("figure: maild fds before %d, with %d clients %d, after %d" % (fds0, CLIENTS, live["fds"], fds1), flush=True)
            if fds1 != fds0:
                print("\n".join(soaklib.fd_targets(pid)[:40]))
            check(fds1 == fds0, "maild's open fds return to the baseline (%d) once the clients leave" % fds0)

            q_failed, q_passed = asyncio.run(quiet_guesses(m, CLIENTS))
            print("figure: quiet maild: wrong passwords answered after %s ms, right ones after %s ms"
                  % ([round(x * 1000) for x in q_failed], [round(x * 1000) for x in q_passed]), flush=True)
            check(min(q_failed) >= DELAY_MS / 1000 - 0.001 and max(q_passed) < DELAY_MS / 2000,
                  "the delay is the failure's: wrong >= %d ms, right < %d ms" % (DELAY_MS, DELAY_MS // 2))
            wait_fds(pid, fds0, 10)  # those sessions are gone (their POP3 locks too)
            bad = asyncio.run(served_after(m, msgs[CLIENTS:], CLIENTS))
            check(not bad, "the %d refused clients are served, byte-exact, once others left%s"
                  % (OVERFLOW, "" if not bad else ": %r" % bad[:3]))
            fds2 = wait_fds(pid, fds0, 10)
            check(fds2 == fds0, "fds back to %d after them too (%d)" % (fds0, fds2))

            st = soaklib.proc_status(pid)
            # The bound. Each of the 2,000 connections may hold at once, by doc/maild.md's limits:
            # an IMAP command buffer (64 KiB; POP3 lines are 8 KiB) + the read buffer (4 KiB) + the
            # unsent output bound (64 KiB) + one chunk of message (32 KiB CRLF-converted for IMAP;
            # POP3 16) + session state, mailbox index and allocator slack (16 KiB) = 180 KiB of heap.
            # IMAP FETCH streams from a mapping of the message file, and maild touches all of it
            # before the first byte goes out (it scans the mapping to size the literal:
            # crlf_size() in imap-fetch.cpp), so each IMAP session streaming the big message adds
            # up to its whole size to RSS: page cache shared by all those mappings (Pss counts it
            # once), but VmRSS counts it per mapping. Those are the 110 IMAP clients that never
            # read or cut a FETCH of the 4 MiB message. Without the bounds the clients would push
            # maild far past: the never-reading ones alone ask for 120 x 4 x 4 MiB = 1.9 GiB, the
            # long-line ones send 100 MiB (at 2,000 clients).
            per_conn_kib = 64 + 4 + 64 + 32 + 16
            big_streams = sum(1 for i, role in enumerate(plan) if role in BIG_ROLES and is_imap(role, i))
            mapped_kib = big_streams * (len(crlf(big)) >> 10)
            heap_bound = st0.get("RssAnon", base_rss) + CLIENTS * per_conn_kib
            bound = base_rss + CLIENTS * per_conn_kib + mapped_kib
            hwm = st["VmHWM"]
            print("figure: handler %s, %d clients" % (HANDLER, CLIENTS))
            print("figure: RSS baseline %d KiB; peaks sampled: VmRSS %d KiB, RssAnon %d KiB, mapped files %d KiB,"
                  " Pss %d KiB; VmHWM %d KiB" % (base_rss, peak["rss"], peak["anon"], peak["mapped"], peak["pss"], hwm),
                  flush=True)
            print("figure: bounds: heap %d KiB = %d + %d x %d KiB; RSS %d KiB = %d + %d x %d KiB + %d x %d KiB mapped"
                  % (heap_bound, st0.get("RssAnon", base_rss), CLIENTS, per_conn_kib, bound, base_rss, CLIENTS,
                     per_conn_kib, big_streams, len(crlf(big)) >> 10), flush=True)
            if SANITIZED:
                print("note: maild is built with sanitizers (shadow memory, quarantine): RSS bounds not asserted")
            else:
                check(peak["anon"] < heap_bound, "peak heap (RssAnon) %d KiB (%.0f KiB per client) stays under %d KiB"
                      % (peak["anon"], (peak["anon"] - st0.get("RssAnon", 0)) / CLIENTS, heap_bound))
                check(hwm < bound, "peak RSS (VmHWM) %d KiB stays under %d KiB" % (hwm, bound))

            guesses = sorted(stats.delays)
            n_guess = 3 * dict(ROLES)["guess"]
            check(len(guesses) == n_guess, "%d failed logins timed" % n_guess)
            print("figure: failed-login delay %d ms: observed min %.0f ms, median %.0f ms, max %.0f ms"
                  % (DELAY_MS, guesses[0] * 1000, guesses[len(guesses) // 2] * 1000, guesses[-1] * 1000), flush=True)
            check(guesses[0] >= DELAY_MS / 1000 - 0.001, "every failed login was delayed >= %d ms" % DELAY_MS)

            # The Maildirs: exactly what was there, minus confirmed deletions, plus confirmed APPENDs.
            problems = []
            lost = dup = 0
            for i in range(CLIENTS + OVERFLOW):
                u = user(i)
                d = os.path.join(root.mail, u)
                snap = soaklib.snapshot(d)
                have = collections.Counter(h for files in snap.values() for _, h in files)
                expect = before[u].copy()
                for data in stats.deleted[u]:
                    expect[digest(data)] -= 1
                for data in stats.appended[u]:
                    expect[digest(data)] += 1
                expect = +expect
                if have != expect:
                    lost += sum((expect - have).values())
                    dup += sum((have - expect).values())
                    problems.append("%s: have %s, expected %s" % (u, sorted(snap), dict(expect)))
                if any(len(files) > 1 for files in snap.values()):
                    problems.append("%s: a message has two files: %s" % (u, snap))
                tmp = os.listdir(os.path.join(d, "tmp"))
                if tmp:
                    problems.append("%s: tmp/ not empty: %s" % (u, tmp))
                if os.path.exists(os.path.join(d, soaklib.UIDLIST)):
                    problems += ["%s: %s" % (u, p) for p in soaklib.check_consistent(d)]
                    if u in validity and soaklib.read_uidlist(d)[0] != validity[u]:
                        problems.append("%s: UIDVALIDITY changed from %d" % (u, validity[u]))
            for p in problems[:20]:
                print("maildir problem:", p, flush=True)
            confirmed = sum(len(v) for v in stats.deleted.values())
            print("figure: messages lost %d, duplicated/extra %d; deletions confirmed %d, APPENDs confirmed %d"
                  % (lost, dup, confirmed, sum(len(v) for v in stats.appended.values())), flush=True)
            check(not problems, "every Maildir holds what it held minus confirmed deletions plus confirmed "
                  "APPENDs, tmp/ is empty and the uidlists are consistent")
            check(soaklib.proc_alive(m.proc), "maild is still up")
            rc = m.stop(signal.SIGTERM)
            check(rc == 0, "SIGTERM: exit 0 (%s)" % rc)
    print("figure: phase with all clients %.1f s, whole test %.1f s" % (t_run, time.monotonic() - t_start))
    print("PASS")


main()
