"""A message another session expunged stays readable in a session that has not been told yet
(RFC 2180 4.1.1): FETCH answers it byte for byte with the flags last told, STORE on it is OK
and silent and re-creates nothing, COPY copies it, all without an EXPUNGE in between; the next
NOOP sends '* n EXPUNGE' and the held file leaves tmp/. The same after a POP3 DELE+QUIT. A
session selecting after the expunge never sees it; the held file goes when the session that
was not told logs out, unselects, selects another mailbox or drops the connection; after a
kill -9 the restarted maild removes the leftover held files of dead processes (and of its own
pid) at SELECT and never shows them as messages; with --workers 2 it works across threads."""
import os
import re
import signal
import sys
import time

from maildtest import (SAMPLES, Maild, Root, check, crlf, expunges, fail, fetches, find_message, mailbox_dir,
                       message_files, time_limit, uids)

exe = sys.argv[1]
time_limit(80)

ITEMS = "(FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE)"


def held_files(d):
    return sorted(n for n in os.listdir(os.path.join(d, "tmp")) if n.startswith("maild-held."))


def wait_until(pred, seconds=5.0):
    """pred() polled until true or `seconds` pass (a session ends once its loop has run)."""
    deadline = time.monotonic() + seconds
    while not pred():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def no_fetch_for(untagged, seq):
    return not any(re.match(rb"\* %d FETCH " % seq, r) for r in untagged)


def expunge_in(a, seq):
    a.ok("STORE %d +FLAGS.SILENT (\\Deleted)" % seq)
    got = expunges(a.ok("EXPUNGE"))
    if got != [seq]:
        fail("session A expected * %d EXPUNGE, got %r" % (seq, got))


def main_case(root, m, inbox):
    a = m.iraw("alice")
    b = m.iraw("alice")
    a.ok("CREATE Kept")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    ids = uids(b)
    before = fetches(b.ok("FETCH 2 " + ITEMS))[2]
    base = SAMPLES[1][0]
    check(base in message_files(inbox), "message 2 is %s" % base)

    expunge_in(a, 2)
    held = held_files(inbox)
    check(len(held) == 1 and open(os.path.join(inbox, "tmp", held[0]), "rb").read() == SAMPLES[1][1],
          "A's EXPUNGE with B selected moves the file into tmp/ as %s, bytes unchanged" % held)
    check(base not in message_files(inbox), "and it is no longer in cur/")

    untagged, done = b.cmd("FETCH 2 (BODY[] FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE)")
    f = fetches(untagged).get(2, {})
    check(done.startswith(b"OK") and not expunges(untagged),
          "B's FETCH 2 after A's expunge: tagged OK, no EXPUNGE (%r)" % done)
    check(f.get("BODY[]") == crlf(SAMPLES[1][1]), "B gets the expunged message's exact bytes")
    for item in ("FLAGS", "ENVELOPE", "RFC822.SIZE", "INTERNALDATE", "BODYSTRUCTURE"):
        check(f.get(item) == before[item], "B's %s is what it was before the expunge: %r" % (item, f.get(item)))
    check("\\Deleted" not in f["FLAGS"], "FLAGS are as last told to B (A's \\Deleted was never told)")

    untagged, done = b.cmd("FETCH 1:* (UID BODY.PEEK[])")
    f = fetches(untagged)
    check(done.startswith(b"OK") and sorted(f) == [1, 2, 3, 4] and
          [f[n]["BODY[]"] for n in (1, 2, 3, 4)] == [crlf(d) for _, d in SAMPLES],
          "FETCH 1:* in B answers all 4 messages, the expunged one included, tagged OK")

    untagged, done = b.cmd("STORE 2 +FLAGS (\\Flagged)")
    check(done.startswith(b"OK") and no_fetch_for(untagged, 2) and not expunges(untagged),
          "B's STORE 2 +FLAGS: tagged OK, no FETCH line, no EXPUNGE (%r, %r)" % (untagged, done))
    check(base not in message_files(inbox) and held_files(inbox) == held,
          "the STORE re-created no file; the held file is unchanged")

    untagged, done = b.cmd("COPY 1:2 Kept")
    check(done.startswith(b"OK [COPYUID") and not expunges(untagged), "B's COPY 1:2 Kept: OK [COPYUID ...] (%r)" % done)
    kept = mailbox_dir(root, "alice", "Kept")
    check(len(find_message(kept, SAMPLES[1][1])) == 1 and len(find_message(kept, SAMPLES[0][1])) == 1,
          "Kept holds copies of both, the expunged one byte for byte")

    c = m.iraw("alice")
    untagged = c.ok("SELECT INBOX")
    check(b"* 3 EXISTS" in untagged and uids(c) == ids[:1] + ids[2:],
          "a session selecting after the expunge sees 3 messages, never the expunged UID")
    untagged, done = c.cmd("UID FETCH %d (BODY.PEEK[])" % ids[1])
    check(done.startswith(b"OK") and not fetches(untagged), "UID FETCH of the expunged UID there answers nothing")
    c.ok("LOGOUT")

    untagged = b.ok("NOOP")
    check(expunges(untagged) == [2], "B's NOOP: * 2 EXPUNGE (%r)" % untagged)
    check(held_files(inbox) == [], "and the held file is gone from tmp/ now that the last session was told")
    f = fetches(b.ok("FETCH 2 (BODY.PEEK[])"))
    check(f.get(2, {}).get("BODY[]") == crlf(SAMPLES[2][1]), "B's FETCH 2 is now the next message (new numbering)")

    # UID STORE / UID FETCH on a held message: OK, no FETCH line for the STORE; the EXPUNGE may
    # come with the reply (UID commands allow it), and then the hold is over.
    expunge_in(a, 1)
    check(len(held_files(inbox)) == 1, "A expunges message 1 (UID %d): held for B" % ids[0])
    untagged, done = b.cmd("UID FETCH %d (BODY.PEEK[] RFC822.SIZE)" % ids[0])
    check(done.startswith(b"OK") and fetches(untagged).get(1, {}).get("BODY[]") == crlf(SAMPLES[0][1]),
          "B's UID FETCH of it: the exact bytes, tagged OK")
    check(expunges(untagged) == [1] and held_files(inbox) == [],
          "its reply brings * 1 EXPUNGE (UID commands allow it), and the held file is gone")
    u = uids(a)[0]
    expunge_in(a, 1)
    untagged, done = b.cmd("UID STORE %d +FLAGS (\\Seen)" % u)
    check(done.startswith(b"OK") and no_fetch_for(untagged, 1), "B's UID STORE of a held message: OK, no FETCH line (%r)" % untagged)
    check(expunges(untagged) == [1] and held_files(inbox) == [],
          "its reply brings * 1 EXPUNGE, and the held file is gone")
    for s in (a, b):
        s.ok("LOGOUT")


