"""IMAP ESORT, CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267) and THREAD=REFS, through raw sockets and
python's imaplib, on crafted messages. Exact answers for: SORT RETURN MIN/MAX (the first and last in
sort order), COUNT and ALL (in sort order, ranges only where UIDs rise); PARTIAL for SEARCH and SORT,
positive, reversed, negative (RFC 9394) and beyond the end; the BAD forms. RETURN (UPDATE): ADDTO
on a delivery, REMOVEFROM on another session's flag change and expunge, ADDTO again on this
session's own STORE, in IDLE without a command, the SORT position of each; CANCELUPDATE; BAD on a reused tag; NO [NOUPDATE]
for a non-UID SEARCH and past 16 contexts; contexts gone after SELECT. THREAD=REFS against
REFERENCES: no subject merging, threads by their latest arrival."""
import os
import sys

from maildtest import Maild, Root, check, time_limit

exe = sys.argv[1]
time_limit(60)

H = 3600
T = 1704067200  # 2024-01-01 00:00:00 UTC
# (name, internal date, header lines); UIDs in name order. Arrival order: 3 4 5 1 2 6.
MESSAGES = [
    ("m01", T + 4 * H, ["Subject: Plan", "Date: Mon, 1 Jan 2024 10:00:00 +0000", "Message-ID: <a1@x>"]),
    ("m02", T + 5 * H, ["Subject: Re: Plan", "Date: Mon, 1 Jan 2024 11:00:00 +0000", "Message-ID: <a2@x>",
                        "References: <a1@x>"]),
    ("m03", T + 1 * H, ["Subject: Lunch", "Date: Mon, 1 Jan 2024 09:00:00 +0000", "Message-ID: <b1@x>"]),
    ("m04", T + 2 * H, ["Subject: Re: Lunch", "Date: Mon, 1 Jan 2024 09:30:00 +0000", "Message-ID: <b2@x>",
                        "In-Reply-To: <b1@x>"]),
    # Answers a message this mailbox never had: REFERENCES puts it under "Plan" by its subject.
    ("m05", T + 3 * H, ["Subject: Re: Plan", "Date: Mon, 1 Jan 2024 08:00:00 +0000", "Message-ID: <c2@x>",
                        "References: <gone@x>"]),
    ("m06", T + 6 * H, ["Subject: Re: Lunch", "Date: Mon, 1 Jan 2024 12:00:00 +0000", "Message-ID: <b3@x>",
                        "References: <b1@x> <b2@x>"]),
]


def data(headers):
    return ("\r\n".join(["From: a@example.org"] + headers) + "\r\n\r\nbody\r\n").encode()


def want(got, expected, what):
    check(got == expected, "%s: %r, want %r" % (what, got, expected))


