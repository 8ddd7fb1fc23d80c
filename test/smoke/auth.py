"""Logins: a failed login is answered after a delay (kept by a timer: other sessions are served
meanwhile), with the same reply whether or not the user exists; unsafe user names are refused;
malformed AUTH PLAIN gets the same delay; SIGHUP re-reads the passwd file and keeps the old one when
the new one is unreadable or a directory."""
import os
import signal
import sys
import time

from maildtest import USERS, Maild, Root, check, time_limit

exe = sys.argv[1]
time_limit(50)


def timed_fail(m, user, password):
    r = m.raw()
    u = r.cmd("USER " + user)
    t0 = time.monotonic()
    reply = r.cmd("PASS " + password)
    elapsed = time.monotonic() - t0
    r.close()
    return u, reply, elapsed


with Root() as root:
    # The default delay: about one second.
    with Maild(exe, root, delay_ms=None) as m:
        _, reply, elapsed = timed_fail(m, "alice", "wrong")
        check(reply.startswith(b"-ERR") and 0.9 <= elapsed < 3, "default failed-login delay ~1 s (%.2f s)" % elapsed)
        m.stop()

    with Maild(exe, root, delay_ms=800) as m:
        u1, known, t_known = timed_fail(m, "alice", "wrong")
        u2, unknown, t_unknown = timed_fail(m, "nobody", "wrong")
        check(u1 == u2 == b"+OK", "USER answers the same for known and unknown users")
        check(known == unknown and known.startswith(b"-ERR [AUTH]"), "same -ERR for a bad password and an unknown user: %r" % known)
        check(t_known >= 0.75 and t_unknown >= 0.75, "both are delayed (%.2f s, %.2f s)" % (t_known, t_unknown))

        # Malformed AUTH PLAIN is a failed login too: the same delay and reply, in the initial
        # response and in the continuation.
        def timed_auth(*lines):
            r = m.raw()
            for line in lines[:-1]:
                check(r.cmd(line) == b"+ ", "%s asks for a continuation" % line)
            t0 = time.monotonic()
            reply = r.cmd(lines[-1])
            elapsed = time.monotonic() - t0
            r.close()
            return reply, elapsed

        for lines, what in [(["AUTH PLAIN !!!!"], "invalid base64 as the initial response"),
                            (["AUTH PLAIN", "!!!!"], "invalid base64 in the continuation"),
                            (["AUTH PLAIN", "bm8gbnVscw=="], "no NULs in the decoded continuation"),
                            (["AUTH PLAIN AGFsaWNl"], "no password in the initial response")]:
            reply, elapsed = timed_auth(*lines)
            check(reply == known and elapsed >= 0.75,
                  "AUTH PLAIN with %s: %r after %.2f s (the failed-login delay)" % (what, reply, elapsed))

        # The delay is a timer, not a sleep: another session is served while one waits.
        slow = m.raw()
        slow.cmd("USER alice")
        slow.send(b"PASS wrong\r\n")
        time.sleep(0.05)
        t0 = time.monotonic()
        p = m.pop("bob")
        p.noop()
        p.quit()
        fast = time.monotonic() - t0
        check(fast < 0.5, "another login and NOOP are served during the delay (%.3f s)" % fast)
        check(slow.line().startswith(b"-ERR [AUTH]"), "the delayed reply arrives")
        # The session survives a failed login and may try again.
        check(slow.login("alice")[1].startswith(b"+OK"), "a retry after a failed login works")
        slow.close()

        # Pipelined commands after a failed PASS wait for its reply, in order.
        r = m.raw()
        r.send(b"USER alice\r\nPASS wrong\r\nUSER alice\r\nPASS open sesame\r\nSTAT\r\nQUIT\r\n")
        replies = [r.line() for _ in range(6)]
        check([x.split(b" ")[0] for x in replies] == [b"+OK", b"-ERR", b"+OK", b"+OK", b"+OK", b"+OK"],
              "pipelined commands behind a delayed failure stay in order: %r" % replies)
        r.close()

        # Unsafe names never reach the file system.
        for bad in ("../alice", "alice/../bob", ".", "..", "a\x01b"):
            r = m.raw()
            r.cmd("USER " + bad)
            check(r.cmd("PASS open sesame").startswith(b"-ERR"), "user name %r is refused" % bad)
            r.close()
        check(sorted(os.listdir(root.mail)) == ["alice", "bob"], "no directory was made for bad names")

        # SIGHUP: carol appears, a line with an unsafe name is skipped.
        users = dict(USERS)
        users["carol"] = ("{PLAIN}c4rol", "c4rol")
        root.write_passwd(users, extra="../evil:{PLAIN}evil\nbroken line\nnoscheme:plaintext\n")
        m.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        p = m.pop("carol", "c4rol")
        p.quit()
        check(True, "SIGHUP: a new user can log in")
        log = m.log_text()
        check("reloaded" in log and "unusable user name" in log, "the reload and the skipped lines are logged")
        r = m.raw()
        r.cmd("USER noscheme")
        check(r.cmd("PASS plaintext").startswith(b"-ERR"),
              "a password without {SCHEME} is a crypt hash, not plain text")
        r.close()

        # SIGHUP with the file gone: the old accounts stay.
        os.unlink(root.passwd)
        m.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        p = m.pop("carol", "c4rol")
        p.quit()
        check("keeping the old accounts" in m.log_text(), "SIGHUP with an unreadable file keeps the old accounts")

        # SIGHUP with a directory where the file was: a failed reload too, not an empty file.
        os.mkdir(root.passwd)
        m.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while "is a directory" not in m.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = m.log_text()
        line = next((l for l in log.splitlines() if "is a directory" in l), "")
        check("keeping the old accounts" in line, "SIGHUP with a directory is logged as a failed reload: %s" % line)
        check("(0 users)" not in log, "no reload to 0 users is logged")
        p = m.pop("carol", "c4rol")
        p.quit()
        check(True, "after it, an old account still logs in")
        os.rmdir(root.passwd)
        check(m.stop() == 0, "clean exit")
print("PASS")