def pop3_case(root, m, inbox):
    b = m.iraw("alice")
    b.ok("SELECT INBOX")
    n = len(uids(b))
    first = fetches(b.ok("FETCH 1 (BODY.PEEK[])"))[1]["BODY[]"]
    p = m.pop("alice")
    p.dele(1)
    p.quit()
    check(len(held_files(inbox)) == 1, "POP3 DELE 1 + QUIT with an IMAP session on INBOX: the file is held")
    untagged, done = b.cmd("FETCH 1 (BODY.PEEK[] RFC822.SIZE)")
    f = fetches(untagged).get(1, {})
    check(done.startswith(b"OK") and not expunges(untagged) and f.get("BODY[]") == first and
          int(f.get("RFC822.SIZE", -1)) == len(first),
          "the IMAP session FETCHes it byte for byte, tagged OK, no EXPUNGE")
    untagged = b.ok("NOOP")
    check(expunges(untagged) == [1] and held_files(inbox) == [] and len(uids(b)) == n - 1,
          "NOOP: * 1 EXPUNGE, and the held file is gone")
    b.ok("LOGOUT")


def release_cases(root, m, inbox):
    """The session that was not told ends or leaves the mailbox: the held file goes."""
    def held_then(what, leave):
        a = m.iraw("alice")
        b = m.iraw("alice")
        a.ok("SELECT INBOX")
        b.ok("SELECT INBOX")
        expunge_in(a, 1)
        check(len(held_files(inbox)) == 1, "%s: the expunged message is held for B" % what)
        leave(b)
        check(wait_until(lambda: held_files(inbox) == []), "%s: the held file is gone" % what)
        a.ok("LOGOUT")
        b.close()

    root.deliver("alice", "1800000001.M1P1.more", b"Subject: more 1\n\nbody\n", "new")
    root.deliver("alice", "1800000002.M2P2.more", b"Subject: more 2\n\nbody\n", "new")
    root.deliver("alice", "1800000003.M3P3.more", b"Subject: more 3\n\nbody\n", "new")
    root.deliver("alice", "1800000004.M4P4.more", b"Subject: more 4\n\nbody\n", "new")
    held_then("B logs out without being told", lambda b: b.ok("LOGOUT"))
    held_then("B unselects", lambda b: b.ok("UNSELECT"))
    held_then("B selects another mailbox", lambda b: b.ok("SELECT Kept"))
    held_then("B's connection drops", lambda b: b.close())


