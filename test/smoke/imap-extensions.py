"""IMAP extensions beyond IMAP4rev1, through raw sockets and python's imaplib: MOVE (RFC 6851:
COPYUID first, then the EXPUNGEs, then OK; the messages arrive byte for byte with their flags and
leave the source; other sessions see the EXPUNGEs; [READ-ONLY] and [TRYCREATE] refusals), ID
(RFC 2971: maild names itself, NIL and lists accepted, malformed lists BAD) and ENABLE (RFC 5161:
ENABLED lists only what maild knows, CONDSTORE here, and unknown names are ignored), ESEARCH
(RFC 4731: MIN MAX ALL COUNT, by sequence number and UID, COUNT 0 and nothing else when nothing
matches) and SEARCHRES (RFC 5182: SAVE into "$", which FETCH, STORE, SEARCH and UID forms then use;
SAVE with MIN/MAX alone keeps just those; a new SELECT or a failed SAVE empties it), LIST-EXTENDED
(RFC 5258: several patterns, SUBSCRIBED with \\Subscribed and \\NonExistent, RECURSIVEMATCH's
CHILDINFO, RETURN options), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154)."""
import sys

from maildtest import (SAMPLES, Maild, Root, check, crlf, fetches, parse, resp_code, search_result, text,
                       time_limit, uid_set)

exe = sys.argv[1]
time_limit(40)

