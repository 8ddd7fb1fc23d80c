"""IMAP MULTIAPPEND (RFC 3502) through raw sockets (imaplib cannot send it): CAPABILITY offers it;
three messages in one APPEND (flags, dates, synchronizing and LITERAL+ literals mixed, a literal8
holding NUL) get consecutive UIDs in one [APPENDUID v a:b], bytes, flags and dates exact. A
failure in a later message leaves the mailbox exactly as it was (files, uidlist, keywords) and
tmp/ empty: a message over --append-limit (synchronizing: NO before '+'; LITERAL+: skipped, NO;
over twice the limit: NO, BYE, close), too many messages or bytes in one command (NO [LIMIT]), a
bad flag or date (BAD), the mailbox deleted meanwhile or before the final CRLF (NO [TRYCREATE]),
the client disconnecting in the middle of a literal or between two messages."""
import os
import sys
import time

from maildtest import (USERS, Lit, Maild, Root, check, fetches, find_message, mailbox_dir, resp_code,
                       snapshot, time_limit, uid_set)

exe = sys.argv[1]
time_limit(80)

LIMIT = 1000


def msg(n, size=200, extra=b""):
    head = b"From: m@example.org\r\nSubject: multi %d\r\nMessage-ID: <multi%d@test>\r\n\r\n" % (n, n)
    body = extra + b"x" * max(0, size - len(head) - len(extra) - 2) + b"\r\n"
    return head + body


def tmp_empty(d, wait=5.0):
    """True once `d`/tmp holds nothing (maild cleans up as soon as it sees the close)."""
    deadline = time.monotonic() + wait
    while True:
        if not os.listdir(os.path.join(d, "tmp")):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def unchanged(d, before, what):
    check(tmp_empty(d), "%s: tmp/ is empty: %s" % (what, os.listdir(os.path.join(d, "tmp"))))
    after = snapshot(d)
    check(after == before, "%s: the mailbox is as it was (%s)" %
          (what, [k for k in set(before) | set(after) if before.get(k) != after.get(k)]))