def crash_case(root):
    inbox = mailbox_dir(root, "alice")
    root.deliver("alice", "1800000005.M5P5.crash", b"Subject: crash 1\n\nbody one\n", "new")
    root.deliver("alice", "1800000006.M6P6.crash", b"Subject: crash 2\n\nbody two\n", "new")
    with Maild(exe, root, imap=True) as m:
        a = m.iraw("alice")
        b = m.iraw("alice")
        a.ok("SELECT INBOX")
        b.ok("SELECT INBOX")
        n = len(uids(a))
        body = fetches(a.ok("FETCH 1 (BODY.PEEK[])"))[1]["BODY[]"]
        expunge_in(a, 1)
        held = held_files(inbox)
        check(len(held) == 1, "a hold outstanding when maild is killed: %s" % held)
        m.send_signal(signal.SIGKILL)
        m.proc.wait(10)
    check(held_files(inbox) == held, "kill -9 leaves the held file behind")
    with Maild(exe, root, imap=True) as m:
        # One of the new maild's own pid it does not know (an earlier process with the same pid)
        # goes too; one of a running process (this script) stays.
        own = "maild-held.%d.1.7" % m.proc.pid
        other = "maild-held.%d.1.7" % os.getpid()
        for name in (own, other):
            with open(os.path.join(inbox, "tmp", name), "wb") as f:
                f.write(b"Subject: leftover\n\nnot a message\n")
        c = m.iraw("alice")
        untagged = c.ok("SELECT INBOX")
        check(b"* %d EXISTS" % (n - 1) in untagged, "after the restart SELECT shows %d messages" % (n - 1))
        check(held_files(inbox) == [other],
              "SELECT removed the dead process's held file and its own pid's unknown one, kept a live one's: %s"
              % held_files(inbox))
        f = fetches(c.ok("FETCH 1:* (BODY.PEEK[])"))
        check(all(v["BODY[]"] not in (body, crlf(b"Subject: leftover\n\nnot a message\n")) for v in f.values()),
              "no held file was taken in as a message")
        c.ok("LOGOUT")
    os.unlink(os.path.join(inbox, "tmp", other))


# --- which worker a connection is on (epoll only): the epoll instance whose fdinfo lists it ----

def server_fd_of(pid, client_sock, server_port):
    """maild's descriptor for the connection of `client_sock`, found by its socket inode."""
    port = client_sock.getsockname()[1]
    inode = None
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == port:
                    inode = fields[9]
    except OSError:
        return None
    if inode is None:
        return None
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "socket:[%s]" % inode:
                return int(fd)
        except OSError:
            pass
    return None


def epoll_of(pid, fd):
    if not os.path.isdir("/proc/%d/fd" % pid):
        return None
    for e in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, e)) != "anon_inode:[eventpoll]":
                continue
            with open("/proc/%d/fdinfo/%s" % (pid, e)) as f:
                if any(re.match(r"tfd:\s+%d\s" % fd, l) for l in f):
                    return int(e)
        except OSError:
            pass
    return None


def workers_case(root):
    inbox = mailbox_dir(root, "alice")
    root.deliver("alice", "1800000011.M1P1.w", b"Subject: worker 1\n\nbody one\n", "new")
    root.deliver("alice", "1800000012.M2P2.w", b"Subject: worker 2\n\nbody two\n", "new")
    with Maild(exe, root, imap=True, args=["--workers", "2"]) as m:
        a = m.iraw("alice")
        ea = epoll_of(m.proc.pid, server_fd_of(m.proc.pid, a.sock, m.imap_port) or -1)
        others = []
        b = None
        apart = False
        for _ in range(24):  # SO_REUSEPORT spreads connections by a hash of their addresses
            s = m.iraw("alice")
            e = epoll_of(m.proc.pid, server_fd_of(m.proc.pid, s.sock, m.imap_port) or -1)
            if ea is not None and e is not None and e != ea:
                b = s
                apart = True
                break
            others.append(s)
        if b is None:
            print("note: no connection on another worker could be told apart (no epoll, or all on one); "
                  "the case runs with sessions wherever they landed", flush=True)
            b = others.pop()
        for s in others:
            s.close()
        a.ok("SELECT INBOX")
        b.ok("SELECT INBOX")
        body = fetches(b.ok("FETCH 1 (BODY.PEEK[])"))[1]["BODY[]"]
        expunge_in(a, 1)
        untagged, done = b.cmd("FETCH 1 (BODY.PEEK[])")
        check(done.startswith(b"OK") and fetches(untagged).get(1, {}).get("BODY[]") == body,
              "--workers 2, sessions on %s workers: B FETCHes the message A expunged"
              % ("different" if apart else "unknown"))
        check(expunges(b.ok("NOOP")) == [1] and wait_until(lambda: held_files(inbox) == []),
              "--workers 2: NOOP tells B, the held file is gone")
        a.ok("LOGOUT")
        b.ok("LOGOUT")


with Root() as root:
    root.deliver_samples("alice")
    inbox = mailbox_dir(root, "alice")
    with Maild(exe, root, imap=True) as m:
        main_case(root, m, inbox)
        pop3_case(root, m, inbox)
        release_cases(root, m, inbox)
    crash_case(root)
    workers_case(root)
