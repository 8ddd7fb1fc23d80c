"""IMAP sessions: the greeting and CAPABILITY, what works before login, LOGIN (atom, quoted,
literal) and AUTHENTICATE PLAIN (SASL-IR, continuation, cancel), unsafe user names, NAMESPACE, LIST
with the hierarchy delimiter and child attributes, SELECT/EXAMINE replies derived from the store,
\\Recent in exactly one session, LOGOUT, python imaplib, the idle timeout and --max-connections."""
import base64
import os
import sys
import time

from maildtest import (SAMPLES, USERS, ImapRaw, Maild, Root, all_dirs, check, codes, counts, crlf,
                       fetches, flags_of, mailbox_dir, parse, text, time_limit, uids)

exe = sys.argv[1]
time_limit(55)

SYSTEM_FLAGS = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"}
DEFAULT_APPEND_LIMIT = 64 * 1024 * 1024


def capabilities(line):
    """The capability atoms of '* CAPABILITY ...' or of a [CAPABILITY ...] code."""
    i = line.find(b"[CAPABILITY ")
    if i >= 0:
        body = line[i + len(b"[CAPABILITY "):line.index(b"]", i)]
    else:
        body = line[len(b"* CAPABILITY "):]
    return set(body.decode().split())


def not_ok(done):
    return done.split(b" ")[0] in (b"BAD", b"NO")


def list_boxes(r, ref, pattern):
    """{name: (attributes lower-cased, delimiter)} from LIST."""
    out = {}
    for resp in r.ok('LIST "%s" "%s"' % (ref, pattern)):
        if resp.startswith(b"* LIST "):
            v = parse(resp)
            out[text(v[4])] = ({a.lower() for a in v[2]}, text(v[3]) if v[3] is not None else None)
    return out


