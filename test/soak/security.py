"""Security checks that the smoke tests do not make (see doc/security.md):
  - POP3 before login: no command reaches the store (STAT, LIST, UIDL, RETR, TOP, DELE, RSET,
    NOOP, PASS without USER, QUIT), and nothing on disk changes;
  - POP3 AUTH PLAIN with unsafe user names ('/', '..', absolute, control bytes) is refused and
    makes no directory;
  - failed logins are delayed in IMAP too (LOGIN with a bad password, an unknown user, an unsafe
    name, AUTHENTICATE PLAIN) and in POP3 AUTH PLAIN, with one reply text for all, while other
    sessions are served during the delay;
  - no user sees another's mail: alice's LIST/LSUB with references and patterns that try to climb
    ('..', '/', '~bob', mUTF-7 spellings) shows only her mailboxes, her SELECT/STATUS of bob's
    folder name finds her own (or none), POP3 as alice gets only alice's messages, and nothing
    outside alice's directory is created or changed;
  - subscriptions and maild-keywords that are symbolic links to another file are not read
    through (LSUB, FLAGS) and are replaced, not written through;
  - with --workers 2, concurrent logins of a crypt user: every right password accepted, no wrong
    one."""
import base64
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import soaklib  # noqa: E402,F401  (puts test/smoke on sys.path)
from maildtest import (SAMPLES, USERS, ImapRaw, Lit, Maild, Raw, Root, check, crlf, fetches, parse,  # noqa: E402
                       text, time_limit, wire)

exe = sys.argv[1]
time_limit(60)
DELAY_MS = 300


