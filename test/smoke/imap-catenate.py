"""IMAP CATENATE (RFC 4469) through raw sockets and python's imaplib: CAPABILITY lists CATENATE;
TEXT + URL + TEXT assembles byte-exact (URL parts with CRLF line ends, as FETCH gives them);
;SECTION= (a MIME part, HEADER, TEXT, HEADER.FIELDS) and ;PARTIAL= give what FETCH BODY[...]<>
gives; absolute, absolute-path and ";UID=" URLs, another mailbox of the user (also a UTF-8 name),
a URL sent as a literal, LITERAL+ and literal8 TEXT, a command of URLs only; MULTIAPPEND mixing
CATENATE and plain messages gets one [APPENDUID]. Every failure leaves the target mailbox as it
was and tmp/ empty: NO [BADURL url] for another user, a wrong UIDVALIDITY, a missing UID, mailbox
or section, URLAUTH, a relative URL with nothing selected, a message another session expunged
(held for this one); NO [TOOBIG] past --append-limit; NO [LIMIT] past 256 parts; BAD for
malformed CATENATE syntax."""
import os
import sys
import time

from maildtest import (USERS, Lit, Maild, Root, check, crlf, fetches, mailbox_dir, resp_code, snapshot,
                       time_limit)

exe = sys.argv[1]
time_limit(80)

LIMIT = 3000