with Root() as root:
    root.write_passwd(USERS, extra="../evil:{PLAIN}evil\n")
    root.deliver_samples("alice")
    # Two folders and a child (Maildir++: <user>/.Name, delimiter ".").
    for box in ("Archive", "Archive.2024", "Sent"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mailbox_dir(root, "alice", box), sub))
    seen_bases = {n.split(":2,")[0] for n in root.files("alice", "cur") if "\\Seen" in flags_of(n)}
    first_unseen = 1 + next(i for i, (base, _) in enumerate(SAMPLES) if base not in seen_bases)
    dirs_before = all_dirs(root.dir)

    with Maild(exe, root, imap=True) as m:
        # The greeting carries the capabilities; CAPABILITY repeats them.
        r = ImapRaw(m.imap_port)
        caps = capabilities(r.greeting)
        required = {"IMAP4rev1", "LITERAL+", "SASL-IR", "UIDPLUS", "IDLE", "NAMESPACE", "UNSELECT",
                    "CHILDREN", "AUTH=PLAIN", "APPENDLIMIT=%d" % DEFAULT_APPEND_LIMIT}
        check(r.greeting.startswith(b"* OK [CAPABILITY "), "the greeting is '* OK [CAPABILITY ...]': %r" % r.greeting)
        check(required <= caps, "the greeting lists %s (missing: %s)" % (sorted(required), sorted(required - caps)))
        check("STARTTLS" not in caps and "LOGINDISABLED" not in caps, "no STARTTLS, no LOGINDISABLED")
        untagged, done = r.cmd("CAPABILITY")
        cap_lines = [u for u in untagged if u.startswith(b"* CAPABILITY ")]
        check(done.startswith(b"OK") and len(cap_lines) == 1 and required <= capabilities(cap_lines[0]),
              "CAPABILITY lists them too")
        check(r.cmd("NOOP")[1].startswith(b"OK"), "NOOP works before login")

        # Before login nothing touches a mailbox.
        for c in ("SELECT INBOX", "EXAMINE INBOX", 'LIST "" "*"', 'LSUB "" "*"', "STATUS INBOX (MESSAGES)",
                  "CREATE Evil", "DELETE Archive", "RENAME Sent Evil", "SUBSCRIBE INBOX", "NAMESPACE",
                  "FETCH 1 BODY[]", "UID FETCH 1 BODY[]", "SEARCH ALL", "STORE 1 +FLAGS (\\Deleted)",
                  "COPY 1 Sent", "EXPUNGE", "CLOSE", "CHECK", "UNSELECT"):
            untagged, done = r.cmd(c)
            check(not_ok(done) and not any(u.startswith(b"* LIST") or u.startswith(b"* 1 FETCH") for u in untagged),
                  "before login %r gets BAD or NO: %r" % (c, done[:60]))
        r.send(b"i1 IDLE\r\n")
        reply = r.response(timeout=3)
        check(reply is not None and reply.startswith(b"i1 ") and not_ok(reply[3:]),
              "before login IDLE gets BAD or NO (no '+'): %r" % reply)
        check(r.cmd("STARTTLS")[1].startswith(b"BAD"), "STARTTLS gets BAD")
        check(r.cmd("XYZZY")[1].startswith(b"BAD"), "an unknown command gets BAD")
        check(all_dirs(root.dir) == dirs_before, "nothing was created before login")

        # Failed logins: the same reply for a bad password and an unknown user.
        _, bad_pw = r.cmd("LOGIN alice wrong")
        _, unknown = r.cmd("LOGIN nobody wrong")
        check(bad_pw.startswith(b"NO") and bad_pw == unknown, "LOGIN with a bad password or user: the same NO (%r)" % bad_pw)
        check(r.cmd('LOGIN alice "open sesame"')[1].startswith(b"OK"), "LOGIN with a quoted password (and a space)")
        check(r.cmd("LOGIN alice \"open sesame\"")[1].split(b" ")[0] in (b"BAD", b"NO"), "a second LOGIN is refused")
        untagged, done = r.cmd("LOGOUT")
        check(any(u.startswith(b"* BYE") for u in untagged) and done.startswith(b"OK"), "LOGOUT: * BYE, then OK")
        check(r.at_eof(), "LOGOUT closes the connection")
        r.close()

        r = m.iraw("alice")  # LOGIN with a synchronizing literal password
        check(True, "LOGIN alice {11} + literal password ('+ ' continuation)")
        r.close()
        r = ImapRaw(m.imap_port)
        check(r.cmd("LOGIN bob hunter2")[1].startswith(b"OK"), "LOGIN with atoms, SHA512-CRYPT password")
        r.close()

        # AUTHENTICATE PLAIN: initial response, continuation, cancel, failures.
        def plain(authz, user, pw):
            return base64.b64encode(b"%s\0%s\0%s" % (authz, user, pw)).decode()
        r = ImapRaw(m.imap_port)
        check(r.cmd("AUTHENTICATE PLAIN " + plain(b"", b"alice", b"open sesame"))[1].startswith(b"OK"),
              "AUTHENTICATE PLAIN with an initial response (SASL-IR)")
        r.close()
        r = ImapRaw(m.imap_port)
        r.send(b"p1 AUTHENTICATE PLAIN\r\n")
        check(r.response().startswith(b"+"), "AUTHENTICATE PLAIN asks for a continuation")
        r.send(b"*\r\n")
        check(r.until("p1")[1].startswith(b"BAD"), "'*' cancels AUTHENTICATE with BAD")
        r.send(b"p2 AUTHENTICATE PLAIN\r\n")
        check(r.response().startswith(b"+"), "AUTHENTICATE PLAIN again")
        r.send(plain(b"bob", b"bob", b"hunter2").encode() + b"\r\n")
        check(r.until("p2")[1].startswith(b"OK"), "the continuation logs in bob (authzid = user)")
        r.close()
        r = ImapRaw(m.imap_port)
        for why, arg in [("someone else's authzid", plain(b"alice", b"bob", b"hunter2")),
                         ("a wrong password", plain(b"", b"alice", b"wrong")),
                         ("bad base64", "!!!!")]:
            check(r.cmd("AUTHENTICATE PLAIN " + arg)[1].split(b" ")[0] in (b"NO", b"BAD"),
                  "AUTHENTICATE PLAIN with %s fails" % why)
        check(not_ok(r.cmd("AUTHENTICATE CRAM-MD5")[1]), "an unknown SASL mechanism fails")

        # Unsafe user names never reach the file system, even when the passwd file has one.
        for name, pw in (("../evil", "evil"), ("../alice", "open sesame"), ("alice/../bob", "hunter2"),
                         ("..", "x"), (".", "x")):
            check(r.cmd('LOGIN "%s" "%s"' % (name, pw))[1].startswith(b"NO"), "LOGIN as %r is refused" % name)
            check(r.cmd("AUTHENTICATE PLAIN " + plain(b"", name.encode(), pw.encode()))[1].startswith(b"NO"),
                  "AUTHENTICATE PLAIN as %r is refused" % name)
        r.close()
        made = {d for d in all_dirs(root.dir) - dirs_before if not d.startswith(("mail/alice", "mail/bob"))}
        check(not made and not os.path.exists(os.path.join(root.dir, "evil")), "no directory outside alice's and bob's: %s" % made)

        # Authenticated: NAMESPACE, LIST.
        r = m.iraw("alice")
        ns = [u for u in r.ok("NAMESPACE") if u.startswith(b"* NAMESPACE")]
        check(ns == [b'* NAMESPACE (("" ".")) NIL NIL'], "NAMESPACE: %r" % ns)
        untagged = r.ok('LIST "" ""')
        v = parse(untagged[0]) if untagged else []
        check(len(untagged) == 1 and v[:2] == ["*", "LIST"] and text(v[3]) == "." and text(v[4]) == "",
              "LIST \"\" \"\" gives the delimiter '.': %r" % untagged)
        boxes = list_boxes(r, "", "*")
        check(set(boxes) == {"INBOX", "Archive", "Archive.2024", "Sent"}, "LIST \"\" \"*\": %s" % sorted(boxes))
        check(all(d == "." for _, d in boxes.values()), "every LIST reply names the delimiter '.'")
        check("\\haschildren" in boxes["Archive"][0] and "\\hasnochildren" not in boxes["Archive"][0],
              "Archive has \\HasChildren: %s" % boxes["Archive"][0])
        check("\\hasnochildren" in boxes["Archive.2024"][0] and "\\hasnochildren" in boxes["Sent"][0],
              "Archive.2024 and Sent have \\HasNoChildren")
        check(set(list_boxes(r, "", "%")) == {"INBOX", "Archive", "Sent"}, "LIST \"\" \"%\" stops at the delimiter")
        check(set(list_boxes(r, "", "Archive.%")) == {"Archive.2024"}, "LIST \"\" \"Archive.%\"")
        check(set(list_boxes(r, "", "inbox")) == {"INBOX"}, "LIST matches 'inbox' case-insensitively as INBOX")

        # SELECT: every reply derived from the store.
        untagged, done = r.cmd("SELECT INBOX")
        c, n = codes(untagged), counts(untagged)
        flag_lines = [parse(u)[2] for u in untagged if u.startswith(b"* FLAGS ")]
        check(done.startswith(b"OK [READ-WRITE]"), "SELECT: tagged OK [READ-WRITE]: %r" % done)
        check(len(flag_lines) == 1 and SYSTEM_FLAGS <= set(flag_lines[0]), "SELECT: * FLAGS lists the system flags")
        check(n.get("EXISTS") == len(SAMPLES), "SELECT: %d EXISTS" % len(SAMPLES))
        check(n.get("RECENT") == len(SAMPLES), "SELECT: %d RECENT (the first session to see them)" % len(SAMPLES))
        check(c.get("UNSEEN") == str(first_unseen), "SELECT: [UNSEEN %d] (the first without S in its name)" % first_unseen)
        with open(os.path.join(root.mail, "alice", "maild-uidlist")) as f:
            head = f.readline().split()
        check(c.get("UIDVALIDITY") == head[0][1:], "SELECT: [UIDVALIDITY] is maild-uidlist's V (%s)" % head[0])
        check(c.get("UIDNEXT") == head[1][1:], "SELECT: [UIDNEXT] is maild-uidlist's N (%s)" % head[1])
        perm = set(c.get("PERMANENTFLAGS", "").strip("()").split())
        check(SYSTEM_FLAGS <= perm, "SELECT: [PERMANENTFLAGS] has the system flags: %s" % sorted(perm))
        all_uids = uids(r)
        check(len(all_uids) == len(SAMPLES) and all_uids == sorted(set(all_uids)) and all_uids[-1] < int(head[1][1:]),
              "UIDs ascend and stay below UIDNEXT: %s" % all_uids)
        f = fetches(r.ok("FETCH 1:* (FLAGS)"))
        names = {n.split(":2,")[0]: n for n in root.files("alice", "cur")}
        check(root.files("alice", "new") == [] and len(names) == len(SAMPLES), "SELECT moved new/ mail to cur/")
        for i, (base, _) in enumerate(SAMPLES, 1):
            got = set(f[i]["FLAGS"])
            check("\\Recent" in got and got - {"\\Recent"} == flags_of(names[base]),
                  "message %d FLAGS %s match its file name %s (plus \\Recent)" % (i, sorted(got), names[base]))
        check(r.cmd("XYZZY 1 2")[1].startswith(b"BAD") and r.cmd("NOOP")[1].startswith(b"OK"),
              "an unknown command gets BAD and the session goes on")
        check(r.cmd("STARTTLS")[1].startswith(b"BAD"), "STARTTLS after login gets BAD")

        # A second session: nothing is \Recent any more; EXAMINE is read-only.
        r2 = m.iraw("alice")
        untagged, done = r2.cmd("EXAMINE INBOX")
        check(done.startswith(b"OK [READ-ONLY]") and counts(untagged) == {"EXISTS": len(SAMPLES), "RECENT": 0},
              "EXAMINE in a second session: [READ-ONLY], RECENT 0: %r" % done)
        f2 = fetches(r2.ok("FETCH 1:* (FLAGS)"))
        check(all("\\Recent" not in f2[i]["FLAGS"] for i in f2), "no message is \\Recent in the second session")
        got = fetches(r2.ok("FETCH %d BODY[]" % first_unseen))[first_unseen].get("BODY[]")
        check(got == crlf(SAMPLES[first_unseen - 1][1]), "EXAMINE: FETCH BODY[] works")
        check(root.files("alice", "cur") == sorted(names.values()), "EXAMINE: FETCH BODY[] set no \\Seen")
        check(r2.cmd("STORE 1 +FLAGS (\\Flagged)")[1].startswith(b"NO"), "EXAMINE: STORE gets NO")
        check(root.files("alice", "cur") == sorted(names.values()), "... and changed nothing")
        r2.cmd("LOGOUT")
        r2.close()
        r.cmd("LOGOUT")
        r.close()

        # python imaplib.
        c = m.imap("alice")
        typ, data = c.select()
        check(typ == "OK" and data == [str(len(SAMPLES)).encode()], "imaplib select() returns the EXISTS count")
        typ, data = c.search(None, "UNSEEN")
        want = [str(i).encode() for i, (base, _) in enumerate(SAMPLES, 1) if base not in seen_bases]
        check(typ == "OK" and data[0].split() == want, "imaplib search UNSEEN: %s" % data)
        typ, data = c.fetch("3", "(BODY.PEEK[])")
        check(typ == "OK" and data[0][1] == crlf(SAMPLES[2][1]), "imaplib fetch 3 BODY.PEEK[] is byte-exact")
        typ, data = c.uid("FETCH", str(all_uids[3]), "(BODY.PEEK[])")
        check(typ == "OK" and data[0][1] == crlf(SAMPLES[3][1]), "imaplib uid fetch of the no-final-newline sample")
        typ, data = c.list()
        check(typ == "OK" and len(data) == 4, "imaplib list()")
        typ, _ = c.logout()
        check(typ == "BYE", "imaplib logout() gets BYE")
        check(m.stop() == 0, "maild exits 0 on SIGTERM")

    # The idle timeout applies to IMAP: an idle session gets * BYE and is closed.
    with Maild(exe, root, imap=True, args=["--idle-timeout", "1"]) as m:
        idle = m.iraw("alice")
        busy = m.iraw("bob")
        t0 = time.monotonic()
        for _ in range(6):
            time.sleep(0.4)
            check(busy.cmd("NOOP")[1].startswith(b"OK"), "an active IMAP session outlives the idle timeout")
        check(idle.at_eof(3) and b"* BYE" in idle.buf, "an idle IMAP session gets * BYE and is closed")
        check(time.monotonic() - t0 < 4.5, "within about the idle timeout")
        m.stop()

    # --max-connections: the connection over the limit gets * BYE.
    with Maild(exe, root, imap=True, args=["--max-connections", "2", "--max-connections-per-address", "0"]) as m:
        a, b = m.iraw(), m.iraw()
        c = ImapRaw(m.imap_port, greet=False)
        first = c.response(timeout=5)
        check(first is not None and first.startswith(b"* BYE"), "the third connection gets * BYE: %r" % first)
        check(c.at_eof(), "and is closed")
        a.close()
        time.sleep(0.2)
        d = m.iraw("alice")
        check(d.cmd("NOOP")[1].startswith(b"OK"), "after one closes, a new connection is served")
        check(m.stop() == 0, "clean exit")
print("PASS")
