"""NOTIFY (RFC 5465) on the loop's file-change watches: with SELECTED and PERSONAL set, changes
reach the session between commands, without IDLE or NOOP: a delivery into the selected INBOX
gives EXISTS, into another mailbox STATUS; another session's flag change gives FETCH FLAGS and its
expunge EXPUNGE; another session's CREATE / RENAME / DELETE give LIST (RENAME with OLDNAME), its
SUBSCRIBE LIST (\\Subscribed), this session's own CREATE a LIST before its OK. NOTIFY SET STATUS
answers with each mailbox's STATUS; SELECTED-DELAYED holds EXPUNGE until a command; NOTIFY NONE
stops everything; IDLE gets them too; unsupported events get NO [BADEVENT ...], MessageNew without MessageExpunge BAD.
A burst of 1000 deliveries (300 under sanitizers) gives a few STATUS lines, not 1000; more than 256 mailboxes is refused
with NO [LIMIT], and going over 256 later ends notifications with [NOTIFICATIONOVERFLOW]. A client
that does not read while thousands of changes happen costs maild a bounded amount of memory and,
once it reads, still learns the final state.

Every wait is bounded (WAIT s) and stops as soon as what is awaited arrives."""
import os
import re
import sys
import time

from maildtest import (Maild, Root, check, counts, expunges, fail, fetches, rss_kib, time_limit)

exe = sys.argv[1]
time_limit(85)
with open(exe, "rb") as f:
    SANITIZED = b"AddressSanitizer" in f.read()
# Under sanitizers maild is many times slower and RSS means little: less data, RSS printed only.
BURST, UNREAD = (300, 200) if SANITIZED else (1000, 600)
WAIT = 30.0 if SANITIZED else 15.0
MSG = b"From: x@example.org\r\nSubject: n\r\n\r\nbody\r\n"
SEQ = [0]


def deliver(root, user, box="INBOX", n=1):
    d = root.maildir(user) if box == "INBOX" else os.path.join(root.mail, user, "." + box)
    for _ in range(n):
        SEQ[0] += 1
        name = "17000%05d.M%dP1.notify" % (SEQ[0], SEQ[0])
        with open(os.path.join(d, "tmp", name), "wb") as f:
            f.write(MSG)
        os.rename(os.path.join(d, "tmp", name), os.path.join(d, "new", name))


def make_folder(root, user, name):
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root.mail, user, "." + name, sub), exist_ok=True)


def wait_for(c, pred, seconds=WAIT):
    """Untagged responses read from `c` without sending anything, until pred(them) holds or
    `seconds` pass (then whatever came)."""
    got = []
    deadline = time.monotonic() + seconds
    while not pred(got):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r = c.response(timeout=left)
        if r is None:
            break
        got.append(r)
    return got


def nothing_for(c, seconds):
    return wait_for(c, lambda got: len(got) > 0, seconds)


def has(pattern):
    rx = re.compile(pattern)
    return lambda got: any(rx.search(r) for r in got)


def status_of(got, box):
    """{ITEM: n} of the last STATUS for `box`."""
    out = None
    for r in got:
        m = re.match(rb'\* STATUS "?' + re.escape(box.encode()) + rb'"? \((.*)\)$', r)
        if m:
            it = m.group(1).split()
            out = {it[i].decode(): int(it[i + 1]) for i in range(0, len(it), 2)}
    return out


