"""Crash safety: kill -9 maild at random points while it works on one Maildir, 100 rounds, each
with a fresh maild on the same mail root.

Each round starts maild, opens the mailbox with a POP3 session (USER, PASS, UIDL, QUIT: the open
reconciles the Maildir with its uidlist), checks the store, then sends one whole operation
pipelined and kills maild with SIGKILL a random few milliseconds later:
  - pop3:    DELE of 1-3 messages, RETR of another (its \\Seen rename happens at QUIT), QUIT
  - store:   UID STORE +FLAGS/-FLAGS (\\Flagged, \\Answered, a keyword) on 1-5 messages
  - expunge: UID STORE +FLAGS.SILENT (\\Deleted) and UID EXPUNGE of 1-2 messages
  - append:  APPEND of a 1 KiB..1 MiB message with a LITERAL+ literal
What maild sent before it died is then read from the socket: a deletion counts as confirmed only
after QUIT's +OK or UID EXPUNGE's tagged OK, an APPEND only after its tagged OK [APPENDUID].

Checks after every open (and once more after the last round):
  - the uidlist parses, lists every file in cur/ and nothing else, UIDs ascending and below N,
    new/ is empty, nothing else lies in the Maildir (files in tmp/ are allowed: an APPEND cut by
    the kill), POP3 UIDL agrees with the list;
  - UIDVALIDITY is the one of the first round; a UID never names two different messages;
  - every message is there exactly once and byte-exact, unless its deletion was confirmed (then it
    is gone and stays gone); one whose deletion was sent but not confirmed may be either;
  - every confirmed APPEND is there, under the UID its APPENDUID named; an unconfirmed one at most
    once; flags of a confirmed STORE are in the file names.
Prints the rounds, where the kills landed, and the messages lost (must be 0)."""
import hashlib
import os
import random
import re
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import soaklib  # noqa: E402  (also puts test/smoke on sys.path)
from maildtest import Maild, Root, check, crlf, fail, time_limit  # noqa: E402

exe = sys.argv[1]
ROUNDS = int(os.environ.get("SOAK_CRASH_ROUNDS", "100"))
SEED = int(os.environ.get("SOAK_SEED", str(int(time.time() * 1000) % 1000000)))
time_limit(90)
rng = random.Random(SEED)
print("seed %d (SOAK_SEED=%d reproduces the kill points' choices)" % (SEED, SEED), flush=True)

USER, PASSWORD = "alice", "crash-pw"
KEYWORD = "$soak"


def sha(data):
    return hashlib.sha256(data).hexdigest()


class Msg:
    def __init__(self, mid, data):
        self.mid = mid
        self.data = data
        self.state = "present"  # present | gone (deletion confirmed) | maybe (sent, not confirmed)
        self.uid = None