with Root() as root:
    root.write_passwd(USERS)
    root.deliver_samples("alice")
    inbox = mailbox_dir(root, "alice")
    with Maild(exe, root, imap=True, args=["--append-limit", str(LIMIT)]) as m:
        r = m.iraw("alice")
        caps = r.ok("CAPABILITY")
        check(any(b" MULTIAPPEND" in c for c in caps), "CAPABILITY offers MULTIAPPEND: %r" % caps)
        r.ok("SELECT INBOX")  # files into cur/, uidlist written
        r.ok("CLOSE")

        # Three messages: sync, LITERAL+, literal8 with NUL; flags and dates.
        a, b, c = msg(1), msg(2, 300), msg(3, 100, extra=b"nul\x00byte ")
        _, done = r.cmd("APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" ", Lit(a),
                        " (\\Flagged \\Answered) ", Lit(b, plus=True),
                        " \" 5-Mar-2024 12:00:00 +0530\" ~", Lit(c))
        check(done.startswith(b"OK"), "MULTIAPPEND of three: %r" % done)
        code = resp_code(done, "APPENDUID")
        check(code is not None, "APPENDUID in %r" % done)
        validity, uidtext = code.split()
        new = uid_set(uidtext)
        check(len(new) == 3 and new == list(range(new[0], new[0] + 3)) and ":" in uidtext,
              "three consecutive UIDs as a range: %r" % uidtext)
        r.ok("SELECT INBOX")
        got = fetches(r.ok("UID FETCH %s (UID FLAGS)" % uidtext))
        byuid = {int(f["UID"]): f for f in got.values()}
        check(sorted(byuid) == new, "FETCH finds the three: %r" % sorted(byuid))
        # The internal date is the file's mtime (RFC 3501 date-time, the zone applied).
        want = [(a, {"\\Seen"}, 837596665), (b, {"\\Flagged", "\\Answered"}, None), (c, set(), 1709620200)]
        for uid, (data, flags, date) in zip(new, want):
            got_flags = set(byuid[uid]["FLAGS"]) - {"\\Recent"}
            check(got_flags == flags, "uid %d: flags %r, want %r" % (uid, got_flags, flags))
            found = find_message(inbox, data)
            check(len(found) == 1, "uid %d: one file holds the bytes exactly: %s" % (uid, found))
            if date is not None:
                mtime = int(os.stat(os.path.join(inbox, found[0])).st_mtime)
                check(mtime == date, "uid %d: internal date %d, want %d" % (uid, mtime, date))
        r.ok("CLOSE")
        check(tmp_empty(inbox, 0), "tmp/ empty after the MULTIAPPEND")

        before = snapshot(inbox)
        # The second message over --append-limit, synchronizing: NO instead of '+'.
        _, done = r.cmd("APPEND INBOX ", Lit(msg(4)), " ", Lit(msg(5, LIMIT + 1)))
        check(done.startswith(b"NO [TOOBIG]"), "second message over the limit: %r" % done)
        unchanged(inbox, before, "over the limit, synchronizing")
        # The same with LITERAL+: the big literal is read and dropped, then NO; the session goes on.
        _, done = r.cmd("APPEND INBOX ", Lit(msg(4), plus=True), " ", Lit(msg(5, LIMIT + 1), plus=True),
                        " ", Lit(msg(6), plus=True))
        check(done.startswith(b"NO [TOOBIG]"), "LITERAL+ second message over the limit: %r" % done)
        r.ok("NOOP")
        unchanged(inbox, before, "over the limit, LITERAL+")
        # A LITERAL+ second message over twice the limit is not read at all: NO, BYE, close.
        z = m.iraw("alice")
        z.send(b"z1 APPEND INBOX {%d+}\r\n%s {%d+}\r\n" % (len(msg(4)), msg(4), 3 * LIMIT))
        resp = [z.response(), z.response()]
        check(resp[0].startswith(b"z1 NO [TOOBIG]") and resp[1].startswith(b"* BYE [TOOBIG]") and z.at_eof(),
              "a second message over twice the limit: NO, BYE and a close: %r" % resp)
        z.close()
        unchanged(inbox, before, "closed for a huge second message")
        # Together over four times the limit: NO [LIMIT] at the fifth.
        pieces = ["APPEND INBOX"]
        for i in range(6):
            pieces += [" ", Lit(msg(10 + i, 900), plus=True)]
        _, done = r.cmd(*pieces)
        check(done.startswith(b"NO [LIMIT]"), "4 x 900 bytes fit, the fifth not: %r" % done)
        unchanged(inbox, before, "total bytes")
        # Too many messages: 1,000 are the most.
        pieces = ["APPEND INBOX"]
        for i in range(1001):
            pieces += [" ", Lit(b"x", plus=True)]
        # Each message is fsynced as it arrives: 1,000 fsyncs take seconds on a busy disk.
        r.sock.settimeout(45)
        _, done = r.cmd(*pieces)
        r.sock.settimeout(10)
        check(done.startswith(b"NO [LIMIT]"), "1,001 messages: %r" % done)
        unchanged(inbox, before, "too many messages")
        r.ok("NOOP")
        # A bad flag or date in a later message: BAD, nothing stored.
        _, done = r.cmd("APPEND INBOX ", Lit(msg(4), plus=True), " (\\Bogus) ", Lit(msg(5), plus=True))
        check(done.startswith(b"BAD"), "unknown system flag in the second message: %r" % done)
        unchanged(inbox, before, "bad flag")
        _, done = r.cmd("APPEND INBOX ", Lit(msg(4)), " \"31-Feb-2024 00:00:00 +0000\" ", Lit(msg(5)))
        check(done.startswith(b"BAD"), "invalid date in the second message: %r" % done)
        unchanged(inbox, before, "bad date")
        _, done = r.cmd("APPEND INBOX ", Lit(msg(4), plus=True), " junk")
        check(done.startswith(b"BAD"), "junk after a message literal: %r" % done)
        unchanged(inbox, before, "junk")
        r.ok("NOOP")

        # The client goes away in the middle of the third literal.
        d = m.iraw("alice")
        d.send(b"x1 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s {%d+}\r\n%s" %
               (len(msg(4)), msg(4), len(msg(5)), msg(5), 800, msg(6)[:100]))
        time.sleep(0.3)
        check(len(os.listdir(os.path.join(inbox, "tmp"))) >= 1, "the messages stream into tmp/")
        d.close()
        unchanged(inbox, before, "disconnect mid-literal")
        # ... or between two messages.
        d = m.iraw("alice")
        d.send(b"x1 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s" % (len(msg(4)), msg(4), len(msg(5)), msg(5)))
        d.send(b" (\\Seen) {5}\r\nab")  # the next message begun, then the close
        time.sleep(0.3)
        d.close()
        unchanged(inbox, before, "disconnect between messages")

        # The target deleted between two messages: NO [TRYCREATE], nothing left behind.
        r.ok("CREATE Box")
        box = mailbox_dir(root, "alice", "Box")
        r.send(b"y1 APPEND Box {%d+}\r\n%s" % (len(msg(4)), msg(4)))
        time.sleep(0.3)
        other = m.iraw("alice")
        other.ok("DELETE Box")
        r.send(b" {%d}\r\n" % len(msg(5)))
        resp = r.response()
        check(resp.startswith(b"y1 NO [TRYCREATE]"), "mailbox deleted meanwhile: %r" % resp)
        check(not os.path.exists(box), "Box is gone, nothing recreated")
        r.ok("NOOP")
        # ... or after the last message, before the command's final CRLF.
        r.ok("CREATE Box")
        r.send(b"y2 APPEND Box {%d+}\r\n%s {%d+}\r\n%s" % (len(msg(4)), msg(4), len(msg(5)), msg(5)))
        time.sleep(0.3)
        other.ok("DELETE Box")
        r.send(b"\r\n")
        resp = r.response()
        check(resp.startswith(b"y2 NO [TRYCREATE]"), "mailbox deleted before the final CRLF: %r" % resp)
        check(not os.path.exists(box), "Box is gone, nothing recreated")
        r.ok("NOOP")

        # Still consistent: a session sees the three appended plus the samples, nothing else.
        r.ok("SELECT INBOX")
        n = len(r.ok("UID SEARCH ALL")[0].split()) - 2
        check(n == len(before["cur/"]), "INBOX holds %d messages, as before the failures" % n)
        check(tmp_empty(inbox, 0), "tmp/ empty at the end")
        r.ok("LOGOUT")
print("imap-multiappend: ok")