def tree(top):
    """{relative path: bytes or 'dir'} of everything under top (log files excepted)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), top)] = "dir"
        for f in filenames:
            if f.endswith(".log"):
                continue
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, top)] = fh.read()
    return out


def plain(authz, user, pw):
    return base64.b64encode(b"%s\0%s\0%s" % (authz, user, pw)).decode()


def refused(done):
    return done.split(b" ")[0] in (b"NO", b"BAD")


with Root() as root:
    root.deliver_samples("alice")
    bob_secret = b"From: bank@example.org\r\nSubject: bob's secret\r\n\r\nPIN 1234\r\n"
    root.deliver("bob", "1700000100.M1P1.bob", bob_secret, "cur", ":2,")
    os.makedirs(os.path.join(root.mail, "bob", ".Secret"))
    root.deliver("bob/.Secret", "1700000101.M2P2.bob", b"Subject: in Secret\r\n\r\nhidden\r\n", "new")
    with open(os.path.join(root.mail, "bob", "subscriptions"), "w") as f:
        f.write("Secret\n")

    with Maild(exe, root, delay_ms=DELAY_MS, imap=True) as m:
        # POP3: nothing before login.
        before = tree(root.dir)
        r = m.raw()
        for c in ("STAT", "LIST", "LIST 1", "UIDL", "UIDL 1", "RETR 1", "TOP 1 0", "DELE 1", "RSET", "NOOP",
                  "LAST", "PASS open sesame"):
            reply = r.cmd(c)
            check(reply.startswith(b"-ERR"), "POP3 before login: %s gets -ERR (%r)" % (c, reply))
        check(r.cmd("QUIT").startswith(b"+OK"), "QUIT before login: +OK")
        check(r.at_eof(), "... and closes")
        r.close()
        # USER then a command other than PASS: still not logged in.
        r = m.raw()
        r.cmd("USER alice")
        check(r.cmd("STAT").startswith(b"-ERR"), "POP3 after USER alone: STAT gets -ERR")
        check(r.cmd("RETR 1").startswith(b"-ERR"), "POP3 after USER alone: RETR gets -ERR")
        r.close()
        check(tree(root.dir) == before, "nothing on disk changed before a login")

        # POP3 AUTH PLAIN with unsafe names: refused (after the delay), no directory made.
        dirs_before = {p for p, v in tree(root.dir).items() if v == "dir"}
        for name, pw in (("../alice", "open sesame"), ("alice/../bob", "hunter2"), ("/tmp/evil", "x"),
                         ("..", "x"), (".hidden", "x"), ("a\x01b", "x"), ("alice\x00", "open sesame")):
            r = m.raw()
            t0 = time.monotonic()
            reply = r.cmd("AUTH PLAIN " + plain(b"", name.encode(), pw.encode()))
            dt = time.monotonic() - t0
            check(reply.startswith(b"-ERR") and dt >= DELAY_MS / 1000 - 0.001,
                  "POP3 AUTH PLAIN as %r is refused after the delay (%.0f ms): %r" % (name, dt * 1000, reply))
            r.close()
        made = {p for p, v in tree(root.dir).items() if v == "dir"} - dirs_before
        check(not made and not os.path.exists("/tmp/evil"), "no directory made for unsafe names: %s" % made)

        # Failed logins are delayed, with one reply text, in IMAP (LOGIN, AUTHENTICATE) and POP3 AUTH.
        replies = {}
        for why, send in [("LOGIN, bad password", "LOGIN alice wrong"),
                          ("LOGIN, unknown user", "LOGIN nobody wrong"),
                          ("LOGIN, unsafe name", 'LOGIN "../alice" "open sesame"'),
                          ("LOGIN, crypt user, bad password", "LOGIN bob wrong"),
                          ("AUTHENTICATE PLAIN, bad password", "AUTHENTICATE PLAIN " + plain(b"", b"alice", b"wrong")),
                          ("AUTHENTICATE PLAIN, unknown user", "AUTHENTICATE PLAIN " + plain(b"", b"nobody", b"x"))]:
            r = ImapRaw(m.imap_port)
            t0 = time.monotonic()
            _, done = r.cmd(send)
            dt = time.monotonic() - t0
            check(done.startswith(b"NO") and dt >= DELAY_MS / 1000 - 0.001,
                  "IMAP %s: NO after %.0f ms (>= %d)" % (why, dt * 1000, DELAY_MS))
            replies[why] = done
            r.close()
        check(len(set(replies.values())) == 1, "one reply text for every failed IMAP login: %r" % set(replies.values()))
        r = m.raw()
        t0 = time.monotonic()
        reply = r.cmd("AUTH PLAIN " + plain(b"", b"alice", b"wrong"))
        dt = time.monotonic() - t0
        check(reply == b"-ERR [AUTH] Authentication failed" and dt >= DELAY_MS / 1000 - 0.001,
              "POP3 AUTH PLAIN, bad password: %r after %.0f ms" % (reply, dt * 1000))
        r.close()
        # The delay is a timer: another IMAP session logs in and fetches meanwhile.
        slow = ImapRaw(m.imap_port)
        slow.send(b"s1 LOGIN alice wrong\r\n")
        time.sleep(0.03)
        t0 = time.monotonic()
        fast = m.iraw("alice")
        fast.ok("SELECT INBOX")
        f = fetches(fast.ok("FETCH 1 BODY.PEEK[]"))
        dt = time.monotonic() - t0
        check(f[1]["BODY[]"] == crlf(SAMPLES[0][1]) and dt < DELAY_MS / 1000,
              "another IMAP session logs in and fetches during the delay (%.0f ms)" % (dt * 1000))
        check(slow.until("s1")[1].startswith(b"NO"), "the delayed NO arrives")
        slow.close()

        # No user sees another's mail.
        outside = {p for p in tree(root.dir) if not p.startswith("mail/alice")}
        outside_before = {p: v for p, v in tree(root.dir).items() if p in outside}
        a = m.iraw("alice")
        a.ok("CREATE Mine")
        names = set()
        attempts = [('""', '"*"'), ('""', '"%"'), ('"../"', '"*"'), ('"../bob/"', '"*"'), ('"../bob"', '"*"'),
                    ('".."', '"*"'), ('"/"', '"*"'), ('"%s/"' % root.mail, '"*"'), ('"~bob/"', '"*"'),
                    ('""', '"../*"'), ('""', '"../bob/*"'), ('""', '"/*"'), ('""', '"*/../*"'), ('""', '"..*"'),
                    ('""', '"bob*"'), ('""', '"*Secret*"'), ('"&AC4-&AC4-/"', '"*"'), ('""', '"&AC4-&AC4-/*"'),
                    ('"INBOX."', '"*"'), ('"Mine."', '"../../*"')]
        for cmd in ("LIST", "LSUB"):
            for ref, pat in attempts:
                untagged, done = a.cmd("%s %s %s" % (cmd, ref, pat))
                got = [text(parse(u)[4]) for u in untagged if u.startswith(b"* %s " % cmd.encode())]
                names.update(got)
                check(done.startswith(b"OK") or refused(done), "%s %s %s answers (%r)" % (cmd, ref, pat, done[:40]))
        check(names <= {"INBOX", "Mine", ""}, "alice's LIST/LSUB never show anything but her own: %s" % sorted(names))
        for box in ("Secret", "../bob/.Secret", "../bob", "~bob/Secret", "/" + root.mail + "/bob", "&AC4-&AC4-/bob"):
            _, done = a.cmd("SELECT", " ", Lit(box.encode()))
            check(refused(done), "alice cannot SELECT %r: %r" % (box, done[:60]))
            _, done = a.cmd("STATUS", " ", Lit(box.encode()), " (MESSAGES)")
            check(refused(done), "alice cannot STATUS %r" % box)
        # Her own 'Secret' is hers: empty, under mail/alice.
        a.ok("CREATE Secret")
        untagged = a.ok("SELECT Secret")
        check(b"* 0 EXISTS" in untagged, "alice's own Secret is empty, not bob's")
        a.ok("LOGOUT")
        a.close()
        # POP3 as alice: exactly her messages.
        r = m.raw()
        r.login("alice")
        n = int(r.cmd("STAT").split()[1])
        got = []
        for k in range(1, n + 1):
            check(r.cmd("RETR %d" % k).startswith(b"+OK"), "RETR %d" % k)
            got.append(r.multiline())
        check(sorted(got) == sorted(wire(d) for _, d in SAMPLES), "POP3 alice gets exactly her %d messages" % n)
        check(all(b"PIN 1234" not in g and b"hidden" not in g for g in got), "none of bob's")
        r.cmd("QUIT")
        r.close()
        after = tree(root.dir)
        changed = {p for p in set(after) | set(outside_before)
                   if not p.startswith("mail/alice") and after.get(p) != outside_before.get(p)}
        check(not changed, "nothing outside alice's directory was created or changed: %s" % sorted(changed))
        check(m.stop() == 0, "clean exit")

    # --workers: logins verified on several threads at once. Every right password is accepted and
    # no wrong one, whichever thread verifies it (bob is a SHA512-CRYPT user: libcrypt's work
    # area must not be shared between the threads).
    # The store's own small files are never read or written through a symbolic link: alice (or
    # whoever planted the link) must not see another file's lines as subscriptions or keywords.
    outside = os.path.join(root.dir, "outside.txt")
    with open(outside, "w") as f:
        f.write("LeakedLine\n")
    alice_root = os.path.join(root.mail, "alice")
    for name in ("subscriptions", "maild-keywords"):
        os.symlink(outside, os.path.join(alice_root, name))
    with Maild(exe, root, delay_ms=10, imap=True) as m:
        r = m.iraw("alice")
        lsub = b"\n".join(r.ok('LSUB "" "*"'))
        check(b"LeakedLine" not in lsub, "LSUB does not show a linked file's lines: %r" % lsub)
        flags = b"\n".join(r.ok("SELECT INBOX"))
        check(b"LeakedLine" not in flags, "FLAGS does not show a linked file's lines as keywords")
        r.ok("SUBSCRIBE INBOX")
        r.ok("STORE 1 +FLAGS (Work)")
        with open(outside) as f:
            check(f.read() == "LeakedLine\n", "the linked file is unchanged")
        for name in ("subscriptions", "maild-keywords"):
            p = os.path.join(alice_root, name)
            check(not os.path.islink(p) and os.path.isfile(p), "%s is now a file of alice's own" % name)
        check(b"LeakedLine" not in b"\n".join(r.ok('LSUB "" "*"')), "LSUB still shows no linked line")
        r.ok("LOGOUT")
        check(m.stop() == 0, "clean exit")

    with Maild(exe, root, args=["--workers", "2"], delay_ms=10, log_level="warn", imap=True) as m:
        results = {"right accepted": 0, "right refused": 0, "wrong accepted": 0, "wrong refused": 0}
        lock = threading.Lock()

        def logins(k):
            for j in range(24):
                right = (k + j) % 2 == 0
                s = socket.create_connection(("127.0.0.1", m.imap_port), timeout=20)
                f = s.makefile("rb")
                f.readline()
                s.sendall(b"a LOGIN bob %s\r\n" % (b"hunter2" if right else b"hunter3"))
                line = f.readline()
                while line and not line.startswith(b"a "):
                    line = f.readline()
                s.close()
                key = ("right " if right else "wrong ") + ("accepted" if line.startswith(b"a OK") else "refused")
                with lock:
                    results[key] += 1

        threads = [threading.Thread(target=logins, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("figure: --workers 2, concurrent crypt logins: %s" % results, flush=True)
        check(results["wrong accepted"] == 0, "no wrong password is accepted under --workers 2")
        check(results["right refused"] == 0, "every right password is accepted under --workers 2 (%d of %d refused)"
              % (results["right refused"], results["right refused"] + results["right accepted"]))
        check(m.stop() == 0, "clean exit")
print("PASS")