with Root() as root:
    d = root.maildir("alice")

    def deliver(name, mtime, headers):
        # The internal date is set before the file shows in new/: a session in IDLE may move it
        # to cur/ at once.
        tmp = os.path.join(d, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data(headers))
        os.utime(tmp, (mtime, mtime))
        os.rename(tmp, os.path.join(d, "new", name))

    for name, mtime, headers in MESSAGES:
        deliver(name, mtime, headers)
    with Maild(exe, root, imap=True, pop3=False) as m:
        r = m.iraw("alice")
        caps = r.ok("CAPABILITY")[0].split()
        for cap in (b"ESORT", b"CONTEXT=SEARCH", b"CONTEXT=SORT", b"THREAD=REFS"):
            check(cap in caps, "CAPABILITY lists %s" % cap.decode())
        r.ok("SELECT INBOX")

        def esearch(command, tag=None):
            """The one ESEARCH line of `command` (with its tag), after "(TAG ...)"."""
            tag = tag or r.next_tag()
            untagged, done = r.cmd(command, tag=tag)
            check(done.startswith(b"OK"), "%s: %r" % (command, done))
            lines = [u for u in untagged if u.startswith(b"* ESEARCH")]
            check(len(lines) == 1, "%s: one ESEARCH in %r" % (command, untagged))
            head = b'* ESEARCH (TAG "%s")' % tag.encode()
            check(lines[0].startswith(head), "%s: %r" % (command, lines[0]))
            return lines[0][len(head):].decode().strip()

        # ESORT (RFC 5267 3): MIN and MAX are the first and last in sort order, ALL is the sort
        # order with a range only where the numbers rise by one (3.2).
        want(esearch("UID SORT RETURN (MIN MAX COUNT) (ARRIVAL) UTF-8 ALL"), "UID MIN 3 MAX 6 COUNT 6", "ESORT MIN MAX COUNT")
        want(esearch("SORT RETURN (MIN MAX) (REVERSE ARRIVAL) UTF-8 ALL"), "MIN 6 MAX 3", "ESORT MIN MAX, REVERSE")
        want(esearch("UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL"), "UID ALL 3:5,1:2,6", "ESORT ALL")
        want(esearch("UID SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL"), "UID ALL 6,2,1,5,4,3", "ESORT RETURN (), no 6:1")
        want(esearch("SORT RETURN (COUNT) (ARRIVAL) UTF-8 SUBJECT lunch"), "COUNT 3", "ESORT COUNT with keys")
        want(esearch("SORT RETURN (MIN) (ARRIVAL) UTF-8 SUBJECT nothing"), "", "ESORT, nothing found")
        # PARTIAL (4.4): positions in the result (the sort order for SORT), the range echoed as
        # written; negative ranges count from the end (RFC 9394); NIL past the end.
        want(esearch("UID SORT RETURN (PARTIAL 2:4) (ARRIVAL) UTF-8 ALL"), "UID PARTIAL (2:4 4:5,1)", "SORT PARTIAL")
        want(esearch("UID SORT RETURN (PARTIAL -1:-2) (ARRIVAL) UTF-8 ALL"), "UID PARTIAL (-1:-2 2,6)", "SORT PARTIAL negative")
        want(esearch("UID SORT RETURN (PARTIAL 5:10) (ARRIVAL) UTF-8 ALL"), "UID PARTIAL (5:10 2,6)", "SORT PARTIAL past the end")
        want(esearch("UID SORT RETURN (PARTIAL 7:9) (ARRIVAL) UTF-8 ALL"), "UID PARTIAL (7:9 NIL)", "SORT PARTIAL beyond")
        want(esearch("UID SEARCH RETURN (PARTIAL 2:3) ALL"), "UID PARTIAL (2:3 2:3)", "SEARCH PARTIAL")
        want(esearch("SEARCH RETURN (COUNT PARTIAL 4:2) ALL"), "COUNT 6 PARTIAL (4:2 2:4)", "SEARCH PARTIAL reversed")
        want(esearch("SEARCH RETURN (PARTIAL -2:-1) ALL"), "PARTIAL (-2:-1 5:6)", "SEARCH PARTIAL negative")
        want(esearch("SEARCH RETURN (PARTIAL -9:-6) NOT SUBJECT lunch"), "PARTIAL (-9:-6 NIL)", "SEARCH PARTIAL negative beyond")
        want(esearch("SEARCH RETURN (PARTIAL 1:2 MIN) SUBJECT plan"), "MIN 1 PARTIAL (1:2 1:2)", "PARTIAL with MIN")
        for bad in ("SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "SEARCH RETURN (ALL PARTIAL 1:2) ALL",
                    "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "SEARCH RETURN (PARTIAL 0:2) ALL",
                    "SEARCH RETURN (PARTIAL -1:2) ALL", "SEARCH RETURN (PARTIAL 1) ALL",
                    "SEARCH RETURN (PARTIAL 1:*) ALL", "SEARCH RETURN (PARTIAL) ALL",
                    "SORT RETURN (BOGUS) (ARRIVAL) UTF-8 ALL", "SORT (ARRIVAL) RETURN (ALL) UTF-8 ALL",
                    "SORT RETURN (ALL) UTF-8 ALL", "THREAD RETURN (ALL) REFS UTF-8 ALL", "CANCELUPDATE",
                    "CANCELUPDATE a001", "THREAD REF UTF-8 ALL"):
            untagged, done = r.cmd(bad)
            check(done.startswith(b"BAD") and not any(u.startswith(b"* ESEARCH") for u in untagged),
                  "%s: BAD: %r" % (bad, done))

        # THREAD=REFS: REFERENCES without the subject step, threads by their latest arrival.
        def thread(command):
            untagged, done = r.cmd(command)
            check(done.startswith(b"OK"), "%s: %r" % (command, done))
            lines = [u for u in untagged if u.startswith(b"* THREAD")]
            check(len(lines) == 1, "%s: %r" % (command, untagged))
            return lines[0][len(b"* THREAD"):].decode().strip()

        # REFERENCES: 5 joins "Plan" by subject (sent 08:00, before 2); threads by their first
        # sent date (3 at 09:00, 1 at 10:00).
        want(thread("THREAD REFERENCES UTF-8 ALL"), "(3 4 6)(1 (5)(2))", "REFERENCES")
        # REFS: 5 alone; latest arrivals: 5 at 03:00, 2 at 05:00, 6 at 06:00.
        want(thread("THREAD REFS UTF-8 ALL"), "(5)(1 2)(3 4 6)", "REFS")
        want(thread("UID THREAD REFS UTF-8 NOT UID 6"), "(3 4)(5)(1 2)", "UID REFS on a subset")

        # RETURN (UPDATE): live results, UIDs only.
        want(esearch('UID SEARCH RETURN (COUNT UPDATE) UNSEEN', tag="up1"), "UID COUNT 6", "UPDATE's first answer")
        want(esearch('UID SORT RETURN (UPDATE) (ARRIVAL) UTF-8 ALL', tag="up2"), "UID ALL 3:5,1:2,6", "SORT UPDATE's first answer")
        untagged, done = r.cmd("UID SEARCH RETURN (UPDATE) ALL", tag="up2")
        check(done.startswith(b"BAD") and not untagged, "a tag in use: BAD: %r %r" % (untagged, done))

        def updates(untagged):
            return [u.decode() for u in untagged if u.startswith(b"* ESEARCH")]

        # A delivery: 7 arrives at 02:30, third in arrival order.
        deliver("m07", T + 2 * H + 1800, ["Subject: Re: Plan", "Date: Mon, 1 Jan 2024 13:00:00 +0000",
                                          "Message-ID: <a3@x>", "References: <a1@x> <a2@x>"])
        untagged = r.ok("NOOP")
        want(updates(untagged), ['* ESEARCH (TAG "up1") UID ADDTO (0 7)', '* ESEARCH (TAG "up2") UID ADDTO (3 7)'],
             "ADDTO on a delivery")
        exists = [i for i, u in enumerate(untagged) if u == b"* 7 EXISTS"]
        check(exists and exists[0] < untagged.index(b'* ESEARCH (TAG "up1") UID ADDTO (0 7)'),
              "ADDTO after EXISTS: %r" % untagged)

        # Another session sets \Seen on 2: it leaves UNSEEN's result, not the SORT's.
        r2 = m.iraw("alice")
        r2.ok("SELECT INBOX")
        r2.ok("UID STORE 2 +FLAGS (\\Seen)")
        want(updates(r.ok("NOOP")), ['* ESEARCH (TAG "up1") UID REMOVEFROM (0 2)'], "REMOVEFROM on a flag change")
        # This session's own STORE brings it back, before the STORE's OK.
        want(updates(r.ok("UID STORE 2 -FLAGS (\\Seen)")), ['* ESEARCH (TAG "up1") UID ADDTO (0 2)'],
             "ADDTO on this session's STORE")
        want(updates(r.ok("UID STORE 1 +FLAGS (\\Flagged)")), [], "a flag the key does not read")
        # Another session expunges 5: fourth in arrival order (3 4 7 5 1 2 6).
        r2.ok("UID STORE 5 +FLAGS.SILENT (\\Deleted)")
        r2.ok("EXPUNGE")
        untagged = r.ok("NOOP")
        want(updates(untagged), ['* ESEARCH (TAG "up1") UID REMOVEFROM (0 5)', '* ESEARCH (TAG "up2") UID REMOVEFROM (4 5)'],
             "REMOVEFROM on another session's expunge")
        check(b"* 5 EXPUNGE" in untagged, "EXPUNGE too: %r" % untagged)
        want(esearch("UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL"), "UID ALL 3:4,7,1:2,6", "what the updates add up to")

        # CANCELUPDATE ends one; the other goes on. 8 arrives last and answers 2.
        r.ok('CANCELUPDATE "up1"')
        deliver("m08", T + 7 * H, ["Subject: Re: Plan", "Date: Mon, 1 Jan 2024 14:00:00 +0000",
                                   "Message-ID: <a4@x>", "References: <a1@x> <a2@x>"])
        want(updates(r.ok("NOOP")), ['* ESEARCH (TAG "up2") UID ADDTO (7 8)'], "after CANCELUPDATE")
        # REFS: the thread 8 joined is now the latest.
        want(thread("UID THREAD REFS UTF-8 ALL"), "(3 4 6)(1 2 (7)(8))", "REFS after a delivery")

        # Refused updates: the search still answers, with NO [NOUPDATE "tag"] first.
        untagged, done = r.cmd("SEARCH RETURN (UPDATE COUNT) ALL", tag="sq1")
        want((untagged[0].split(b"]")[0], untagged[1:], done[:2]),
             (b'* NO [NOUPDATE "sq1"', [b'* ESEARCH (TAG "sq1") COUNT 7'], b"OK"), "UPDATE without UID")
        for k in range(15):  # up2 and 15 more make the 16 a session may have
            want(esearch("UID SEARCH RETURN (UPDATE COUNT) UID %d" % (k + 100), tag="c%02d" % k),
                 "UID COUNT 0", "context %d" % k)
        untagged, done = r.cmd("UID SEARCH RETURN (UPDATE MIN) ALL", tag="c99")
        want((untagged[0].split(b"]")[0], untagged[1:], done[:2]),
             (b'* NO [NOUPDATE "c99"', [b'* ESEARCH (TAG "c99") UID MIN 1'], b"OK"), "the 17th context")
        r.ok('CANCELUPDATE "c03" "c04"')
        want(esearch("UID SEARCH RETURN (UPDATE COUNT) UID 9", tag="c98"), "UID COUNT 0", "room again after CANCELUPDATE")
        # UID 9 is in c98's key: it joins that result alone.
        deliver("m09", T + 8 * H, ["Subject: nine"])
        want(updates(r.ok("NOOP")), ['* ESEARCH (TAG "up2") UID ADDTO (8 9)', '* ESEARCH (TAG "c98") UID ADDTO (0 9)'],
             "each context its own")

        # In IDLE the update comes as the mailbox changes, without a command (RFC 5267 4.3.2).
        r.send("idl IDLE\r\n")
        check(r.response().startswith(b"+"), "IDLE continuation")
        deliver("m10", T + 8 * H + 1800, ["Subject: ten"])
        got = []
        while not got:
            line = r.response(timeout=20)
            check(line is not None, "an update in IDLE within 20 s")
            got = updates([line])
        want(got, ['* ESEARCH (TAG "up2") UID ADDTO (9 10)'], "ADDTO in IDLE")
        r.send("DONE\r\n")
        untagged, done = r.until("idl")
        check(done.startswith(b"OK") and not updates(untagged), "IDLE ends: %r %r" % (untagged, done))

        # SELECT ends every context.
        r.ok("SELECT INBOX")
        deliver("m11", T + 9 * H, ["Subject: eleven"])
        want(updates(r.ok("NOOP")), [], "no updates after SELECT")
        untagged, done = r.cmd("UID SEARCH RETURN (UPDATE) ALL", tag="up2")
        want((untagged, done[:2]), ([b'* ESEARCH (TAG "up2") UID ALL 1:4,6:11'], b"OK"), "a tag free again after SELECT")
        r2.ok("LOGOUT")

        # python's imaplib: ESORT's answer is an ESEARCH response.
        c = m.imap("alice")
        c.select("INBOX")
        typ, dat = c._simple_command("UID", "SORT", "RETURN (MIN MAX COUNT)", "(REVERSE ARRIVAL)", "UTF-8", "ALL")
        want(typ, "OK", "imaplib UID SORT RETURN")
        got = c._untagged_response(typ, dat, "ESEARCH")[1]
        check(len(got) == 1 and got[0].endswith(b"UID MIN 11 MAX 3 COUNT 10"), "imaplib ESORT: %r" % got)
        typ, dat = c._simple_command("SEARCH", "RETURN (PARTIAL -1:-3)", "ALL")
        got = c._untagged_response(typ, dat, "ESEARCH")[1]
        check(len(got) == 1 and got[0].endswith(b"PARTIAL (-1:-3 8:10)"), "imaplib PARTIAL: %r" % got)
        c.logout()
        r.ok("LOGOUT")
