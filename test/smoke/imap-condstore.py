"""CONDSTORE and QRESYNC (RFC 7162): modseqs rise with every change (STORE, another session's
STORE, a file renamed behind maild's back, APPEND, EXPUNGE); HIGHESTMODSEQ in SELECT and STATUS;
FETCH CHANGEDSINCE returns exactly what changed; STORE UNCHANGEDSINCE refuses what changed with
[MODIFIED] and leaves it alone; SEARCH MODSEQ and its (MODSEQ n); ENABLE; VANISHED after ENABLE
QRESYNC; SELECT ... (QRESYNC ...) after another session's expunge and flag change gives exactly
the VANISHED (EARLIER) and FETCHes due; an old uidlist reads as modseq 1; HIGHESTMODSEQ never goes
down across a kill -9 in the middle of a STORE. Then the same through python's imaplib."""
import os
import re
import sys

from maildtest import (Lit, Maild, Root, check, codes, fetches, mailbox_dir, message_files, resp_code,
                       search_result, time_limit, uid_set, uids)

exe = sys.argv[1]
time_limit(80)


def msg(i):
    return b"From: x%d@example.org\r\nSubject: m %d\r\nMessage-ID: <m%d@test>\r\n\r\nbody %d\r\n" % (i, i, i, i)


def modseqs(untagged):
    """{uid: modseq} from FETCH responses with UID and MODSEQ."""
    return {int(v["UID"]): int(v["MODSEQ"][0]) for v in fetches(untagged).values() if "MODSEQ" in v}


def highest(untagged):
    return int(codes(untagged)["HIGHESTMODSEQ"])


def status_highest(r, box="INBOX"):
    for line in r.ok("STATUS %s (HIGHESTMODSEQ)" % box):
        m = re.search(rb"HIGHESTMODSEQ (\d+)", line)
        if m:
            return int(m.group(1))
    return None


def vanished(untagged, earlier):
    prefix = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
    out = []
    for line in untagged:
        if line.startswith(prefix) and (earlier or not line.startswith(b"* VANISHED (")):
            out += uid_set(line[len(prefix):].decode())
    return sorted(out)


def bad(r, command, what):
    _, done = r.cmd(command)
    check(done.startswith(b"BAD"), "%s is BAD: %r" % (what, done))


