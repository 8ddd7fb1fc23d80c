"""IMAP SORT (RFC 5256), SORT=DISPLAY (RFC 5957), THREAD=ORDEREDSUBJECT and THREAD=REFERENCES
through raw sockets and python's imaplib, on crafted messages: subjects with Re:, Fwd:, [list]
and encoded words; From/To/Cc with display names, groups and none; Dates in several zones and one
missing; References and In-Reply-To chains with a missing parent. Exact answers for each sort key,
REVERSE, two keys, a search key narrowing the set, UID SORT, DISPLAYFROM/DISPLAYTO; both
algorithms and UID THREAD; NO [BADCHARSET] and BAD forms; a message delivered between two SORTs
is sorted in and an expunged one is gone (the header cache follows the mailbox)."""
import os
import sys

from maildtest import Maild, Root, check, mailbox_dir, time_limit

exe = sys.argv[1]
time_limit(60)

# (name, mtime = internal date, header lines); files in new/ get UIDs in name order.
T = 1704067200  # 2024-01-01 00:00:00 UTC
MESSAGES = [
    ("m01", T + 5 * 3600, [
        'From: "Aaron Zed" <zed@example.org>',
        "To: bob@b.example",
        "Subject: Re: Project plan",
        "Date: Mon, 1 Jan 2024 10:00:00 +0000",
        "Message-ID: <p2@x>",
        "References: <p1@x>"]),
    ("m02", T + 3 * 3600, [
        "From: alice@a.example",
        'To: "Carol" <carol@c.example>',
        "Cc: dave@d.example",
        "Subject: Project plan",
        "Date: Mon, 1 Jan 2024 09:00:00 +0000",
        "Message-ID: <p1@x>"]),
    ("m03", T + 1 * 3600, [
        "From: =?ISO-8859-1?Q?Bob_Smith?= <bsmith@b.example>",
        "To: team: ann@g.example, carol@c.example;",
        "Cc: \"Eve\" <eve@e.example>",
        "Subject: [list] Fwd: =?UTF-8?Q?budget?=",
        "Date: Mon, 1 Jan 2024 12:00:00 +0200",
        "Message-ID: <b1@x>"]),
    ("m04", T + 8 * 3600, [
        "From: team: \"Ann\" <ann@g.example>;",
        "To: undisclosed-recipients:;",
        "Subject: Re: Re: project PLAN",
        "Message-ID: <p3@x>",
        "In-Reply-To: <p2@x>"]),
    ("m05", T + 2 * 3600, [
        'From: "Bob" <Bob@b.example>',
        "To: Carol <carol@c.example>",
        "Subject: Budget",
        "Date: Mon, 1 Jan 2024 06:00:00 -0500",
        "Message-ID: <b2@x>",
        "References: <b1@x>"]),
    ("m06", T + 4 * 3600, [
        "From: Yan <yan@y.example>",
        'To: "Aardvark" <dave@d.example>',
        "Subject: Lunch",
        "Date: Mon, 1 Jan 2024 10:30:00 +0000",
        "Message-ID: <l2@x>",
        "References: <gone@x> <l1@x>"]),
    ("m07", T + 7 * 3600, [
        "From: Xavier <xavier@x.example>",
        "To: bob@b.example",
        "Subject: Re: Lunch",
        "Date: Mon, 1 Jan 2024 10:15:00 +0000",
        "Message-ID: <l3@x>",
        "References: <gone@x> <l1@x>"]),
]


def data(headers, body_len):
    return ("\r\n".join(headers) + "\r\n\r\n" + "x" * body_len + "\r\n").encode()


