"""Two IMAP sessions on one mailbox: each sees the other's expunges (exact '* n EXPUNGE', not in
the middle of FETCH/STORE/SEARCH), flag changes and new mail at NOOP; \\Recent goes to exactly one
session; IDLE reports a message dropped into new/, another session's flag change and expunge within
3 s, and DONE ends it; a mailbox deleted or renamed under a session that has it selected stays
gone."""
import os
import sys
import time

from maildtest import (SAMPLES, Lit, Maild, Root, check, counts, crlf, expunges, fetches, mailbox_dir,
                       search_result, time_limit, uids)

exe = sys.argv[1]
time_limit(50)


def late(i):
    return b"From: late@example.org\nSubject: late %d\nMessage-ID: <late%d@test>\n\nDelivered while selected.\n" % (i, i)


def wait_for(r, pred, seconds=3.0):
    """Untagged responses read until pred(all so far) holds or `seconds` pass."""
    got = []
    deadline = time.monotonic() + seconds
    while not pred(got):
        resp = r.response(timeout=max(0.0, deadline - time.monotonic()))
        if resp is None:
            break
        got.append(resp)
    return got


with Root() as root:
    root.deliver_samples("alice")
    with Maild(exe, root, imap=True) as m:
        a = m.iraw("alice")
        b = m.iraw("alice")
        na = counts(a.ok("SELECT INBOX"))
        nb = counts(b.ok("SELECT INBOX"))
        check(na == {"EXISTS": len(SAMPLES), "RECENT": len(SAMPLES)} and nb == {"EXISTS": len(SAMPLES), "RECENT": 0},
              "the first SELECT gets every message as \\Recent, the second none: %s %s" % (na, nb))
        ids = uids(a)
        check(uids(b) == ids, "both sessions see the same UIDs")

        # New mail: both see EXISTS at NOOP; exactly one sees it \Recent.
        root.deliver("alice", "1800000001.M1P1.late", late(1), "new")
        ua, ub = a.ok("NOOP"), b.ok("NOOP")
        n = len(SAMPLES) + 1
        check(counts(ua).get("EXISTS") == n and counts(ub).get("EXISTS") == n, "a message dropped into new/: * %d EXISTS in both" % n)
        fa = fetches(a.ok("FETCH %d (UID FLAGS BODY.PEEK[])" % n))[n]
        fb = fetches(b.ok("FETCH %d (UID FLAGS)" % n))[n]
        check(fa["BODY[]"] == crlf(late(1)) and fa["UID"] == fb["UID"] and int(fa["UID"]) > ids[-1],
              "it reads back exactly, with the same new UID %s in both" % fa["UID"])
        check(("\\Recent" in fa["FLAGS"]) + ("\\Recent" in fb["FLAGS"]) == 1,
              "it is \\Recent in exactly one session: %s / %s" % (fa["FLAGS"], fb["FLAGS"]))
        ids.append(int(fa["UID"]))

        # A flag change shows up in the other session at NOOP.
        a.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        f = fetches(b.ok("NOOP"))
        check("\\Flagged" in f.get(1, {}).get("FLAGS", []), "the other session gets * 1 FETCH (FLAGS (... \\Flagged))")

        # An expunge: not during FETCH, STORE or SEARCH; then exactly at NOOP.
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        check(expunges(a.ok("EXPUNGE")) == [2], "session A: * 2 EXPUNGE")
        for c in ("FETCH 1:* (FLAGS)", "STORE 3 +FLAGS (\\Answered)", "SEARCH ALL"):  # UID commands may get it (RFC 3501 7.4.1)
            check(not expunges(b.ok(c)), "session B gets no EXPUNGE during %s" % c.split(" (")[0])
        untagged = b.ok("NOOP")
        check(expunges(untagged) == [2], "session B gets * 2 EXPUNGE at NOOP: %r" % untagged)
        del ids[1]
        check(uids(a) == ids and uids(b) == ids, "both agree on the remaining UIDs")

        # Another expunge from B while A is idle in IDLE; and new mail; and a flag change.
        a.send(b"i1 IDLE\r\n")
        cont = a.response(timeout=3)
        check(cont is not None and cont.startswith(b"+"), "IDLE answers with a continuation: %r" % cont)
        t0 = time.monotonic()
        root.deliver("alice", "1800000002.M2P2.late", late(2), "new")
        got = wait_for(a, lambda g: any(x == b"* %d EXISTS" % (len(ids) + 1) for x in g))
        check(any(x == b"* %d EXISTS" % (len(ids) + 1) for x in got),
              "IDLE reports the dropped message: * %d EXISTS (%.1f s): %r" % (len(ids) + 1, time.monotonic() - t0, got))
        b.ok("NOOP")
        b.ok("STORE 1 -FLAGS.SILENT (\\Flagged)")
        got = wait_for(a, lambda g: 1 in fetches(g))
        check(1 in fetches(got) and "\\Flagged" not in fetches(got)[1]["FLAGS"], "IDLE reports B's flag change on message 1: %r" % got)
        b.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        got = wait_for(a, lambda g: expunges(g))
        check(expunges(got) == [3], "IDLE reports B's expunge: * 3 EXPUNGE: %r" % got)
        a.send(b"DONE\r\n")
        _, done = a.until("i1")
        check(done.startswith(b"OK"), "DONE ends IDLE with OK")
        del ids[2]
        ids.append(max(uids(b)))
        check(uids(a) == ids and uids(b) == ids, "both agree on the UIDs after IDLE: %s" % ids)
        check(search_result(a.ok("SEARCH ALL")) == list(range(1, len(ids) + 1)), "sequence numbers are dense")

        # A mailbox deleted or renamed by one session while another has it selected stays gone: the
        # selecting session does not bring the old name back.
        a.ok("CREATE Doomed")
        a.ok("CREATE Moving")
        for box in ("Doomed", "Moving"):
            a.ok("APPEND %s " % box, Lit(b"Subject: in %s\r\n\r\nbody\r\n" % box.encode()))
        for box, change in (("Doomed", "DELETE Doomed"), ("Moving", "RENAME Moving Moved")):
            b.ok("SELECT " + box)
            a.ok(change)
            try:
                b.cmd("NOOP")
                b.cmd("FETCH 1 (FLAGS)")
                b.cmd("UNSELECT")
            except (EOFError, ConnectionResetError):  # maild may end that session with * BYE
                b = m.iraw("alice")
            listed = [x for x in a.ok('LIST "" "*"') if box.encode() in x]
            check(not os.path.exists(mailbox_dir(root, "alice", box)) and not listed,
                  "%s while another session has it selected: %s does not come back (on disk: %s, LIST: %s)"
                  % (change, box, sorted(os.listdir(mailbox_dir(root, "alice"))), listed))
        check(os.path.isdir(mailbox_dir(root, "alice", "Moved")), "the renamed mailbox is there as Moved")
        check(b.cmd("NOOP")[1].startswith(b"OK") and m.proc.poll() is None, "maild serves on")
        a.cmd("LOGOUT")
        b.cmd("LOGOUT")
        check(m.stop() == 0, "clean exit")
print("PASS")