with Root() as root:
    root.deliver_samples("alice")
    for i in range(4):
        root.deliver("alice", "17000001%02d.M%dP1.extra" % (i, i), msg(i), "cur", ":2,")
    inbox = mailbox_dir(root, "alice")
    for box in ("Archive", "Big", "Old"):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mailbox_dir(root, "alice", box), sub))
    # A list written before modseqs, for Old.
    old = mailbox_dir(root, "alice", "Old")
    for i in range(3):
        with open(os.path.join(old, "cur", "1700000200.M%dP2.old:2,S" % i), "wb") as f:
            f.write(msg(100 + i))
    with open(os.path.join(old, "maild-uidlist"), "w") as f:
        f.write("V1700000000 N4 R4\n" + "".join("%d W%d :1700000200.M%dP2.old\n" % (i + 1, len(msg(100 + i)), i)
                                                 for i in range(3)))
    big = mailbox_dir(root, "alice", "Big")
    for i in range(3000):
        with open(os.path.join(big, "cur", "1700001000.M%dP3.big:2," % i), "wb") as f:
            f.write(msg(1000 + i))

    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        caps = r.ok("CAPABILITY")[0].split()
        check(b"CONDSTORE" in caps and b"QRESYNC" in caps, "CAPABILITY lists CONDSTORE and QRESYNC")

        # --- HIGHESTMODSEQ, FETCH MODSEQ ---------------------------------------------------
        sel = r.ok("SELECT INBOX")
        h0 = highest(sel)
        all_uids = uids(r)
        ms = modseqs(r.ok("FETCH 1:* (UID MODSEQ)"))
        check(sorted(ms) == all_uids and max(ms.values()) <= h0 and min(ms.values()) >= 1,
              "SELECT gives HIGHESTMODSEQ %d, FETCH MODSEQ a modseq of at most that per message: %r" % (h0, ms))
        other = m.iraw("alice")
        check(status_highest(other) == h0, "STATUS (HIGHESTMODSEQ) of another session says the same")

        # --- modseqs rise: own STORE, another session's STORE, a rename, an APPEND -----------
        f = fetches(r.ok("STORE 1 +FLAGS (\\Flagged)"))
        m1 = int(f[1]["MODSEQ"][0])
        check("\\Flagged" in f[1]["FLAGS"] and m1 > h0, "STORE replies FLAGS and a MODSEQ above HIGHESTMODSEQ: %d" % m1)
        check(status_highest(other) == m1, "STATUS HIGHESTMODSEQ follows the STORE")
        listed = [l for l in other.ok('LIST "" "INBOX" RETURN (STATUS (HIGHESTMODSEQ))') if l.startswith(b"* STATUS")]
        check(listed == [b'* STATUS "INBOX" (HIGHESTMODSEQ %d)' % m1], "LIST-STATUS gives HIGHESTMODSEQ too: %r" % listed)

        other.ok("SELECT INBOX")
        other.ok("STORE 2 +FLAGS (\\Answered)")
        f = fetches(r.ok("NOOP"))
        m2 = int(f.get(2, {}).get("MODSEQ", ["0"])[0])
        check("\\Answered" in f.get(2, {}).get("FLAGS", []) and m2 > m1,
              "another session's STORE reaches this one as FETCH FLAGS with a higher MODSEQ: %r" % f)

        uid3 = all_uids[2]
        name3 = None
        files = message_files(inbox)
        # Message 3's file: its base name is on its UID's line of the uidlist.
        with open(os.path.join(inbox, "maild-uidlist")) as fl:
            for line in fl.read().splitlines()[1:]:
                if int(line.split()[0]) == uid3:
                    name3 = files[line.split(" :", 1)[1]]
        check(name3 is not None, "message 3's file found: %s" % name3)
        os.rename(os.path.join(inbox, name3), os.path.join(inbox, name3.split(":2,")[0] + ":2,F" +
                                                             name3.split(":2,")[1]))
        f = fetches(r.ok("NOOP"))
        m3 = int(f.get(3, {}).get("MODSEQ", ["0"])[0])
        check("\\Flagged" in f.get(3, {}).get("FLAGS", []) and m3 > m2,
              "a file renamed to other flags behind maild's back gets a new, higher modseq: %r" % f)

        _, done = other.cmd("APPEND INBOX (\\Seen) ", Lit(msg(50)))
        new_uid = int(resp_code(done, "APPENDUID").split()[1])
        r.ok("NOOP")
        m4 = modseqs(r.ok("UID FETCH %d (MODSEQ)" % new_uid))[new_uid]
        check(m4 > m3, "an APPENDed message has a modseq above every earlier one: %d" % m4)
        all_uids = uids(r)

        # --- CHANGEDSINCE ------------------------------------------------------------------
        f = fetches(r.ok("FETCH 1:* (UID FLAGS) (CHANGEDSINCE %d)" % m1))
        got = sorted(int(v["UID"]) for v in f.values())
        check(got == sorted([all_uids[1], uid3, new_uid]) and all("MODSEQ" in v for v in f.values()),
              "FETCH (CHANGEDSINCE m1) returns exactly the messages changed after it, with MODSEQ: %r" % got)
        f = fetches(r.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % m4))
        check(f == {}, "nothing changed since the last modseq: no FETCH")

        # --- UNCHANGEDSINCE ----------------------------------------------------------------
        untagged, done = r.cmd("STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Draft)" % m1)
        check(done.startswith(b"OK") and resp_code(done, "MODIFIED") == "2",
              "UNCHANGEDSINCE m1: message 2 (changed after m1) is [MODIFIED 2]: %r" % done)
        f = fetches(untagged)
        check(list(f) == [1] and "\\Draft" in f[1]["FLAGS"] and int(f[1]["MODSEQ"][0]) > m4,
              "message 1 was stored, with a new MODSEQ: %r" % f)
        names = message_files(inbox)
        check(sum(1 for n in names.values() if "D" in n.split(":2,")[1]) == 1,
              "only one file got D: the modified message was left alone")
        untagged, done = r.cmd("UID STORE %d (UNCHANGEDSINCE 0) -FLAGS (\\Draft)" % all_uids[0])
        check(resp_code(done, "MODIFIED") == str(all_uids[0]) and fetches(untagged) == {},
              "UID STORE (UNCHANGEDSINCE 0) fails for every message, by UID: %r" % done)
        f = fetches(r.ok("STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)"))
        m5 = int(f[1]["MODSEQ"][0])
        check("FLAGS" not in f[1] and m5 > m4, "STORE .SILENT with CONDSTORE still sends FETCH (MODSEQ): %r" % f)

        unseen = search_result(r.ok("SEARCH UNSEEN"))[0]
        f = fetches(r.ok("FETCH %d (BODY[])" % unseen))[unseen]
        check("\\Seen" in f["FLAGS"] and int(f["MODSEQ"][0]) > m5,
              "the \\Seen a FETCH BODY[] sets is reported with its new MODSEQ: %r" % {k: f[k] for k in ("FLAGS", "MODSEQ")})
        m5 = int(f["MODSEQ"][0])

        # A FETCH BODY[] of many unseen messages sets \Seen a batch at a time (one uidlist
        # write per batch): every one of them still gets FLAGS and its own new MODSEQ in its
        # reply, and a message that was seen already gets neither.
        r.ok("STORE 1:* -FLAGS.SILENT (\\Seen)")
        m6 = max(int(x["MODSEQ"][0]) for x in fetches(r.ok("STORE 2 +FLAGS.SILENT (\\Seen)")).values())
        m6 = max([m6] + [int(x["MODSEQ"][0]) for x in fetches(r.ok("FETCH 1:* (MODSEQ)")).values()])
        f = fetches(r.ok("FETCH 1:* (BODY[])"))
        told = {n: int(x["MODSEQ"][0]) for n, x in f.items() if "FLAGS" in x}
        check(sorted(told) == [n for n in sorted(f) if n != 2] and all("\\Seen" in f[n]["FLAGS"] for n in told),
              "FETCH 1:* BODY[]: FLAGS (with \\Seen) for each of the %d unseen messages, none for the seen one" % len(told))
        check(len(set(told.values())) == len(told) and min(told.values()) > m6,
              "each got a MODSEQ of its own, above every earlier one: %r" % told)
        now = {n: int(x["MODSEQ"][0]) for n, x in fetches(r.ok("FETCH 1:* (MODSEQ)")).items()}
        check(all(now[n] == told[n] for n in told) and all("S" in n.split(":2,")[1] for n in message_files(inbox).values()),
              "the modseqs reported are the ones stored, and every file has S")
        m5 = max(now.values())

        # --- SEARCH MODSEQ -----------------------------------------------------------------
        ms = modseqs(r.ok("FETCH 1:* (UID MODSEQ)"))
        want = [all_uids.index(u) + 1 for u in all_uids if ms[u] >= m3]
        untagged = r.ok("SEARCH MODSEQ %d" % m3)
        check(search_result([untagged[0].split(b" (")[0]]) == want and
              untagged[0].endswith(b" (MODSEQ %d)" % max(ms[u] for u in all_uids if ms[u] >= m3)),
              "SEARCH MODSEQ n: the messages at or above n, and (MODSEQ highest of them): %r" % untagged[0])
        untagged = r.ok('UID SEARCH MODSEQ "/flags/\\\\draft" all %d' % m3)
        check(untagged[0].startswith(b"* SEARCH ") and b"(MODSEQ " in untagged[0], "SEARCH MODSEQ with an entry name")
        untagged = r.ok("SEARCH RETURN (ALL COUNT) MODSEQ %d" % m3)
        check(untagged[0].endswith(b" MODSEQ %d" % max(ms.values())), "ESEARCH ends in MODSEQ: %r" % untagged[0])
        check(r.ok("SEARCH MODSEQ %d" % (max(ms.values()) + 1))[0] == b"* SEARCH", "no match: no (MODSEQ)")
        # SORT the same (RFC 7162 3.1.5): the sorted numbers, then (MODSEQ highest of them).
        untagged = r.ok("SORT (ARRIVAL) UTF-8 MODSEQ %d" % m3)
        check(len(untagged) == 1 and sorted(search_result([b"* SEARCH" + untagged[0][6:].split(b" (")[0]])) == want and
              untagged[0].endswith(b" (MODSEQ %d)" % max(ms[u] for u in all_uids if ms[u] >= m3)),
              "SORT with a MODSEQ key: the same messages, then (MODSEQ highest of them): %r" % untagged)
        check(r.ok("SORT (ARRIVAL) UTF-8 MODSEQ %d" % (max(ms.values()) + 1)) == [b"* SORT"], "SORT, no match: no (MODSEQ)")
        check(r.ok("SORT (ARRIVAL) UTF-8 ALL")[0].endswith(b"%d" % len(all_uids)), "SORT without MODSEQ: no (MODSEQ)")

        # --- malformed -----------------------------------------------------------------------
        bad(r, "FETCH 1 (FLAGS) (CHANGEDSINCE)", "CHANGEDSINCE without a value")
        bad(r, "FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)", "a modseq of 2^63")
        bad(r, "FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", "VANISHED outside UID FETCH")
        bad(r, "UID FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)", "VANISHED without ENABLE QRESYNC")
        bad(r, "STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)", "UNCHANGEDSINCE x")
        bad(r, "SEARCH MODSEQ", "SEARCH MODSEQ without a value")
        bad(r, 'SEARCH MODSEQ "/flags/\\\\seen" mine 1', "SEARCH MODSEQ with an unknown entry type")
        bad(r, "SELECT INBOX (QRESYNC (1 1))", "SELECT (QRESYNC ...) without ENABLE QRESYNC")
        check(r.cmd("NOOP")[1].startswith(b"OK"), "the session still has INBOX selected")

        # --- ENABLE, VANISHED ----------------------------------------------------------------
        q = m.iraw("alice")
        untagged = q.ok("ENABLE QRESYNC CONDSTORE FOO")
        check(untagged == [b"* ENABLED QRESYNC CONDSTORE"], "ENABLE lists what it enabled: %r" % untagged)
        check(q.ok("ENABLE QRESYNC") == [b"* ENABLED"], "enabling again lists nothing")
        sel = q.ok("SELECT INBOX")
        uidvalidity = codes(sel)["UIDVALIDITY"]
        q_uids = uids(q)
        doomed = q_uids[0]  # \Deleted by the .SILENT STORE above
        r.ok("EXPUNGE")
        untagged = q.ok("NOOP")
        check(vanished(untagged, False) == [doomed] and not any(b"EXPUNGE" in l for l in untagged),
              "after ENABLE QRESYNC an expunge is * VANISHED <uid>, not EXPUNGE: %r" % untagged)
        q_uids.remove(doomed)

        # --- SELECT (QRESYNC ...) after another session's expunge and flag change ---------
        known = highest(q.ok("SELECT INBOX"))
        untagged = q.ok("SELECT Archive")
        check(any(l.startswith(b"* OK [CLOSED]") for l in untagged), "SELECT over a selected mailbox: [CLOSED]")
        r.ok("UID STORE %d +FLAGS (\\Deleted)" % q_uids[1])
        r.ok("EXPUNGE")
        r.ok("UID STORE %d +FLAGS (\\Flagged)" % q_uids[3])
        untagged = q.ok("SELECT INBOX (QRESYNC (%s %d %s))" % (uidvalidity, known, ",".join(map(str, q_uids))))
        f = fetches(untagged)
        check(vanished(untagged, True) == [q_uids[1]], "VANISHED (EARLIER) is exactly the expunged UID: %r" % untagged)
        check(sorted(int(v["UID"]) for v in f.values()) == [q_uids[3]] and "\\Flagged" in list(f.values())[0]["FLAGS"]
              and int(list(f.values())[0]["MODSEQ"][0]) > known,
              "and one FETCH (UID FLAGS MODSEQ), for the changed message: %r" % f)
        check(highest(untagged) > known, "HIGHESTMODSEQ rose with the expunge and the STORE")
        untagged = q.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % known)
        check(q_uids[1] in vanished(untagged, True) and
              sorted(int(v["UID"]) for v in fetches(untagged).values()) == [q_uids[3]],
              "UID FETCH (CHANGEDSINCE n VANISHED): the expunged UID and the changed message: %r" % untagged)
        untagged = q.ok("SELECT INBOX (QRESYNC (%d %d))" % (int(uidvalidity) + 1, known))
        check(fetches(untagged) == {} and vanished(untagged, True) == [],
              "a UIDVALIDITY that does not match: no resync data")

        # --- an old uidlist ---------------------------------------------------------------
        untagged = r.ok("SELECT Old")
        check(highest(untagged) == 1 and set(modseqs(r.ok("FETCH 1:* (UID MODSEQ)")).values()) == {1},
              "a uidlist from before modseqs: HIGHESTMODSEQ 1, every message MODSEQ 1")
        name = sorted(os.listdir(os.path.join(old, "cur")))[1]
        os.rename(os.path.join(old, "cur", name), os.path.join(old, "cur", name + "F"))
        f = fetches(r.ok("NOOP"))
        check(int(f.get(2, {}).get("MODSEQ", ["0"])[0]) == 2, "its first change gets modseq 2: %r" % f)

        # --- kill -9 in the middle of a STORE --------------------------------------------------
        before = highest(r.ok("SELECT Big"))
        r.send("k1 STORE 1:* +FLAGS (\\Flagged)\r\n")
        seen = 0
        while True:
            line = r.response(timeout=30)
            check(line is not None, "the STORE answers")
            mm = re.search(rb"MODSEQ \((\d+)\)", line)
            if mm:
                seen = max(seen, int(mm.group(1)))
                break
            if line.startswith(b"k1 "):
                break
        m.proc.kill()
        m.proc.wait()
        flagged = sum(1 for n in os.listdir(os.path.join(big, "cur")) if "F" in n.split(":2,")[1])
        print("killed with %d of 3000 messages flagged, highest modseq seen %d" % (flagged, seen))

    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        untagged = r.ok("SELECT Big")
        after = highest(untagged)
        check(after >= max(before, seen), "HIGHESTMODSEQ after the restart %d >= before %d and >= any reported %d"
              % (after, before, seen))
        f = fetches(r.ok("FETCH 1:* (FLAGS MODSEQ)"))
        check(len(f) == 3000 and all(int(v["MODSEQ"][0]) <= after for v in f.values()),
              "every message's modseq is at most HIGHESTMODSEQ")
        stale = [n for n, v in f.items() if "\\Flagged" in v["FLAGS"] and int(v["MODSEQ"][0]) <= before]
        check(stale == [], "every message the STORE changed has a modseq above the old HIGHESTMODSEQ")
        check(status_highest(r, "Big") == after, "and a restart later it is still the same")

        # --- imaplib ---------------------------------------------------------------------------
        c = m.imap("alice")
        typ, data = c._simple_command("ENABLE", "CONDSTORE")
        check(typ == "OK" and c.untagged_responses.get("ENABLED") == [b"CONDSTORE"], "imaplib: ENABLE CONDSTORE")
        c.select("INBOX")
        h = int(c.response("HIGHESTMODSEQ")[1][0])
        typ, data = c.status("INBOX", "(HIGHESTMODSEQ)")
        check(typ == "OK" and b"HIGHESTMODSEQ %d" % h in data[0], "imaplib: SELECT and STATUS agree on HIGHESTMODSEQ %d" % h)
        typ, data = c.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d)" % h)
        check(typ == "OK" and data == [None], "imaplib: UID FETCH (CHANGEDSINCE HIGHESTMODSEQ) is empty: %r" % data)
        c.uid("STORE", "%d" % new_uid, "+FLAGS", "(\\Flagged)")
        typ, data = c.uid("FETCH", "1:*", "(FLAGS) (CHANGEDSINCE %d)" % h)
        check(typ == "OK" and len(data) == 1 and b"UID %d " % new_uid in data[0] and b"MODSEQ (" in data[0],
              "imaplib: then exactly the stored message: %r" % data)
        # uid() keeps the FETCH responses; the tagged reply's [MODIFIED] comes with _simple_command.
        typ, data = c._simple_command("UID", "STORE", "%d" % new_uid, "(UNCHANGEDSINCE %d)" % h, "-FLAGS", "(\\Flagged)")
        check(typ == "OK" and b"[MODIFIED %d]" % new_uid in data[-1], "imaplib: UNCHANGEDSINCE gives [MODIFIED]: %r" % data)
        c.logout()
print("PASS")