MULTI = (b"From: a@example.org\r\nTo: alice@example.org\r\nSubject: parts\r\nMessage-ID: <parts@test>\r\n"
         b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n"
         b"--XX\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n"
         b"--XX\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         b"second part, line one\r\nline two\r\n--XX--\r\n")
LF = b"From: b@example.org\nSubject: lf on disk\n\nbody line one\nbody line two\n"
BIG = b"Subject: big\r\n\r\n" + b"y" * 1800 + b"\r\n"


def unchanged(d, before, what):
    deadline = time.monotonic() + 5
    while os.listdir(os.path.join(d, "tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)
    check(not os.listdir(os.path.join(d, "tmp")), "%s: tmp/ is empty" % what)
    after = snapshot(d)
    check(after == before, "%s: the mailbox is as it was (%s)" %
          (what, [k for k in set(before) | set(after) if before.get(k) != after.get(k)]))


def body_of(r, box, uid, section="", partial=""):
    """BODY.PEEK[section]<partial> of `uid` in `box`, as FETCH gives it (selects `box`)."""
    r.ok("SELECT " + box)
    f = fetches(r.ok("UID FETCH %d BODY.PEEK[%s]%s" % (uid, section, partial)))
    (items,) = f.values()
    for k, v in items.items():
        if k.startswith("BODY["):
            return v
    raise AssertionError("no BODY in %r" % items)


def appended(done):
    code = resp_code(done, "APPENDUID")
    check(done.startswith(b"OK") and code is not None, "OK with APPENDUID: %r" % done)
    v, uids = code.split()
    out = []
    for part in uids.split(","):
        a, _, b = part.partition(":")
        out.extend(range(int(a), int(b or a) + 1))
    return int(v), out


with Root() as root:
    root.write_passwd(USERS)
    root.deliver("alice", "1700000001.M1P1.test", MULTI, "cur", ":2,")
    root.deliver("alice", "1700000002.M2P2.test", LF, "cur", ":2,")
    root.deliver("alice", "1700000003.M3P3.test", BIG, "cur", ":2,")
    root.deliver("bob", "1700000009.M9P9.test", LF, "cur", ":2,")
    out_dir = mailbox_dir(root, "alice", "Out")
    with Maild(exe, root, imap=True, args=["--append-limit", str(LIMIT)]) as m:
        r = m.iraw("alice")
        caps = r.ok("CAPABILITY")
        check(any(b" CATENATE" in c for c in caps), "CAPABILITY lists CATENATE: %r" % caps)
        r.ok("CREATE Out")
        r.ok("CREATE Work")
        r.ok("CREATE Entw&APw-rfe")
        sel = r.ok("SELECT INBOX")
        validity = int(next(s for s in sel if b"UIDVALIDITY" in s).split(b"UIDVALIDITY ")[1].split(b"]")[0])
        inbox = "/INBOX;UIDVALIDITY=%d" % validity
        r.ok("UID FETCH 1:* FLAGS")

        # TEXT + URL + TEXT: the URL's message with CRLF line ends, between the two literals.
        t1, t2 = b"X-Prefix: yes\r\n", b"\r\n-- appended text\r\n"
        _, done = r.cmd("APPEND Out CATENATE (TEXT ", Lit(t1), " URL \"%s/;UID=2\" TEXT " % inbox, Lit(t2), ")")
        out_validity, (u,) = appended(done)
        check(body_of(r, "Out", u) == t1 + crlf(LF) + t2, "TEXT + URL + TEXT is byte-exact")
        files = os.listdir(os.path.join(out_dir, "cur"))
        check(len(files) == 1 and open(os.path.join(out_dir, "cur", files[0]), "rb").read() == t1 + crlf(LF) + t2,
              "the stored file holds exactly those bytes")

        # Sections and partial ranges: what FETCH BODY[...] gives.
        cases = [("2", ""), ("HEADER", ""), ("TEXT", ""), ("1.MIME", ""),
                 ("HEADER.FIELDS%20(SUBJECT%20TO)", ""), ("", "10.25"), ("TEXT", "5"), ("2", "3.4")]
        for section, partial in cases:
            fsec = section.replace("%20", " ")
            want = body_of(r, "INBOX", 1, fsec)
            if partial:
                o, _, l = partial.partition(".")
                want = want[int(o):int(o) + int(l)] if l else want[int(o):]
            url = "%s/;UID=1" % inbox + ("/;SECTION=" + section if section else "") + \
                  ("/;PARTIAL=" + partial if partial else "")
            _, done = r.cmd("APPEND Out CATENATE (TEXT ", Lit(b"<"), " URL \"%s\" TEXT " % url, Lit(b">"), ")")
            _, (u,) = appended(done)
            check(body_of(r, "Out", u) == b"<" + want + b">", "URL %s gives BODY[%s]%s" % (url, fsec, partial))

        # The URL forms: absolute, relative to the selected mailbox, another mailbox, a UTF-8 name.
        r.ok("SELECT INBOX")
        for url in ("imap://alice@127.0.0.1/INBOX;UIDVALIDITY=%d/;UID=2" % validity,
                    "IMAP://alice;AUTH=*@localhost:143/inbox/;uid=2", ";UID=2", "/INBOX/;UID=2"):
            _, done = r.cmd("APPEND Out CATENATE (URL \"%s\")" % url)
            _, (u,) = appended(done)
            check(body_of(r, "Out", u) == crlf(LF), "URL %s names the message" % url)
            r.ok("SELECT INBOX")
        w = b"Subject: in work\r\n\r\nwork body\r\n"
        _, done = r.cmd("APPEND Work ", Lit(w))
        wv, (wu,) = appended(done)
        _, done = r.cmd("APPEND Entw&APw-rfe ", Lit(w + b"umlaut\r\n"))
        ev, (eu,) = appended(done)
        _, done = r.cmd("APPEND Out CATENATE (URL \"/Work;UIDVALIDITY=%d/;UID=%d\" URL " % (wv, wu),
                        Lit(b"/Entw%C3%BCrfe;UIDVALIDITY=" + str(ev).encode() + b"/;UID=" + str(eu).encode()),
                        " TEXT ", Lit(b"tail\r\n", plus=True), " TEXT ~", Lit(b"nul\x00byte\r\n"), ")")
        _, (u,) = appended(done)
        check(body_of(r, "Out", u) == w + w + b"umlaut\r\n" + b"tail\r\nnul\x00byte\r\n",
              "another mailbox, a UTF-8 name (URL as a literal), LITERAL+ and literal8 TEXT")

        # imaplib, through its generic command path: a CATENATE of URLs only.
        c = m.imap("alice")
        typ, data = c._simple_command("APPEND", "Out", "CATENATE (URL \"%s/;UID=2\" URL \"%s/;UID=2\")" % (inbox, inbox))
        check(typ == "OK" and b"[APPENDUID %d " % out_validity in data[-1], "imaplib: OK with APPENDUID %r" % data)
        c.logout()

        # MULTIAPPEND: CATENATE, a plain message, CATENATE again; one APPENDUID for all three.
        plain = b"Subject: plain\r\n\r\nplain\r\n"
        _, done = r.cmd("APPEND Out (\\Seen) CATENATE (URL \"%s/;UID=2\" TEXT " % inbox, Lit(b"end\r\n"),
                        ") (\\Flagged) ", Lit(plain), " \"15-Mar-2024 12:00:00 +0000\" CATENATE (TEXT ",
                        Lit(b"A\r\n", plus=True), " URL \"%s/;UID=1/;SECTION=1\")" % inbox)
        _, us = appended(done)
        check(len(us) == 3 and us == list(range(us[0], us[0] + 3)), "three consecutive UIDs: %r" % us)
        want = [crlf(LF) + b"end\r\n", plain, b"A\r\n" + b"first part"]
        check([body_of(r, "Out", x) for x in us] == want, "MULTIAPPEND with CATENATE: each message exact")
        f = fetches(r.ok("UID FETCH %d:%d (FLAGS INTERNALDATE)" % (us[0], us[2])))
        got = sorted((int(v["UID"]) if "UID" in v else 0, v["FLAGS"], v["INTERNALDATE"]) for v in f.values())
        check("\\Seen" in got[0][1] and "\\Flagged" in got[1][1] and got[2][2] == b"15-Mar-2024 12:00:00 +0000",
              "flags and date of each message: %r" % got)

        # Failures: nothing appended, the mailbox byte-identical, tmp/ empty.
        r.ok("SELECT INBOX")
        before = snapshot(out_dir)
        bad = [
            ("imap://bob@127.0.0.1/INBOX/;UID=1", "another user"),
            ("/INBOX;UIDVALIDITY=%d/;UID=1" % (validity + 1), "a wrong UIDVALIDITY"),
            ("%s/;UID=99" % inbox, "a missing UID"),
            ("/Nonesuch/;UID=1", "a missing mailbox"),
            ("%s/;UID=1/;SECTION=7" % inbox, "a missing section"),
            ("%s/;UID=1;URLAUTH=anonymous:internal:0123456789abcdef0123456789abcdef" % inbox, "URLAUTH"),
            ("%s/;UID=1;EXPIRE=2030-01-01T00:00:00Z" % inbox, "EXPIRE"),
            ("/INBOX", "no UID"),
            ("imap://other.example/../bob/;UID=1", "no user (anonymous)"),
            ("http://example.org/", "another scheme"),
        ]
        for url, what in bad:
            # The bad URL after a streamed TEXT and a complete first message: all of it goes.
            _, done = r.cmd("APPEND Out CATENATE (TEXT ", Lit(b"x" * 100), ") CATENATE (TEXT ", Lit(b"head\r\n"),
                            " URL \"%s\" TEXT " % url, Lit(b"never\r\n"), ")")
            check(done.startswith(b"NO [BADURL %s]" % url.encode()), "%s: NO [BADURL]: %r" % (what, done))
            unchanged(out_dir, before, what)
            r.ok("NOOP")

        # A relative URL with nothing selected; a message another session expunged (held here).
        r2 = m.iraw("alice")
        _, done = r2.cmd("APPEND Out CATENATE (URL \";UID=1\")")
        check(done.startswith(b"NO [BADURL ;UID=1]"), "nothing selected: %r" % done)
        unchanged(out_dir, before, "nothing selected")
        r.ok("SELECT Work")
        r2.ok("SELECT Work")
        r2.ok("UID STORE %d +FLAGS (\\Deleted)" % wu)
        r2.ok("EXPUNGE")
        check(fetches(r.ok("UID FETCH %d BODY.PEEK[]" % wu)), "the first session still reads the held message")
        _, done = r.cmd("APPEND Out CATENATE (URL \";UID=%d\")" % wu)
        check(done.startswith(b"NO [BADURL"), "an expunged (held) message: %r" % done)
        unchanged(out_dir, before, "expunged message")
        r2.close()

        # TOOBIG: the parts together over --append-limit, by URL or by a TEXT literal.
        big_url = "\"%s/;UID=3\"" % inbox
        _, done = r.cmd("APPEND Out CATENATE (URL %s URL %s)" % (big_url, big_url))
        check(done.startswith(b"NO [TOOBIG]"), "two URLs past the limit: %r" % done)
        unchanged(out_dir, before, "TOOBIG by URL")
        untagged, done = r.cmd("APPEND Out CATENATE (URL %s TEXT " % big_url, Lit(b"z" * 1500), ")")
        check(done.startswith(b"NO [TOOBIG]") and not any(u.startswith(b"+") for u in untagged),
              "a TEXT literal past the limit: NO before '+': %r" % done)
        unchanged(out_dir, before, "TOOBIG by TEXT")
        _, done = r.cmd("APPEND Out CATENATE (URL %s TEXT " % big_url, Lit(b"z" * 1500, plus=True), ")")
        check(done.startswith(b"NO [TOOBIG]"), "a LITERAL+ TEXT past the limit: %r" % done)
        unchanged(out_dir, before, "TOOBIG by LITERAL+ TEXT")
        r.ok("NOOP")

        # At most 256 parts.
        parts = " ".join("URL \"%s/;UID=2/;PARTIAL=0.1\"" % inbox for _ in range(257))
        _, done = r.cmd("APPEND Out CATENATE (%s)" % parts)
        check(done.startswith(b"NO [LIMIT]"), "257 parts: %r" % done)
        unchanged(out_dir, before, "257 parts")
        parts = " ".join("URL \"%s/;UID=2/;PARTIAL=0.1\"" % inbox for _ in range(256))
        _, done = r.cmd("APPEND Out CATENATE (%s)" % parts)
        _, (u,) = appended(done)
        check(body_of(r, "Out", u) == b"F" * 256, "256 parts are fine")
        r.ok("SELECT INBOX")
        before = snapshot(out_dir)

        # Malformed: BAD, nothing appended.
        for pieces, what in [(("APPEND Out CATENATE ()",), "an empty list"),
                             (("APPEND Out CATENATE (URL)",), "URL without its argument"),
                             (("APPEND Out CATENATE (FOO \"x\")",), "an unknown part"),
                             (("APPEND Out CATENATE (TEXT ", Lit(b"abc"), ""), "an unterminated list"),
                             (("APPEND Out CATENATE (TEXT ", Lit(b"abc"), ") junk"), "text after the list"),
                             (("APPEND Out CATENATE (TEXT ", Lit(b"abc"), " URL ~", Lit(b"/INBOX/;UID=1"), ")"),
                              "a literal8 URL")]:
            _, done = r.cmd(*pieces)
            check(done.startswith(b"BAD"), "%s: BAD: %r" % (what, done))
            unchanged(out_dir, before, what)
        r.ok("NOOP")
        r.ok("LOGOUT")