with Root() as root:
    root.deliver_samples("alice")
    root.maildir("bob")
    with Maild(exe, root, imap=True, pop3=False) as m:
        a = m.iraw("alice")
        other = m.iraw("alice")
        other.ok("CREATE Work")
        other.ok("CREATE Old")
        deliver(root, "alice", "Work", 2)
        caps = a.ok("CAPABILITY")
        check(any(b" NOTIFY " in c + b" " for c in caps), "CAPABILITY lists NOTIFY")

        a.ok("SELECT INBOX")
        got = a.ok("NOTIFY SET STATUS (SELECTED (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
                   "(PERSONAL (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange))")
        work = status_of(got, "Work")
        check(work is not None and work["MESSAGES"] == 2 and work["UNSEEN"] == 2 and "UIDNEXT" in work
              and "UIDVALIDITY" in work, "NOTIFY SET STATUS: Work's STATUS (%r)" % got)
        check(status_of(got, "Old") == {"MESSAGES": 0, "UIDNEXT": 1, "UIDVALIDITY": status_of(got, "Old")["UIDVALIDITY"],
                                          "UNSEEN": 0}, "NOTIFY SET STATUS: Old's STATUS")
        check(status_of(got, "INBOX") is None, "no STATUS for the selected mailbox")

        deliver(root, "alice")
        got = wait_for(a, has(rb"^\* 5 EXISTS$"))
        check(counts(got).get("EXISTS") == 5, "a delivery into the selected INBOX: EXISTS without a command (%r)" % got)
        f = fetches(wait_for(a, has(rb"^\* 5 FETCH"), 5) + got)
        check(5 in f and "UID" in f[5] and "FLAGS" in f[5], "MessageNew (UID FLAGS): FETCH for the new message")

        deliver(root, "alice", "Work")
        got = wait_for(a, lambda g: (status_of(g, "Work") or {}).get("MESSAGES") == 3)
        st = status_of(got, "Work")
        check(st is not None and st["MESSAGES"] == 3 and st["UIDNEXT"] == work["UIDNEXT"] + 1,
              "a delivery into Work: STATUS Work (%r)" % got)

        other.ok("SELECT INBOX")
        other.ok("STORE 1 +FLAGS (\\Flagged)")
        got = wait_for(a, has(rb"^\* 1 FETCH \(FLAGS \([^)]*\\Flagged"))
        check(has(rb"^\* 1 FETCH \(FLAGS \([^)]*\\Flagged")(got), "another session's flag change: FETCH FLAGS (%r)" % got)
        other.ok("STORE 2 +FLAGS (\\Deleted)")
        other.ok("EXPUNGE")
        got = wait_for(a, lambda g: 2 in expunges(g))
        check(expunges(got) == [2], "another session's expunge: EXPUNGE without a command (%r)" % got)

        other.ok("CREATE New")
        got = wait_for(a, has(rb'^\* LIST \(\) "\." "?New"?$'))
        check(has(rb'^\* LIST \(\) "\." "?New"?$')(got), "another session's CREATE: LIST (%r)" % got)
        other.ok("RENAME Old Older")
        got = wait_for(a, has(rb"OLDNAME"))
        check(has(rb'^\* LIST \(\) "\." "?Older"? \("OLDNAME" \("?Old"?\)\)$')(got),
              "another session's RENAME: LIST with OLDNAME (%r)" % got)
        other.ok("DELETE New")
        got = wait_for(a, has(rb"NonExistent"))
        check(has(rb'^\* LIST \(\\NonExistent\) "\." "?New"?$')(got), "another session's DELETE: LIST \\NonExistent (%r)" % got)
        other.ok("SUBSCRIBE Work")
        got = wait_for(a, has(rb"Subscribed"))
        check(has(rb'^\* LIST \(\\Subscribed\) "\." "?Work"?$')(got), "another session's SUBSCRIBE: LIST \\Subscribed (%r)" % got)
        got = a.ok("CREATE Mine")
        check(has(rb'^\* LIST \(\) "\." "?Mine"?$')(got), "this session's CREATE: LIST before its OK (%r)" % got)
        check(nothing_for(a, 1.0) == [], "and not again from the watch")
        # In IDLE too: STATUS for another mailbox, and DONE still ends it.
        a.send("i1 IDLE\r\n")
        check(a.response(timeout=WAIT).startswith(b"+ "), "IDLE with NOTIFY set: continuation")
        deliver(root, "alice", "Mine")
        got = wait_for(a, lambda g: status_of(g, "Mine") is not None)
        check((status_of(got, "Mine") or {}).get("MESSAGES") == 1, "in IDLE: STATUS Mine (%r)" % got)
        a.send("DONE\r\n")
        _, done = a.until("i1")
        check(done.startswith(b"OK"), "DONE ends IDLE")

        # Unsupported events, and the pairs RFC 5465 section 5 requires.
        _, done = a.cmd("NOTIFY SET (PERSONAL (MessageNew MessageExpunge AnnotationChange))")
        check(done.startswith(b"NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]"),
              "AnnotationChange: NO [BADEVENT (...)] (%r)" % done)
        _, done = a.cmd("NOTIFY SET (PERSONAL (SomethingElse))")
        check(done.startswith(b"NO [BADEVENT"), "an unknown event: NO [BADEVENT]")
        _, done = a.cmd("NOTIFY SET (PERSONAL (MessageNew))")
        check(done.startswith(b"BAD"), "MessageNew without MessageExpunge: BAD (%r)" % done)
        _, done = a.cmd("NOTIFY SET (PERSONAL (FlagChange))")
        check(done.startswith(b"BAD"), "FlagChange without MessageNew and MessageExpunge: BAD")
        _, done = a.cmd("NOTIFY SET (PERSONAL (MessageNew (UID) MessageExpunge))")
        check(done.startswith(b"BAD"), "fetch-att with a filter other than SELECTED: BAD")
        _, done = a.cmd("NOTIFY SET (MAILBOXES Nope (MessageNew MessageExpunge))")
        check(done.startswith(b"NO [NONEXISTENT]"), "MAILBOXES naming a mailbox that does not exist: NO [NONEXISTENT]")
        _, done = a.cmd("NOTIFY SET (SELECTED (MessageNew MessageExpunge)")
        check(done.startswith(b"BAD"), "unbalanced NOTIFY: BAD")
        deliver(root, "alice", "Work")
        got = wait_for(a, lambda g: status_of(g, "Work") is not None)
        check((status_of(got, "Work") or {}).get("MESSAGES") == 4, "refused NOTIFY SETs left the one in force")

        # A burst: 1000 deliveries, a few STATUS lines.
        deliver(root, "alice", "Work", BURST)
        got = wait_for(a, lambda g: (status_of(g, "Work") or {}).get("MESSAGES") == BURST + 4, 30)
        lines = [r for r in got if r.startswith(b'* STATUS "Work"') or r.startswith(b"* STATUS Work")]
        check((status_of(got, "Work") or {}).get("MESSAGES") == BURST + 4 and len(lines) <= 50,
              "%d deliveries: %d STATUS lines, the last with MESSAGES %d" % (BURST, len(lines), BURST + 4))

        # SELECTED-DELAYED: EXPUNGE waits for a command.
        a.ok("NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge FlagChange))")
        other.ok("STORE 1 +FLAGS (\\Deleted)")
        other.ok("EXPUNGE")
        got = nothing_for(a, 1.5)
        check(expunges(got) == [], "SELECTED-DELAYED: no EXPUNGE outside a command (%r)" % got)
        got = a.ok("NOOP")
        check(expunges(got) == [1], "SELECTED-DELAYED: the EXPUNGE comes with the next command")

        # NOTIFY NONE: nothing more.
        a.ok("NOTIFY NONE")
        deliver(root, "alice")
        deliver(root, "alice", "Work")
        other.ok("CREATE Quiet")
        check(nothing_for(a, 2.0) == [], "NOTIFY NONE: no notifications")
        a.ok("LOGOUT")

        # The per-session cap: 256 mailboxes.
        b = m.iraw("bob")
        for i in range(250):
            make_folder(root, "bob", "f%03d" % i)
        b.ok("NOTIFY SET (PERSONAL (MessageNew MessageExpunge MailboxName))")
        for i in range(250, 260):
            make_folder(root, "bob", "f%03d" % i)
        got = wait_for(b, has(rb"NOTIFICATIONOVERFLOW"))
        check(has(rb"^\* OK \[NOTIFICATIONOVERFLOW\]")(got), "mailboxes created past 256: [NOTIFICATIONOVERFLOW]")
        deliver(root, "bob", "f001")
        check(nothing_for(b, 1.0) == [], "and the notifications are off")
        _, done = b.cmd("NOTIFY SET (PERSONAL (MessageNew MessageExpunge))")
        check(done.startswith(b"NO [LIMIT]"), "NOTIFY SET over 256 mailboxes: NO [LIMIT] (%r)" % done)
        b.ok("NOTIFY SET (MAILBOXES (f005 f006) (MessageNew MessageExpunge))")
        deliver(root, "bob", "f005")
        got = wait_for(b, lambda g: status_of(g, "f005") is not None)
        check((status_of(got, "f005") or {}).get("MESSAGES") == 1, "MAILBOXES of two: STATUS")
        b.ok("LOGOUT")

        # A client that does not read: maild holds about its output bound, and the client,
        # reading at last, learns the final flags.
        c = m.iraw("alice")
        total = counts(c.ok("SELECT INBOX"))["EXISTS"] + UNREAD
        c.ok("NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange)) (PERSONAL (MessageNew MessageExpunge))")
        deliver(root, "alice", "INBOX", UNREAD)
        # Every message announced before the client stops reading, so each later change to it
        # must come as a FETCH.
        known = wait_for(c, has(rb"^\* %d EXISTS$" % total))
        check(counts(known).get("EXISTS") == total, "the %d new messages announced (%r)" % (UNREAD, known[-3:]))
        other.ok("NOOP")
        before = rss_kib(m.proc.pid)
        for i in range(8):
            other.ok("STORE 1:* %sFLAGS (\\Flagged)" % ("+" if i % 2 == 0 else "-"))
            deliver(root, "alice", "Work", 20)
        other.ok("STORE 1:* +FLAGS (\\Answered)")
        grown = rss_kib(m.proc.pid) - before
        if SANITIZED:
            print("note: under sanitizers RSS is not asserted; maild grew %d KiB" % grown, flush=True)
        else:
            check(grown < 40 * 1024, "a session that does not read: maild grew %d KiB" % grown)
        state = {"exists": counts(known)["EXISTS"], "answered": set()}

        def final(got):
            r = got[-1] if got else b""
            mm = re.match(rb"\* (\d+) (EXISTS|FETCH \(FLAGS \(([^)]*)\))", r)
            if mm and mm.group(2) == b"EXISTS":
                state["exists"] = int(mm.group(1))
            elif mm:
                n = int(mm.group(1))
                if b"\\Answered" in mm.group(3):
                    state["answered"].add(n)
                else:
                    state["answered"].discard(n)
            return state["exists"] > UNREAD and len(state["answered"]) == state["exists"]
        wait_for(c, final, 40)
        check(state["exists"] > UNREAD and len(state["answered"]) == state["exists"],
              "once read, the client learns every message and its last flags (%d of %d)"
              % (len(state["answered"]), state["exists"]))
        c.ok("NOOP")
        other.ok("LOGOUT")
        print("ok: all NOTIFY checks")
