"""IMAP SEARCH: the keys clients send (fetchmail's UNSEEN UNDELETED, curl's UNSEEN) and the common
RFC 3501 ones, each result derived from the sample messages and their flags; UID SEARCH answers UIDs;
a bad key gets BAD; repeated header fields and address keys (comments, white space around '@')."""
import sys

from maildtest import SAMPLES, Lit, Maild, Root, check, crlf, flags_of, search_result, time_limit, uids

exe = sys.argv[1]
time_limit(40)

with Root() as root:
    root.deliver_samples("alice")
    seen = {n.split(":2,")[0] for n in root.files("alice", "cur") if "\\Seen" in flags_of(n)}
    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        r.ok("SELECT INBOX")
        ids = uids(r)
        n = len(SAMPLES)
        r.ok("STORE 3 +FLAGS.SILENT (\\Flagged)")
        r.ok("STORE 4 +FLAGS.SILENT (\\Deleted)")
        flagged, deleted = {3}, {4}
        unseen = {i for i, (b, _) in enumerate(SAMPLES, 1) if b not in seen}

        def has(i, needle, part="all"):
            data = crlf(SAMPLES[i - 1][1])
            head, _, body = data.partition(b"\r\n\r\n")
            hay = {"all": data, "body": body, "head": head}[part]
            return needle.lower() in hay.lower()

        everything = set(range(1, n + 1))
        size = {i: len(crlf(d)) for i, (_, d) in enumerate(SAMPLES, 1)}
        mid_size = sorted(size.values())[n // 2]
        cases = [
            ("ALL", everything),
            ("UNSEEN", unseen),
            ("SEEN", everything - unseen),
            ("UNSEEN UNDELETED", unseen - deleted),
            ("FLAGGED", flagged),
            ("UNFLAGGED", everything - flagged),
            ("DELETED", deleted),
            ("NOT DELETED", everything - deleted),
            ("OR FLAGGED DELETED", flagged | deleted),
            ("2:3", {2, 3}),
            ("UID %d:%d" % (ids[1], ids[2]), {2, 3}),
            ('SUBJECT "no final"', {i for i in everything if has(i, b"Subject: no final")}),
            ('FROM "c@example.org"', {i for i in everything if has(i, b"From: c@example.org")}),
            ('HEADER Message-ID "<lf@test>"', {i for i in everything if has(i, b"<lf@test>", "head")}),
            ('BODY "leading dot"', {i for i in everything if has(i, b"leading dot", "body")}),
            ('TEXT "example.org"', {i for i in everything if has(i, b"example.org")}),
            ("LARGER %d" % mid_size, {i for i in everything if size[i] > mid_size}),
            ("SMALLER %d" % mid_size, {i for i in everything if size[i] < mid_size}),
            ("NEW", unseen),  # RECENT UNSEEN: this session is the first to select them
        ]
        for key, want in cases:
            got = search_result(r.ok("SEARCH " + key))
            check(got == sorted(want), "SEARCH %s -> %s (got %s)" % (key, sorted(want), got))
        got = search_result(r.ok("UID SEARCH UNSEEN"))
        check(got == [ids[i - 1] for i in sorted(unseen)], "UID SEARCH UNSEEN answers UIDs")
        got = search_result(r.ok("UID SEARCH UID %d:*" % (ids[-1] + 1)))
        check(got == [ids[-1]], "UID SEARCH UID <above max>:* matches the last message (RFC 3501 n:*)")
        check(r.cmd("SEARCH BOGUSKEY")[1].startswith(b"BAD"), "an unknown search key gets BAD")
        check(r.cmd("SEARCH CHARSET UTF-8 ALL")[1].startswith(b"OK"), "SEARCH CHARSET UTF-8 is accepted")

        # Every instance of a repeated field is searched, and address keys see addresses as
        # RFC 5322 reads them: comments and the white space around '@' are not part of them.
        odd = (b"From: Someone <user-from (comment)@ (comment) domain.org>\r\n"
               b"To: group2: (nobody) ;\r\nX-Tag: first\r\nX-Tag: second\r\nSubject: odd\r\n\r\nbody\r\n")
        r.ok("APPEND INBOX ", Lit(odd))
        r.ok("NOOP")
        odd_seq = n + 1
        for key, want in [("HEADER X-Tag second", [odd_seq]), ("HEADER X-Tag first", [odd_seq]),
                          ("FROM user-from@domain.org", [odd_seq]), ('FROM "Someone <user-from@domain.org>"', [odd_seq]),
                          ("FROM nosuch@domain.org", [])]:
            got = search_result(r.ok("SEARCH " + key))
            check(got == want, "SEARCH %s -> %s (got %s)" % (key, want, got))
        r.cmd("LOGOUT")
        check(m.stop() == 0, "clean exit")
print("PASS")
