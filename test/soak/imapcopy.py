#!/usr/bin/env python3
"""COPY of a large mailbox does not stall other users, and is all or nothing.

  latency  alice COPYs 12,000 messages (INBOX -> Target) while bob logs in over and over on new
           connections: every LOGIN answered during the COPY is timed. maild runs COPY in slices
           of the loop and gives the copies their UIDs with one uidlist write, so bob waits for
           a slice and the short commit, never for the whole COPY (which took minutes when it
           held the loop: each message rewrote the target's whole uidlist). The COPY itself must succeed:
           [COPYUID] names all 12,000 source UIDs and 12,000 new ones, and Target holds 12,000
           messages with the same bytes, consistent with its uidlist. A second COPY while
           another session polls STATUS of its target: 0 or 12,000 messages, never a part.
  disk full  alice's Maildir on a small tmpfs (we run as root) that is filled up: a COPY whose
           final uidlist write fails answers NO and leaves Target as it was (no file in cur/ or
           tmp/, the uidlist byte for byte), for a small COPY on a full disk and a larger one
           whose list outgrows the few blocks left. Skipped, with the reason, where mounting is
           not permitted.
  expunged  a message whose file was removed behind maild's back before the COPY reaches it: NO
           [EXPUNGEISSUED] and nothing copied. (One expunged by another maild session is still
           copied: it is held until this session is told, RFC 2180 4.4.1.)
  itself   a COPY into the selected mailbox: its reply announces the copies, which read back.

usage: imapcopy.py MAILD [--sanitized]   (latency: median < 100 ms, max < 500 ms; 2 s under
sanitizers)"""
import hashlib
import os
import re
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))

import soaklib  # noqa: E402
from soaklib import maildtest  # noqa: E402

check = maildtest.check
COUNT = 12000


def message(i):
    return b"From: s%d@example.org\r\nSubject: copy %d\r\n\r\nbody of message %d\r\n" % (i, i, i)


def fill_inbox(root, user, count, start=0):
    """`count` messages written straight into cur/ with ',W=' sizes (CRLF on disk): opening the
    mailbox reads none of them. Returns {content sha256: count}."""
    d = root.maildir(user)
    digests = {}
    for i in range(start, start + count):
        data = message(i)
        name = "%d.M%dP1.test,W=%d:2," % (1700000000 + i, i, len(data))
        with open(os.path.join(d, "cur", name), "wb") as f:
            f.write(data)
        h = hashlib.sha256(data).hexdigest()
        digests[h] = digests.get(h, 0) + 1
    return digests