with Root() as root:
    root.deliver_samples("alice")
    with Maild(exe, root, imap=True, pop3=False) as m:
        r = m.iraw("alice")
        caps = r.ok("CAPABILITY")[0].split()
        for cap in (b"MOVE", b"ID", b"ENABLE", b"ESEARCH", b"SEARCHRES", b"LIST-EXTENDED", b"LIST-STATUS",
                    b"SPECIAL-USE"):
            check(cap in caps, "CAPABILITY lists %s" % cap.decode())

        # ID
        untagged, done = r.cmd('ID ("name" "smoke" "version" NIL)')
        check(done.startswith(b"OK") and untagged == [b'* ID ("name" "maild")'], "ID: maild names itself: %r" % untagged)
        check(r.cmd("ID NIL")[1].startswith(b"OK"), "ID NIL")
        for bad in ('ID ("name")', "ID (", 'ID ("a" "b"', "ID foo"):
            check(r.cmd(bad)[1].startswith(b"BAD"), "%s: BAD" % bad)
        check(r.cmd("ID (" + " ".join('"f%d" "v"' % i for i in range(31)) + ")")[1].startswith(b"BAD"),
              "ID with more than 30 fields: BAD")

        # ENABLE
        untagged, done = r.cmd("ENABLE X-UNKNOWN CONDSTORE")
        check(done.startswith(b"OK") and untagged == [b"* ENABLED CONDSTORE"], "ENABLE: only CONDSTORE enabled: %r" % untagged)
        check(r.cmd("ENABLE")[1].startswith(b"BAD"), "ENABLE without a name: BAD")

        # ESEARCH and SEARCHRES, on the samples as delivered.
        r.ok("SELECT INBOX")
        n = len(SAMPLES)
        all_uids = search_result(r.ok("UID SEARCH ALL"))
        tag = r.next_tag()
        untagged, done = r.cmd("SEARCH RETURN (MIN MAX ALL COUNT) ALL", tag=tag)
        check(untagged == [b'* ESEARCH (TAG "%s") MIN 1 MAX %d ALL 1:%d COUNT %d' % (tag.encode(), n, n, n)],
              "ESEARCH MIN MAX ALL COUNT: %r" % untagged)
        untagged, _ = r.cmd("UID SEARCH RETURN () 2:3")
        check(untagged and untagged[0].endswith(b" UID ALL %d:%d" % (all_uids[1], all_uids[2])),
              "UID SEARCH RETURN (): UIDs, ALL by default: %r" % untagged)
        untagged, _ = r.cmd("SEARCH RETURN (MIN COUNT) KEYWORD nosuch")
        check(untagged and untagged[0].endswith(b") COUNT 0"), "nothing found: COUNT 0 and no MIN: %r" % untagged)
        untagged, _ = r.cmd("SEARCH RETURN (SAVE) 2:3")
        check(untagged == [], "SAVE alone answers no ESEARCH: %r" % untagged)
        check(sorted(fetches(r.ok("FETCH $ (UID)"))) == [2, 3], "FETCH $: the saved messages")
        check(search_result(r.ok("UID SEARCH UID $")) == all_uids[1:3], "UID SEARCH UID $")
        r.ok("STORE $ +FLAGS.SILENT (saved)")
        check(search_result(r.ok("SEARCH KEYWORD saved")) == [2, 3], "STORE $ set the keyword on exactly those")
        r.ok("STORE $ -FLAGS.SILENT (saved)")
        r.ok("SEARCH RETURN (SAVE MAX) ALL")
        check(sorted(fetches(r.ok("FETCH $ (UID)"))) == [n], "SAVE MAX keeps only the last match")
        check(r.cmd("SEARCH RETURN (SAVE) CHARSET KOI8-R ALL")[1].startswith(b"NO [BADCHARSET"), "a failing SAVE")
        check(search_result(r.ok("SEARCH $")) == [], "leaves $ empty")
        r.ok("SEARCH RETURN (SAVE) ALL")
        r.ok("SELECT INBOX")
        check(search_result(r.ok("SEARCH $")) == [], "a new SELECT empties $")
        check(r.cmd("SEARCH RETURN (BOGUS) ALL")[1].startswith(b"BAD"), "an unknown RETURN option: BAD")

        # LIST-EXTENDED, LIST-STATUS, SPECIAL-USE
        for box in ("Sent", "Trash", "Work", "Work.Done", "Work.Open"):
            r.ok("CREATE " + box)
        for box in ("Work.Open", "Gone", "Sent"):
            r.ok("SUBSCRIBE " + box)

        def listed(command):
            out = {}
            for u in r.ok(command):
                if u.startswith(b"* LIST "):
                    v = parse(u)
                    out[text(v[4])] = (set(v[2]), v[5:])
            return out

        got = listed('LIST "" ("INBOX" "W*")')
        check(set(got) == {"INBOX", "Work", "Work.Done", "Work.Open"}, "two patterns: %s" % sorted(got))
        got = listed('LIST (SUBSCRIBED) "" "*"')
        check(set(got) == {"Work.Open", "Gone", "Sent"}, "SUBSCRIBED lists the subscriptions: %s" % sorted(got))
        check(all("\\Subscribed" in a for a, _ in got.values()), "each \\Subscribed: %s" % got)
        check("\\NonExistent" in got["Gone"][0], "a subscribed name with no mailbox: \\NonExistent: %s" % (got["Gone"],))
        got = listed('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
        check(set(got) == {"Work", "Gone", "Sent"} and got["Work"][1] == [[b"CHILDINFO", [b"SUBSCRIBED"]]]
              and "\\Subscribed" not in got["Work"][0],
              "RECURSIVEMATCH: Work for its subscribed child, with CHILDINFO: %s" % got)
        check(r.cmd('LIST (RECURSIVEMATCH) "" "*"')[1].startswith(b"BAD"), "RECURSIVEMATCH alone: BAD")
        got = listed('LIST "" "*" RETURN (SUBSCRIBED CHILDREN)')
        check("\\Subscribed" in got["Sent"][0] and "\\Subscribed" not in got["Trash"][0]
              and "\\HasChildren" in got["Work"][0], "RETURN (SUBSCRIBED CHILDREN): %s" % got)
        got = listed('LIST (SPECIAL-USE) "" "*"')
        check({k: a for k, (a, _) in got.items()} == {"Sent": {"\\HasNoChildren", "\\Sent"},
                                                         "Trash": {"\\HasNoChildren", "\\Trash"}},
              "SPECIAL-USE selects Sent and Trash, flagged: %s" % got)
        check("\\Sent" in listed('LIST "" "Sent" RETURN (SPECIAL-USE)')["Sent"][0], "RETURN (SPECIAL-USE)")
        untagged = r.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
        names = [text(parse(u)[4]) for u in untagged if u.startswith(b"* LIST ")]
        statuses = [parse(u) for u in untagged if u.startswith(b"* STATUS ")]
        check([text(v[2]) for v in statuses] == names, "a STATUS right after each LIST line: %r" % untagged)
        inbox = [v for v in statuses if text(v[2]) == "INBOX"][0]
        check(inbox[3][:2] == ["MESSAGES", str(n)] or inbox[3][:2] == ["MESSAGES", n], "INBOX's MESSAGES: %r" % inbox)
        for bad in ('LIST (BOGUS) "" "*"', 'LIST "" "*" RETURN (BOGUS)', 'LIST "" "*" RETURN', 'LIST "" ("a"'):
            check(r.cmd(bad)[1].startswith(b"BAD"), "%s: BAD" % bad)
        for box in ("Work.Open", "Gone", "Sent"):
            r.ok("UNSUBSCRIBE " + box)

        # MOVE
        r.ok("CREATE Dest")
        r.ok("SELECT INBOX")
        watcher = m.iraw("alice")
        watcher.ok("SELECT INBOX")
        got = fetches(r.ok("FETCH 1:* (UID FLAGS BODY.PEEK[])"))
        before = {int(v["UID"]): (set(v["FLAGS"]) - {"\\Recent"}, v["BODY[]"]) for v in got.values()}
        uids = sorted(before)
        r.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
        before[uids[1]][0].add("\\Flagged")
        untagged, done = r.cmd("MOVE 2:3 Dest")
        check(done.startswith(b"OK"), "MOVE 2:3 Dest: %r" % done)
        check(untagged[:1] and untagged[0].startswith(b"* OK [COPYUID "), "COPYUID comes first: %r" % untagged)
        check(untagged[1:] == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"], "then one EXPUNGE per message: %r" % untagged)
        v, src, dst = untagged[0].split(b"[COPYUID ")[1].split(b"]")[0].decode().split()
        check(uid_set(src) == uids[1:3] and len(uid_set(dst)) == 2, "COPYUID names the moved UIDs: %s" % src)
        moved = dict(zip(uid_set(src), uid_set(dst)))
        untagged, _ = r.cmd("UID MOVE %d Dest" % uids[0])
        code = untagged[0].split(b"[COPYUID ")[1].split(b"]")[0].decode().split()
        moved[uids[0]] = uid_set(code[2])[0]
        check(untagged[1:] == [b"* 1 EXPUNGE"], "UID MOVE: its EXPUNGE: %r" % untagged)
        left = search_result(r.ok("UID SEARCH ALL"))
        check(left == uids[3:], "the moved messages left INBOX: %s" % left)
        exp = [u for u in watcher.ok("NOOP") if u.endswith(b"EXPUNGE")]
        check(len(exp) == 3, "another session on INBOX is told of the three EXPUNGEs: %r" % exp)
        r.ok("SELECT Dest")
        got = fetches(r.ok("UID FETCH 1:* (FLAGS BODY.PEEK[])"))
        after = {int(v["UID"]): (set(v["FLAGS"]) - {"\\Recent"}, v["BODY[]"]) for v in got.values()}
        for s, d in moved.items():
            check(after[d] == before[s], "Dest UID %d is INBOX UID %d, bytes and flags %s" % (d, s, sorted(before[s][0])))
        check(r.cmd("MOVE 1 Nowhere")[1].startswith(b"NO [TRYCREATE]"), "MOVE to a missing mailbox: NO [TRYCREATE]")
        r.ok("EXAMINE Dest")
        check(r.cmd("MOVE 1 INBOX")[1].startswith(b"NO [READ-ONLY]"), "MOVE out of an EXAMINEd mailbox: NO [READ-ONLY]")

        # python's imaplib, as a client script would use it.
        c = m.imap("alice")
        typ, _ = c.select("Dest")
        check(typ == "OK", "imaplib SELECT Dest")
        typ, data = c.uid("MOVE", str(moved[uids[0]]), "INBOX")
        check(typ == "OK", "imaplib uid('MOVE', ...): %s %r" % (typ, data))
        typ, data = c.select("INBOX", readonly=True)
        check(int(data[0]) == len(SAMPLES) - 2, "INBOX holds its messages but the two still in Dest: %r" % data)
        typ, _ = c._simple_command("SEARCH", "RETURN (COUNT)", "ALL")
        _, es = c.response("ESEARCH")
        check(typ == "OK" and es and es[0].endswith(b"COUNT %d" % (len(SAMPLES) - 2)), "imaplib ESEARCH COUNT: %r" % es)
        typ, _ = c._simple_command("LIST", '""', '"*"', "RETURN", "(STATUS (MESSAGES))")
        _, st = c.response("STATUS")
        check(typ == "OK" and any(b"Dest" in x and b"MESSAGES 2" in x for x in st), "imaplib LIST-STATUS: %r" % st)
        typ, data = c.xatom("ID", '("name" "imaplib")')
        check(typ == "OK", "imaplib ID: %s" % typ)
        c.logout()
        r.cmd("LOGOUT")
        check(m.stop() == 0, "clean exit")
print("PASS")