with Root() as root:
    d = root.maildir("alice")
    for i, (name, mtime, headers) in enumerate(MESSAGES):
        # Sizes differ by message, not in sequence order.
        root.deliver("alice", name, data(headers, [300, 50, 700, 10, 400, 20, 600][i]))
        os.utime(os.path.join(d, "new", name), (mtime, mtime))
    with Maild(exe, root, imap=True, pop3=False) as m:
        r = m.iraw("alice")
        caps = r.ok("CAPABILITY")[0].split()
        for cap in (b"SORT", b"SORT=DISPLAY", b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES"):
            check(cap in caps, "CAPABILITY lists %s" % cap.decode())
        r.ok("SELECT INBOX")

        def answer(command, prefix):
            untagged, done = r.cmd(command)
            check(done.startswith(b"OK"), "%s: %r" % (command, done))
            lines = [u for u in untagged if u == prefix or u.startswith(prefix + b" ")]
            check(len(lines) == 1, "%s: one %r response in %r" % (command, prefix, untagged))
            return lines[0][len(prefix):].strip().decode()

        def sort(command):
            got = answer(command, b"* SORT")
            return [int(x) for x in got.split()]

        def thread(command):
            return answer(command, b"* THREAD")

        def want(got, expected, what):
            check(got == expected, "%s: %r, want %r" % (what, got, expected))

        # Sequence number = UID = name order here. Sent times (UTC): 4 08:00 (no Date: its
        # internal date), 2 09:00, 1 10:00, 3 10:00 (12:00 +0200), 7 10:15, 6 10:30, 5 11:00
        # (06:00 -0500). Ties go to the lower sequence number, also under REVERSE.
        want(sort("SORT (ARRIVAL) UTF-8 ALL"), [3, 5, 2, 6, 1, 7, 4], "ARRIVAL (internal date)")
        want(sort("SORT (DATE) UTF-8 ALL"), [4, 2, 1, 3, 7, 6, 5], "DATE (zones applied, a missing Date)")
        want(sort("SORT (REVERSE DATE) UTF-8 ALL"), [5, 6, 7, 1, 3, 2, 4], "REVERSE DATE (tie stays in order)")
        # Base subjects: BUDGET (3 "[list] Fwd: =?UTF-8?Q?budget?=", 5), LUNCH (6, 7 "Re:"),
        # PROJECT PLAN (1 "Re:", 2, 4 "Re: Re:").
        want(sort("SORT (SUBJECT) UTF-8 ALL"), [3, 5, 6, 7, 1, 2, 4], "SUBJECT (base subject)")
        want(sort("sort (subject reverse date) us-ascii all"), [5, 3, 6, 7, 1, 2, 4], "SUBJECT REVERSE DATE")
        # First mailbox local part: alice 2, ann 4 (in a group), BOB 5, bsmith 3, xavier 7, yan 6, zed 1.
        want(sort("SORT (FROM) UTF-8 ALL"), [2, 4, 5, 3, 7, 6, 1], "FROM")
        # "" 4 (an empty group), ann 3 (a group's first), bob 1 7, carol 2 5, dave 6.
        want(sort("SORT (TO) UTF-8 ALL"), [4, 3, 1, 7, 2, 5, 6], "TO")
        want(sort("SORT (CC) UTF-8 ALL"), [1, 4, 5, 6, 7, 2, 3], "CC (none first)")
        want(sort("SORT (SIZE) UTF-8 ALL"), [4, 6, 2, 1, 5, 7, 3], "SIZE")
        # RFC 5957: display names, encoded words decoded ("Bob Smith"), else the address:
        # AARON ZED 1, ALICE@A.EXAMPLE 2, ANN 4, BOB 5, BOB SMITH 3, XAVIER 7, YAN 6.
        want(sort("SORT (DISPLAYFROM) UTF-8 ALL"), [1, 2, 4, 5, 3, 7, 6], "DISPLAYFROM")
        # "" 4, AARDVARK 6, ANN@G.EXAMPLE 3, BOB@B.EXAMPLE 1 7, CAROL 2 5.
        want(sort("SORT (DISPLAYTO) UTF-8 ALL"), [4, 6, 3, 1, 7, 2, 5], "DISPLAYTO")
        want(sort("SORT (SUBJECT) UTF-8 FROM bob"), [3, 5], "a search key narrows the set")
        want(sort("SORT (REVERSE SIZE) UTF-8 NOT SUBJECT budget 1:6"), [1, 2, 6, 4], "several search keys")

        # ORDEREDSUBJECT: by base subject, each thread by sent date, its first the parent.
        want(thread("THREAD ORDEREDSUBJECT UTF-8 ALL"), "(4 (2)(1))(3 5)(7 6)", "ORDEREDSUBJECT")
        # REFERENCES: 2 <- 1 <- 4 (In-Reply-To), 3 <- 5; 6 and 7 both answer the missing <l1@x>
        # (itself under the missing <gone@x>): a dummy root holding both, earlier sent first.
        want(thread("THREAD REFERENCES UTF-8 ALL"), "(2 1 4)(3 5)((7)(6))", "REFERENCES")
        want(thread("THREAD REFERENCES UTF-8 SUBJECT lunch"), "((7)(6))", "REFERENCES on a subset")

        # Refusals.
        for bad in ("SORT (DATE) ISO-8859-1 ALL", "THREAD REFERENCES KOI8-R ALL"):
            untagged, done = r.cmd(bad)
            want(done.split(b"]")[0] + b"]", b"NO [BADCHARSET (UTF-8 US-ASCII)]", bad)
        for bad in ("SORT () UTF-8 ALL", "SORT (BOGUS) UTF-8 ALL", "SORT (REVERSE) UTF-8 ALL",
                    "SORT (REVERSE REVERSE DATE) UTF-8 ALL", "SORT DATE UTF-8 ALL", "SORT (DATE) UTF-8",
                    "SORT (DATE) ALL", "SORT (DATE)  UTF-8 ALL", "SORT (DATE) UTF-8 RETURN (ALL) ALL",
                    "SORT (DATE) UTF-8 CHARSET UTF-8 ALL", "SORT (DATE) UTF-8 BOGUS", "SORT (DATE UTF-8 ALL",
                    "THREAD BOGUS UTF-8 ALL", "THREAD (REFERENCES) UTF-8 ALL", "THREAD REFERENCES UTF-8",
                    "THREAD", "UID THREAD REF UTF-8 ALL"):
            untagged, done = r.cmd(bad)
            check(done.startswith(b"BAD") and not any(u.startswith((b"* SORT", b"* THREAD")) for u in untagged),
                  "%s: BAD: %r" % (bad, done))
        r.ok("NOOP")

        # python's imaplib (it checks CAPABILITY for SORT and THREAD itself).
        c = m.imap("alice")
        c.select("INBOX")
        typ, got = c.sort("(DATE)", "UTF-8", "ALL")
        want((typ, got), ("OK", [b"4 2 1 3 7 6 5"]), "imaplib sort")
        typ, got = c.sort("(REVERSE ARRIVAL)", "US-ASCII", "UNSEEN", "SMALLER", "500")
        want((typ, got), ("OK", [b"4 1 6 2"]), "imaplib sort with search keys")  # 3 5 7 are larger
        typ, got = c.thread("ORDEREDSUBJECT", "UTF-8", "ALL")
        want((typ, got), ("OK", [b"(4 (2)(1))(3 5)(7 6)"]), "imaplib thread")
        typ, got = c.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")
        want((typ, got), ("OK", [b"3 5 6 7 1 2 4"]), "imaplib UID SORT")

        # A message delivered between two SORTs is sorted in; an expunged one leaves, and the
        # UID forms then answer UIDs, not sequence numbers.
        root.deliver("alice", "m08", data(["From: aa@a.example", "Subject: Re: [list] Aardvarks",
                                           "Date: Sun, 31 Dec 2023 23:00:00 -0100",
                                           "Message-ID: <a1@x>", "References: <b2@x>"], 5))
        r.ok("NOOP")
        want(sort("SORT (SUBJECT) UTF-8 ALL"), [8, 3, 5, 6, 7, 1, 2, 4], "a new message sorted in")
        want(sort("SORT (DATE) UTF-8 ALL"), [8, 4, 2, 1, 3, 7, 6, 5], "its date (00:00 UTC)")
        r.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        r.ok("EXPUNGE")
        # Sequence numbers now: 1 2 | 3=uid4 4=uid5 5=uid6 6=uid7 7=uid8.
        want(sort("SORT (SUBJECT) UTF-8 ALL"), [7, 4, 5, 6, 1, 2, 3], "after an expunge: sequence numbers")
        want(sort("UID SORT (SUBJECT) UTF-8 ALL"), [8, 5, 6, 7, 1, 2, 4], "UID SORT")
        want(sort("UID SORT (REVERSE SUBJECT) UTF-8 UID 5:*"), [6, 7, 5, 8], "UID SORT, UID key")
        # Its parent expunged, 5 starts a thread (sent 11:00, so now the last); 8 answers 5.
        want(thread("UID THREAD REFERENCES UTF-8 ALL"), "(2 1 4)((7)(6))(5 8)", "UID THREAD")
        want(thread("THREAD REFERENCES UTF-8 ALL"), "(2 1 3)((6)(5))(4 7)", "THREAD after an expunge")
        c.logout()
        r.ok("LOGOUT")
