"""IDLE is pushed, not polled: 200 sessions idle on two mailboxes (100 each, all sharing two
watches) and maild does no periodic work meanwhile (its threads' voluntary context switches stay
flat for 3 s, where polling would wake it every few milliseconds). A delivery into new/, a flag
change and an expunge by another session each reach every IDLE session of that mailbox (exact
EXISTS / FETCH / EXPUNGE) and none of the other; sessions leaving IDLE or disconnecting leave the
others watched; a mailbox deleted by another session gives its IDLE sessions an EXPUNGE for each
message and DONE still ends IDLE, with maild serving on.

Where maild's log says it cannot watch (a loop without file-change watches) the flatness check
is skipped: IDLE then polls, and the rest must hold all the same."""
import os
import resource
import select
import sys
import time

from maildtest import SAMPLES, Maild, Root, check, expunges, fail, fetches, time_limit

exe = sys.argv[1]
time_limit(80)
PER_MAILBOX = 100
WAIT = 15.0  # generous: what a user relies on is that it arrives, not how fast on a busy machine

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))


class Idler:
    def __init__(self, port, mailbox):
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(b'a LOGIN alice "open sesame"\r\nb SELECT %s\r\nc IDLE\r\n' % mailbox.encode())
        self.buf = b""
        self.closed = False
        deadline = time.monotonic() + 20
        while b"\r\n+ " not in self.buf and not self.buf.startswith(b"+ "):
            if time.monotonic() > deadline:
                fail("no IDLE continuation: %r" % self.buf[-300:])
            self.read(1.0)
        self.buf = b""

    def read(self, timeout):
        if select.select([self.sock], [], [], timeout)[0]:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("maild closed an IDLE session")
            self.buf += chunk

    def lines(self):
        return [l for l in self.buf.split(b"\r\n") if l]


def collect(idlers, done, seconds=WAIT):
    """Reads every idler until done(idler) holds for all, or `seconds` pass; the ones it does not
    hold for."""
    deadline = time.monotonic() + seconds
    todo = [i for i in idlers if not done(i)]
    while todo and time.monotonic() < deadline:
        ready = select.select([i.sock for i in todo], [], [], max(0.0, deadline - time.monotonic()))[0]
        for i in todo:
            if i.sock in ready:
                i.read(0)
        todo = [i for i in todo if not done(i)]
    return todo


def quiet(idlers):
    """Whatever has arrived at the idlers without waiting."""
    ready = select.select([i.sock for i in idlers], [], [], 0.2)[0]
    for i in idlers:
        if i.sock in ready:
            i.read(0)
    return [i for i in idlers if i.buf]


def wakeups(pid):
    """Voluntary context switches of all of maild's threads: each is the loop going to sleep."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def has_exists(n):
    return lambda i: b"* %d EXISTS" % n in i.lines()


def late(i):
    return b"From: late@example.org\nSubject: late %d\n\nDelivered while idle.\n" % i


with Root() as root:
    for i, (name, data) in enumerate(SAMPLES[:2]):
        root.deliver("alice", name, data, "cur", ":2,")
        root.deliver("alice/.Work", name, data, "cur", ":2,")
    with Maild(exe, root, imap=True, log_level="info",
               args=["--max-connections", "1000", "--max-connections-per-address", "0"]) as m:
        inbox = [Idler(m.imap_port, "INBOX") for _ in range(PER_MAILBOX)]
        work = [Idler(m.imap_port, "Work") for _ in range(PER_MAILBOX)]
        everyone = inbox + work
        check(True, "%d sessions in IDLE on INBOX and %d on Work" % (len(inbox), len(work)))

        # Nothing changes: no periodic work. The SELECTs' own changes (the \Recent mark) settle first.
        time.sleep(1.0)
        quiet(everyone)
        line = [l for l in m.log_text().splitlines() if "mailbox changes:" in l]
        polled = bool(line) and ("cannot watch" in line[0] or "polls" in line[0])
        before = wakeups(m.proc.pid)
        time.sleep(3.0)
        woke = wakeups(m.proc.pid) - before
        if polled:
            print("skipped: maild polls here (%s); %d wakeups in 3 s" % (line[0], woke))
        else:
            check(woke <= 4, "maild stays asleep while 200 sessions idle: %d wakeups in 3 s (%s)"
                  % (woke, line[0] if line else "no backend line"))
        check(not quiet(everyone), "and nothing is sent to the idle sessions")

        # A delivery into new/ reaches every session on that mailbox, and no other.
        root.deliver("alice", "1800000001.M1P1.late", late(1), "new")
        left = collect(inbox, has_exists(3))
        check(not left, "a message delivered into INBOX's new/ reaches all %d INBOX sessions: * 3 EXISTS (%d missing)"
              % (len(inbox), len(left)))
        check(not quiet(work), "the Work sessions get nothing of it")
        root.deliver("alice/.Work", "1800000002.M2P2.late", late(2), "new")
        left = collect(work, has_exists(3))
        check(not left, "one into Work's new/ reaches all %d Work sessions (%d missing)" % (len(work), len(left)))
        for i in everyone:
            i.buf = b""

        # Another session's flag change and expunge, on each mailbox.
        c = m.iraw("alice")
        for name, group in (("Work", work), ("INBOX", inbox)):
            c.ok("SELECT " + name)
            c.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
            left = collect(group, lambda i: "\\Flagged" in fetches(i.lines()).get(1, {}).get("FLAGS", []))
            check(not left, "%s: another session's STORE reaches all its IDLE sessions as * 1 FETCH (FLAGS (\\Flagged))"
                  " (%d missing)" % (name, len(left)))
            c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
            c.ok("EXPUNGE")
            left = collect(group, lambda i: expunges(i.lines()) == [2])
            check(not left, "%s: its EXPUNGE reaches all of them as * 2 EXPUNGE (%d missing)" % (name, len(left)))
        for i in everyone:
            i.buf = b""

        # Leaving: half of the INBOX sessions end IDLE, a quarter disconnect; the rest stay watched.
        for i in inbox[:50]:
            i.sock.sendall(b"DONE\r\n")
        left = collect(inbox[:50], lambda i: b"c OK" in i.buf)
        check(not left, "DONE ends IDLE for 50 of the INBOX sessions")
        for i in inbox[50:75]:
            i.sock.close()
        stay = inbox[75:]
        for i in stay:
            i.buf = b""
        root.deliver("alice", "1800000003.M3P3.late", late(3), "new")
        left = collect(stay, has_exists(3))
        check(not left, "the 25 INBOX sessions still in IDLE get the next delivery (%d missing)" % len(left))

        # The Work mailbox deleted under its IDLE sessions: an EXPUNGE for each of its messages.
        c.ok("SELECT INBOX")
        c.ok("DELETE Work")
        left = collect(work, lambda i: len(expunges(i.lines())) == 2)
        check(not left, "DELETE by another session: all Work sessions get * n EXPUNGE for both messages (%d missing)"
              % len(left))
        for i in work:
            i.sock.sendall(b"DONE\r\n")
        left = collect(work, lambda i: b"c OK" in i.buf)
        check(not left, "and DONE ends their IDLE with OK")
        for i in stay:
            i.buf = b""
        root.deliver("alice", "1800000004.M4P4.late", late(4), "new")
        left = collect(stay, has_exists(4))
        check(not left and m.proc.poll() is None, "maild serves on: INBOX's IDLE sessions get the next delivery")
        c.ok("NOOP")
        for i in inbox[:50] + work + stay:
            i.sock.close()
        check(m.stop() == 0, "maild exits cleanly")