def new_message(n, size=None):
    mid = "<m%d.%d@crash>" % (n, SEED)
    head = ("From: crash@example.org\r\nSubject: message %d\r\nMessage-ID: %s\r\n\r\n" % (n, mid)).encode()
    if size is None:
        size = rng.randint(100, 3000)
    line = b".line %d of message %d\r\n" % (n, n)
    body = (line * (size // len(line) + 1))[:size]
    return Msg(mid, head + body + (b"\r\n" if n % 2 else b"\n.\n"))


class Store:
    def __init__(self, root):
        self.root = root
        self.dir = os.path.join(root.mail, USER)
        self.msgs = {}        # sha -> Msg
        self.uid_owner = {}   # uid -> sha, forever
        self.validity = None
        self.n = 0
        self.lost = 0
        self.resolved = {"deleted": 0, "kept": 0}   # in-flight deletions, as they turned out
        self.appends = {"confirmed": 0, "unconfirmed present": 0, "unconfirmed absent": 0}
        self.pending_appends = []  # (Msg, confirmed uid or None)
        self.flag_checks = []      # (sha, letter, wanted) from confirmed STOREs

    def add_initial(self, count):
        for _ in range(count):
            self.n += 1
            m = new_message(self.n)
            self.msgs[sha(m.data)] = m
            where = "new" if self.n % 3 == 0 else "cur"
            self.root.deliver(USER, "1700%06d.M%dP1.crash" % (self.n, self.n), m.data, where,
                              ":2," if where == "cur" else "")

    def present(self):
        return sorted((m for m in self.msgs.values() if m.state == "present" and m.uid is not None),
                      key=lambda m: m.uid)

    def keyword_letter(self):
        p = os.path.join(self.dir, "maild-keywords")
        if not os.path.exists(p):
            return None
        names = open(p).read().split("\n")
        return chr(ord("a") + names.index(KEYWORD)) if KEYWORD in names else None

    def verify(self, uidl, when):
        """The store after an open; `uidl` is {uid: msg number} from POP3 UIDL. Returns problems."""
        problems = ["%s: %s" % (when, p) for p in soaklib.check_consistent(self.dir)]
        try:
            validity, _, entries = soaklib.read_uidlist(self.dir)
        except (TypeError, ValueError) as e:
            return problems + ["%s: uidlist unreadable: %s" % (when, e)]
        if self.validity is None:
            self.validity = validity
        if validity != self.validity:
            problems.append("%s: UIDVALIDITY changed from %d to %d" % (when, self.validity, validity))
        if sorted(uidl) != [u for u, _ in entries]:
            problems.append("%s: UIDL %s differs from the uidlist %s" % (when, sorted(uidl), [u for u, _ in entries]))
        by_base = {b: u for u, b in entries}
        seen = {}
        for n in os.listdir(os.path.join(self.dir, "cur")):
            with open(os.path.join(self.dir, "cur", n), "rb") as f:
                h = sha(f.read())
            seen.setdefault(h, []).append((n, by_base.get(n.split(":2,")[0])))
        for h, files in seen.items():
            m = self.msgs.get(h)
            if m is None:
                problems.append("%s: a file with unknown content (torn or foreign): %s" % (when, files))
                continue
            if len(files) > 1:
                problems.append("%s: %s is there %d times: %s" % (when, m.mid, len(files), files))
            if m.state == "gone":
                problems.append("%s: %s is back after its deletion was confirmed: %s" % (when, m.mid, files))
            uid = files[0][1]
            if uid is not None:
                owner = self.uid_owner.setdefault(uid, h)
                if owner != h:
                    problems.append("%s: UID %d reused for %s" % (when, uid, m.mid))
                if m.uid is not None and m.uid != uid:
                    problems.append("%s: %s changed UID %d -> %d" % (when, m.mid, m.uid, uid))
                m.uid = uid
            if m.state == "maybe":
                self.resolved["kept"] += 1
                m.state = "present"
        appending = {sha(m.data) for m, _ in self.pending_appends}
        for h, m in self.msgs.items():
            if h in seen or h in appending:
                continue
            if m.state == "present" and m.uid is not None:
                problems.append("%s: %s (UID %d) lost" % (when, m.mid, m.uid))
                self.lost += 1
                m.state = "gone"
            elif m.state == "present":
                problems.append("%s: %s never got a UID and is gone" % (when, m.mid))
                self.lost += 1
                m.state = "gone"
            elif m.state == "maybe":
                self.resolved["deleted"] += 1
                m.state = "gone"
        for m, uid in self.pending_appends:
            h = sha(m.data)
            if uid is not None:
                self.appends["confirmed"] += 1
                if h not in seen:
                    problems.append("%s: confirmed APPEND %s (UID %d) lost" % (when, m.mid, uid))
                    self.lost += 1
                elif m.uid != uid:
                    problems.append("%s: APPEND %s confirmed as UID %d, listed as %s" % (when, m.mid, uid, m.uid))
            elif h in seen:
                self.appends["unconfirmed present"] += 1
            else:
                self.appends["unconfirmed absent"] += 1
                del self.msgs[h]
        self.pending_appends = []
        letter_of = {"F": "F", "R": "R", "S": "S", "k": self.keyword_letter()}
        for h, letter, wanted in self.flag_checks:
            if h in seen:
                name = seen[h][0][0]
                flags = name.partition(":2,")[2]
                lt = letter_of[letter]
                if (lt is not None and lt in flags) != wanted:
                    problems.append("%s: confirmed STORE %s%s not in %s" % (when, "+" if wanted else "-", letter, name))
        self.flag_checks = []
        return problems


def exchange(port, data, kill_at, proc):
    """Connects, reads the greeting, sends `data`, kills `proc` at `kill_at` seconds after the send
    (None: never) and returns (everything received, seconds until the peer closed or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    got = b""
    while b"\r\n" not in got:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("no greeting")
        got += chunk
    s.setblocking(False)
    t0 = time.monotonic()
    pending = memoryview(data)
    done_at = None
    killed = False
    while True:
        now = time.monotonic() - t0
        if kill_at is not None and not killed and now >= kill_at:
            proc.kill()
            killed = True
        wait = 5.0 if killed or kill_at is None else max(0.0, kill_at - now)
        r, w, _ = select.select([s], [s] if pending else [], [], wait)
        if w:
            try:
                pending = pending[s.send(pending):]
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                pending = pending[:0]  # maild is gone
        if r:
            try:
                chunk = s.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                done_at = time.monotonic() - t0
                break
            got += chunk
        elif not w and (killed or kill_at is None):
            break  # 5 s without news
    s.close()
    if kill_at is not None and not killed:
        # The session ended first: the kill still comes at its time (maild idle, or past the
        # session's end).
        time.sleep(max(0.0, kill_at - (time.monotonic() - t0)))
        proc.kill()
    return got, done_at


def verify_session(m):
    data, _ = exchange(m.port, b"USER %s\r\nPASS %s\r\nUIDL\r\nQUIT\r\n" % (USER.encode(), PASSWORD.encode()), None, m.proc)
    lines = data.split(b"\r\n")
    if not (len(lines) > 3 and lines[2].startswith(b"+OK Logged in") and lines[-2].startswith(b"+OK Bye")):
        fail("the verifying POP3 session failed: %r; log:\n%s" % (data[-300:], m.log_text()[-2000:]))
    uidl = {}
    for line in lines[4:]:
        mm = re.match(rb"(\d+) (\d+)\.(\d+)$", line)
        if mm:
            uidl[int(mm.group(3))] = int(mm.group(1))
    return uidl


def main():
    t_start = time.monotonic()
    with Root({USER: ("{PLAIN}" + PASSWORD, PASSWORD)}) as root:
        st = Store(root)
        st.add_initial(100)
        ops = ["pop3", "store", "expunge", "append"]
        est = {o: 0.02 for o in ops}        # how long an operation takes, learnt from the rounds
        landed = {o: {"before the confirmation": 0, "after it": 0} for o in ops}
        problems = []
        stray = []
        last = None
        uidl = None
        for rnd in range(ROUNDS + 1):
            with Maild(exe, root, delay_ms=50, log_level="info", imap=True) as m:
                uidl = verify_session(m)
                for p in st.verify(uidl, "round %d" % rnd):
                    # A temp file of an atomic write cut by the kill, beside the list it was to
                    # replace: reported at the end (see the check there); anything else stops here.
                    if re.search(r"leftover maild-[a-z]+\.tmp$", p):
                        stray.append("%s (the kill in the round before: %s)" % (p, last))
                    else:
                        problems.append(p)
                if problems:
                    break
                if rnd == ROUNDS:
                    check(m.stop() == 0, "the last maild exits 0 on SIGTERM")
                    break
                op = ops[rnd % 4]
                present = st.present()
                if op in ("pop3", "expunge") and len(present) < 8:
                    op = "append"
                kill_at = rng.uniform(0, est[op] * 1.3)
                if op == "pop3":
                    victims = rng.sample(present, rng.randint(1, 2))
                    reader = rng.choice([x for x in present if x not in victims])
                    nums = {x.uid: k + 1 for k, x in enumerate(present)}
                    cmd = b"USER %s\r\nPASS %s\r\n" % (USER.encode(), PASSWORD.encode())
                    cmd += b"".join(b"DELE %d\r\n" % nums[x.uid] for x in victims)
                    cmd += b"RETR %d\r\nQUIT\r\n" % nums[reader.uid]
                    for x in victims:
                        x.state = "maybe"
                    data, done = exchange(m.port, cmd, kill_at, m.proc)
                    ok = b"\r\n+OK Bye, %d messages deleted\r\n" % len(victims) in data
                    if ok:
                        for x in victims:
                            x.state = "gone"
                        st.flag_checks.append((sha(reader.data), "S", True))
                elif op == "store":
                    targets = rng.sample(present, rng.randint(1, min(5, len(present))))
                    flag, letter = rng.choice([("\\Flagged", "F"), ("\\Answered", "R"), (KEYWORD, "k")])
                    add = rng.random() < 0.6
                    cmd = b"a LOGIN %s %s\r\nb SELECT INBOX\r\nc UID STORE %s %sFLAGS (%s)\r\nd LOGOUT\r\n" % (
                        USER.encode(), PASSWORD.encode(), ",".join(str(x.uid) for x in targets).encode(),
                        b"+" if add else b"-", flag.encode())
                    data, done = exchange(m.imap_port, cmd, kill_at, m.proc)
                    ok = b"\r\nc OK" in data
                    if ok:
                        st.flag_checks += [(sha(x.data), letter, add) for x in targets]
                elif op == "expunge":
                    victims = rng.sample(present, rng.randint(1, 2))
                    uids = ",".join(str(x.uid) for x in victims).encode()
                    cmd = (b"a LOGIN %s %s\r\nb SELECT INBOX\r\nc UID STORE %s +FLAGS.SILENT (\\Deleted)\r\n"
                           b"d UID EXPUNGE %s\r\ne LOGOUT\r\n" % (USER.encode(), PASSWORD.encode(), uids, uids))
                    for x in victims:
                        x.state = "maybe"
                    data, done = exchange(m.imap_port, cmd, kill_at, m.proc)
                    ok = b"\r\nd OK" in data
                    if ok:
                        for x in victims:
                            x.state = "gone"
                else:
                    st.n += 1
                    msg = new_message(st.n, size=int(rng.choice([1, 10, 100, 1000]) * rng.uniform(1, 1.05) * 1024))
                    st.msgs[sha(msg.data)] = msg
                    cmd = b"a LOGIN %s %s\r\nb APPEND INBOX (\\Seen) {%d+}\r\n%s\r\nc LOGOUT\r\n" % (
                        USER.encode(), PASSWORD.encode(), len(msg.data), msg.data)
                    data, done = exchange(m.imap_port, cmd, kill_at, m.proc)
                    mm = re.search(rb"\r\nb OK \[APPENDUID (\d+) (\d+)\]", data)
                    ok = mm is not None
                    if ok and int(mm.group(1)) != st.validity:
                        problems.append("round %d: APPENDUID names UIDVALIDITY %s" % (rnd, mm.group(1)))
                    st.pending_appends.append((msg, int(mm.group(2)) if ok else None))
                landed[op]["after it" if ok else "before the confirmation"] += 1
                last = "%s, %.1f ms after the send, %s; maild said %r" % (
                    op, kill_at * 1000, "after the confirmation" if ok else "before the confirmation", data[-120:])
                if done is not None and done < kill_at:
                    est[op] = 0.7 * est[op] + 0.3 * done  # it finished before the kill: learn its length
                elif not ok:
                    est[op] *= 1.1
                m.proc.wait()
        if problems:
            for p in problems[:30]:
                print("problem:", p, flush=True)
            print("maild log tail:\n" + open(os.path.join(root.dir, "maild.log"), errors="replace").read()[-3000:])
        tmp_left = os.listdir(os.path.join(st.dir, "tmp"))
        print("figure: kill -9 rounds %d (seed %d): %s" % (ROUNDS, SEED, {o: landed[o] for o in ops}), flush=True)
        print("figure: operation lengths learnt (ms): %s" % {o: round(est[o] * 1000, 1) for o in ops}, flush=True)
        print("figure: in-flight deletions: %s; APPENDs: %s; files left in tmp/: %d" % (st.resolved, st.appends, len(tmp_left)),
              flush=True)
        print("figure: messages at the end %d, messages lost %d" % (len(st.present()), st.lost), flush=True)
        check(not problems, "the Maildir and its uidlist are consistent after every kill, UIDVALIDITY %s unchanged"
              % st.validity)
        check(st.lost == 0, "messages lost: %d" % st.lost)
        for p in stray[:10]:
            print("stray:", p, flush=True)
        # A rewrite of the uidlist or the keywords goes through a temporary file in the mailbox's
        # tmp/ (swept once 36 hours old), never beside the list: a kill -9 between its open() and
        # rename() must leave nothing in the Maildir itself.
        check(not stray, "no temp file of an interrupted uidlist/keywords write is left in the Maildir after "
              "the next open (%d of %d rounds had one)" % (len(stray), ROUNDS))
        killed_mid = sum(v["before the confirmation"] for v in landed.values())
        check(killed_mid >= ROUNDS // 4, "%d of %d kills landed before the operation's confirmation" % (killed_mid, ROUNDS))
    print("figure: crash test %.1f s" % (time.monotonic() - t_start))
    print("PASS")


main()