def box_digests(d):
    out = {}
    for n in os.listdir(os.path.join(d, "cur")):
        with open(os.path.join(d, "cur", n), "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()
        out[h] = out.get(h, 0) + 1
    return out


def select_count(r, box="INBOX"):
    untagged = r.ok("SELECT %s" % box)
    for u in untagged:
        m = re.match(rb"\* (\d+) EXISTS", u)
        if m:
            return int(m.group(1))
    return None


class LoginTimer(threading.Thread):
    """Logs bob in on a fresh connection over and over; (start, seconds) of each LOGIN."""

    def __init__(self, maild):
        super().__init__(daemon=True)
        self.maild = maild
        self.stop = threading.Event()
        self.samples = []
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                r = self.maild.iraw()
                t0 = time.monotonic()
                _, done = r.cmd('LOGIN bob "%s"' % maildtest.USERS["bob"][1])
                t1 = time.monotonic()
                if not done.startswith(b"OK"):
                    raise RuntimeError("bob's LOGIN: %r" % done)
                self.samples.append((t0, t1 - t0))
                r.cmd("LOGOUT")
                r.close()
        except Exception as e:  # reported by the main thread
            self.error = e


def latency_test(exe, sanitized):
    with maildtest.Root() as root, maildtest.Maild(exe, root, imap=True, pop3=False, log_level="debug") as m:
        t = time.monotonic()
        digests = fill_inbox(root, "alice", COUNT)
        print("wrote %d messages in %.1f s" % (COUNT, time.monotonic() - t), flush=True)
        r = m.iraw("alice")
        r.ok("CREATE Target")
        check(select_count(r) == COUNT, "alice's INBOX shows %d messages" % COUNT)
        uids = sorted(int(u) for u in maildtest.search_result(r.ok("UID SEARCH ALL")))
        check(len(uids) == COUNT, "UID SEARCH ALL lists %d UIDs" % COUNT)

        # Three clients, so that a LOGIN is waiting at any moment of the COPY.
        timers = [LoginTimer(m) for _ in range(3)]
        for timer in timers:
            timer.start()
        while (min(len(t.samples) for t in timers) < 2 and all(t.error is None and t.is_alive() for t in timers)):
            time.sleep(0.01)
        check(all(t.error is None for t in timers), "bob logs in before the COPY (%s)" % [t.error for t in timers])

        r.sock.settimeout(60)  # a COPY that holds the loop throughout takes minutes
        t0 = time.monotonic()
        try:
            _, done = r.cmd("COPY 1:* Target")
        except TimeoutError:
            maildtest.fail("COPY of %d messages answered within 60 s" % COUNT)
        t1 = time.monotonic()
        # More LOGINs after the COPY, so that those waiting for its end are measured too.
        counts = [len(t.samples) for t in timers]
        while (any(len(t.samples) < n + 2 for t, n in zip(timers, counts)) and
               all(t.error is None and t.is_alive() for t in timers)):
            time.sleep(0.01)
        for timer in timers:
            timer.stop.set()
        for timer in timers:
            timer.join(15)
        check(all(t.error is None for t in timers), "bob's LOGINs all succeed (%s)" % [t.error for t in timers])

        code = maildtest.resp_code(done, "COPYUID")
        check(done.startswith(b"OK") and code is not None, "COPY 1:* of %d messages: OK [COPYUID ...] (%r)"
              % (COUNT, done[:120]))
        validity, src, dst = code.split()
        check(maildtest.uid_set(src) == uids, "COPYUID names all %d source UIDs" % COUNT)
        check(len(set(maildtest.uid_set(dst))) == COUNT, "COPYUID names %d distinct new UIDs" % COUNT)

        target = maildtest.mailbox_dir(root, "alice", "Target")
        check(box_digests(target) == digests, "Target holds the %d messages byte for byte" % COUNT)
        problems = soaklib.check_consistent(target)
        check(not problems, "Target's uidlist lists exactly its files (%s)" % problems[:3])
        _, _, entries = soaklib.read_uidlist(target)
        check(sorted(u for u, _ in entries) == maildtest.uid_set(dst), "the uidlist has the UIDs COPYUID gave")
        check(os.listdir(os.path.join(target, "tmp")) == [], "Target's tmp/ is empty after the COPY")

        during = [s for t in timers for start, s in t.samples if start + s >= t0 and start <= t1]
        before = [s for t in timers for start, s in t.samples if start + s < t0]
        check(len(during) >= 3, "%d LOGINs were answered during the COPY" % len(during))
        med, worst = statistics.median(during), max(during)
        commit = re.findall(r"COPY of %d messages: commit (\d+) us" % COUNT, m.log_text())
        print("COPY of %d: %.2f s; commit step %s ms; bob's LOGIN during it: %d, median %.1f ms, max %.1f ms "
              "(before it: median %.1f ms, max %.1f ms)"
              % (COUNT, t1 - t0, "%.1f" % (int(commit[0]) / 1000) if commit else "?", len(during),
                 med * 1000, worst * 1000, statistics.median(before) * 1000, max(before) * 1000), flush=True)
        # A slice holds the loop for 20 ms and the commit for about as long, so a LOGIN waits
        # some tens of ms. On a shared 2-core machine the process also waits for a CPU now and
        # then, which a strict bound on the maximum would turn into failures; the median holds
        # the 100 ms, and the maximum a bound that a COPY holding the loop throughout (seconds)
        # would break. Sanitizers slow everything down several times.
        med_bound, max_bound = (2.0, 2.0) if sanitized else (0.1, 0.5)
        check(med < med_bound, "LOGINs during the COPY answered within %d ms (median %.1f ms)"
              % (med_bound * 1000, med * 1000))
        check(worst < max_bound, "every LOGIN during the COPY answered within %d ms (max %.1f ms)"
              % (max_bound * 1000, worst * 1000))

        # Another session asks for Target2's size while the same COPY goes there: it sees none
        # of the copies or all of them, never a part.
        r.ok("CREATE Target2")
        seen = []
        stop = threading.Event()

        def poll():
            p = m.iraw("alice")
            while not stop.is_set():
                u = p.ok("STATUS Target2 (MESSAGES)")
                seen.append((time.monotonic(), int(re.search(rb"MESSAGES (\d+)", u[0]).group(1))))
            p.ok("LOGOUT")
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        while not seen:
            time.sleep(0.01)
        t0 = time.monotonic()
        _, done = r.cmd("COPY 1:* Target2")
        t1 = time.monotonic()
        stop.set()
        poller.join(15)
        check(done.startswith(b"OK"), "a second COPY 1:* (into Target2) succeeds")
        during = [n for t, n in seen if t0 <= t <= t1]
        check(len(during) >= 3 and set(n for _, n in seen) <= {0, COUNT},
              "STATUS Target2 during the COPY shows 0 or %d messages, never a part (%d answers during it: %s)"
              % (COUNT, len(during), sorted(set(during))))
        r.ok("LOGOUT")


def statvfs_free_blocks(path):
    st = os.statvfs(path)
    return st.f_bavail, st.f_frsize


def disk_full_test(exe):
    with maildtest.Root() as root:
        alice = os.path.join(root.mail, "alice")
        os.mkdir(alice)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", alice],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("SKIP disk-full part: cannot mount a tmpfs (%s)" % (r.stderr.strip() or r.returncode), flush=True)
            return False
        try:
            disk_full_on(exe, root, alice)
        finally:
            subprocess.run(["umount", "-l", alice], capture_output=True)
        return True


def disk_full_on(exe, root, alice):
    small, large = 20, 600
    fill_inbox(root, "alice", small + large)
    with maildtest.Maild(exe, root, imap=True, pop3=False) as m:
        r = m.iraw("alice")
        r.ok("CREATE Target")
        r.ok("STATUS Target (MESSAGES)")  # Target gets its uidlist now, before the disk fills
        check(select_count(r) == small + large, "INBOX on the tmpfs shows %d messages" % (small + large))
        target = maildtest.mailbox_dir(root, "alice", "Target")
        with open(os.path.join(target, soaklib.UIDLIST), "rb") as f:
            before = f.read()

        # The first COPY finds the file system full; the second finds a few blocks, where the
        # list of 600 more entries (about 40 kB) does not fit. Each fails at its one uidlist
        # write, after all its files were linked and moved into cur/.
        filler = os.path.join(alice, "filler")
        for what, seq, room in (("a COPY of %d" % small, "1:%d" % small, 0),
                                ("a COPY of %d" % large, "%d:%d" % (small + 1, small + large), 3)):
            if os.path.exists(filler):
                os.unlink(filler)
            free, bsize = statvfs_free_blocks(alice)
            with open(filler, "wb") as f:
                f.write(b"\0" * ((free - room) * bsize))
            left = statvfs_free_blocks(alice)[0]
            _, done = r.cmd("COPY %s Target" % seq)
            check(done.startswith(b"NO"), "%s with %d blocks free answers NO (%r)" % (what, left, done))
            check(os.listdir(os.path.join(target, "cur")) == [], "%s: nothing of it is left in Target's cur/" % what)
            check(os.listdir(os.path.join(target, "tmp")) == [], "%s: nothing of it is left in Target's tmp/" % what)
            with open(os.path.join(target, soaklib.UIDLIST), "rb") as f:
                check(f.read() == before, "%s: Target's uidlist is as it was, byte for byte" % what)

        os.unlink(filler)
        _, done = r.cmd("COPY 1:5 Target")
        check(done.startswith(b"OK"), "with room again the same COPY succeeds (%r)" % done[:100])
        check(len(os.listdir(os.path.join(target, "cur"))) == 5, "and Target holds its 5 messages")
        r.ok("LOGOUT")


def expunged_test(exe):
    with maildtest.Root() as root, maildtest.Maild(exe, root, imap=True, pop3=False) as m:
        fill_inbox(root, "alice", 10)
        a = m.iraw("alice")
        a.ok("CREATE Target")
        check(select_count(a) == 10, "session A sees 10 messages")
        b = m.iraw("alice")
        select_count(b)
        inbox = os.path.join(root.mail, "alice", "cur")
        os.unlink(os.path.join(inbox, sorted(os.listdir(inbox))[4]))
        _, done = a.cmd("COPY 1:10 Target")
        check(done.startswith(b"NO [EXPUNGEISSUED]"), "COPY including a message expunged meanwhile: NO "
              "[EXPUNGEISSUED] (%r)" % done)
        target = maildtest.mailbox_dir(root, "alice", "Target")
        check(os.listdir(os.path.join(target, "cur")) == [] and os.listdir(os.path.join(target, "tmp")) == [],
              "and none of the other 9 was copied")
        check(select_count(b, "Target") == 0, "another session sees Target empty")
        a.ok("LOGOUT")
        b.ok("LOGOUT")


def copy_into_itself(exe):
    with maildtest.Root() as root, maildtest.Maild(exe, root, imap=True, pop3=False) as m:
        fill_inbox(root, "alice", 10)
        a = m.iraw("alice")
        check(select_count(a) == 10, "alice sees 10 messages")
        untagged, done = a.cmd("COPY 1:3 INBOX")
        code = maildtest.resp_code(done, "COPYUID")
        check(done.startswith(b"OK") and code is not None and code.split()[1:] == ["1:3", "11:13"],
              "COPY 1:3 INBOX into the selected mailbox: [COPYUID v 1:3 11:13] (%r)" % done)
        check(maildtest.counts(untagged).get("EXISTS") == 13, "and its reply announces 13 EXISTS")
        got = maildtest.fetches(a.ok("FETCH 1:13 BODY.PEEK[]"))
        check(all(got[i + 10]["BODY[]"] == got[i]["BODY[]"] == message(i - 1) for i in (1, 2, 3)),
              "the copies read back as the originals")
        a.ok("LOGOUT")


def main():
    exe = sys.argv[1]
    sanitized = "--sanitized" in sys.argv[2:]
    maildtest.time_limit(100)
    expunged_test(exe)
    copy_into_itself(exe)
    if os.geteuid() == 0:
        disk_full_test(exe)
    else:
        print("SKIP disk-full part: mounting a tmpfs needs root", flush=True)
    latency_test(exe, sanitized)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
