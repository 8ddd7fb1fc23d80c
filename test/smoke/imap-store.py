"""IMAP changes: STORE (flags in the Maildir file names, .SILENT, keywords that persist), EXPUNGE
with exact '* n EXPUNGE' numbering and the files gone, UID EXPUNGE of only the given UIDs, CLOSE
(silent expunge) and UNSELECT (none), APPEND with APPENDUID (the file appears, bytes exact), COPY
with COPYUID, [TRYCREATE]; UIDVALIDITY and UIDs stable across a maild restart, UIDs never reused."""
import datetime
import os
import sys

from maildtest import (SAMPLES, Lit, Maild, Root, check, codes, counts, crlf, expunges, fetches,
                       find_message, flags_of, mailbox_dir, message_files, read_file, resp_code,
                       search_result, time_limit, uid_set, uids)

exe = sys.argv[1]
time_limit(55)


def extra(i):
    return b"From: x%d@example.org\r\nSubject: extra %d\r\nMessage-ID: <extra%d@test>\r\n\r\nbody %d\r\n" % (i, i, i, i)


def info(name):
    return name.partition(":2,")[2]


def snapshot(r, box):
    """(UIDVALIDITY, {uid: bytes}) of a mailbox, read through a SELECT."""
    untagged = r.ok("SELECT " + box)
    f = fetches(r.ok("UID FETCH 1:* (BODY.PEEK[])")) if counts(untagged)["EXISTS"] else {}
    return codes(untagged)["UIDVALIDITY"], {int(v["UID"]): v["BODY[]"] for v in f.values()}


with Root() as root:
    root.deliver_samples("alice")
    extras = [("1700000010.M10P10.extra", extra(1)), ("1700000011.M11P11.extra", extra(2))]
    for base, data in extras:
        root.deliver("alice", base, data, "new")
    messages = SAMPLES + extras
    bases = [b for b, _ in messages]
    inbox = mailbox_dir(root, "alice")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(mailbox_dir(root, "alice", "Archive"), sub))

    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        c = codes(r.ok("SELECT INBOX"))
        uidvalidity = c["UIDVALIDITY"]
        all_uids = uids(r)
        check(len(all_uids) == len(messages), "%d messages" % len(messages))

        # STORE: the reply shows the flags, the file name carries them (letters sorted).
        f = fetches(r.ok("STORE 2 +FLAGS (\\Flagged \\Answered)"))
        check({"\\Flagged", "\\Answered"} <= set(f.get(2, {}).get("FLAGS", [])), "STORE +FLAGS replies * 2 FETCH (FLAGS ...): %r" % f)
        name = message_files(inbox)[bases[1]]
        check(flags_of(name) == {"\\Flagged", "\\Answered"} and info(name) == "".join(sorted(info(name))),
              "the file name carries F and R, sorted: %s" % name)
        r.ok("STORE 2 -FLAGS (\\Answered)")
        check(flags_of(message_files(inbox)[bases[1]]) == {"\\Flagged"}, "STORE -FLAGS removes R from the name")
        f = fetches(r.ok("STORE 2 FLAGS (\\Draft \\Seen)"))
        name = message_files(inbox)[bases[1]]
        check(set(f[2]["FLAGS"]) - {"\\Recent"} == {"\\Draft", "\\Seen"} and flags_of(name) == {"\\Draft", "\\Seen"}
              and name.startswith("cur/"), "STORE FLAGS replaces them: %s" % name)
        untagged = r.ok("STORE 3 +FLAGS.SILENT (\\Seen)")
        check(not fetches(untagged) and "\\Seen" in flags_of(message_files(inbox)[bases[2]]),
              "STORE +FLAGS.SILENT: no FETCH reply, the flag is stored")
        f = fetches(r.ok("UID STORE %d +FLAGS (\\Flagged)" % all_uids[3]))
        check(f.get(4, {}).get("UID") == str(all_uids[3]), "UID STORE's FETCH reply carries the UID: %r" % f)

        # Keywords: stored as letters in the name, kept across sessions.
        f = fetches(r.ok("STORE 1 +FLAGS ($Forwarded Junk)"))
        check({"$Forwarded", "Junk"} <= set(f[1]["FLAGS"]), "STORE of keywords: %r" % f[1]["FLAGS"])
        name = message_files(inbox)[bases[0]]
        check(sum(ch.islower() for ch in info(name)) == 2 and os.path.exists(os.path.join(inbox, "maild-keywords")),
              "two lower-case keyword letters in %s, a maild-keywords file" % name)
        r2 = m.iraw("alice")
        untagged = r2.ok("EXAMINE INBOX")
        flag_line = [u for u in untagged if u.startswith(b"* FLAGS ")]
        check(flag_line and b"$Forwarded" in flag_line[0] and b"Junk" in flag_line[0], "a new session's FLAGS lists the keywords")
        check({"$Forwarded", "Junk"} <= set(fetches(r2.ok("FETCH 1 FLAGS"))[1]["FLAGS"]), "... and message 1 still has them")
        r2.cmd("LOGOUT")
        r2.close()
        r.ok("STORE 1 -FLAGS (Junk)")
        check(sum(ch.islower() for ch in info(message_files(inbox)[bases[0]])) == 1, "-FLAGS removes a keyword letter")

        # EXPUNGE: exact numbering, the files gone.
        gone = [2, 4, 5]
        r.ok("STORE %s +FLAGS.SILENT (\\Deleted)" % ",".join(map(str, gone)))
        for i in gone:
            check("\\Deleted" in flags_of(message_files(inbox)[bases[i - 1]]), "message %d has T in its name" % i)
        untagged = r.ok("EXPUNGE")
        seq = list(all_uids)
        for n in expunges(untagged):
            del seq[n - 1]
        want = [u for i, u in enumerate(all_uids, 1) if i not in gone]
        check(len(expunges(untagged)) == len(gone) and seq == want,
              "EXPUNGE replies %s: applied in order they leave UIDs %s" % (expunges(untagged), want))
        check(uids(r) == want, "UID SEARCH ALL agrees")
        files = message_files(inbox)
        check(all(bases[i - 1] not in files for i in gone) and len(files) == len(messages) - len(gone),
              "the expunged files are gone, the rest stay")
        check(not expunges(r.ok("EXPUNGE")), "a second EXPUNGE expunges nothing")
        all_uids = want
        bases = [b for i, b in enumerate(bases, 1) if i not in gone]
        messages = [x for i, x in enumerate(messages, 1) if i not in gone]

        # UID EXPUNGE: only the given UIDs, even when others are \Deleted.
        r.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
        untagged = r.ok("UID EXPUNGE %d" % all_uids[1])
        check(expunges(untagged) == [2] and uids(r) == [all_uids[0]] + all_uids[2:],
              "UID EXPUNGE %d expunges only message 2" % all_uids[1])
        files = message_files(inbox)
        check(bases[1] not in files and "\\Deleted" in flags_of(files[bases[0]]), "its file is gone; message 1 stays, still T")
        del all_uids[1], bases[1], messages[1]

        # UNSELECT keeps \Deleted messages; CLOSE expunges them without EXPUNGE replies.
        r.ok("UNSELECT")
        check(bases[0] in message_files(inbox), "UNSELECT expunged nothing")
        r.ok("SELECT INBOX")
        untagged = r.ok("CLOSE")
        check(not expunges(untagged) and bases[0] not in message_files(inbox), "CLOSE expunged message 1 silently")
        del all_uids[0], bases[0], messages[0]
        check(r.cmd("FETCH 1 FLAGS")[1].split(b" ")[0] in (b"BAD", b"NO"), "after CLOSE no mailbox is selected")

        # APPEND: APPENDUID, the file in the Maildir with the bytes sent, flags in its name.
        status = r.ok("STATUS INBOX (UIDNEXT UIDVALIDITY MESSAGES)")
        uidnext = int(status[0].split(b"UIDNEXT ")[1].split(b" ")[0].rstrip(b")"))
        new1 = b"From: app@example.org\r\nSubject: appended\r\nMessage-ID: <app1@test>\r\n\r\nAppended with \\Seen.\r\n"
        untagged, done = r.cmd("APPEND INBOX (\\Seen) ", Lit(new1))
        check(done.startswith(b"OK") and resp_code(done, "APPENDUID") == "%s %d" % (uidvalidity, uidnext),
              "APPEND replies [APPENDUID %s %d]: %r" % (uidvalidity, uidnext, done))
        found = find_message(inbox, new1)
        check(len(found) == 1 and found[0].startswith("cur/") and flags_of(found[0]) == {"\\Seen"},
              "the appended message is one file in cur/ with S: %s" % found)
        new2 = b"From: app@example.org\nSubject: no flags, LF\n\nLF line ends as sent.\n"
        when = "14-Nov-2023 22:13:20 +0100"
        untagged, done = r.cmd('APPEND INBOX () "%s" ' % when, Lit(new2, plus=True))
        check(done.startswith(b"OK") and resp_code(done, "APPENDUID") == "%s %d" % (uidvalidity, uidnext + 1),
              "APPEND with a date and LITERAL+: [APPENDUID %s %d]" % (uidvalidity, uidnext + 1))
        found = find_message(inbox, new2)
        check(len(found) == 1 and not flags_of(found[0]), "its file holds the bytes as sent, no flags: %s" % found)
        untagged, done = r.cmd("APPEND Nonexistent ", Lit(new1))
        check(done.startswith(b"NO") and b"[TRYCREATE]" in done, "APPEND to a missing mailbox: NO [TRYCREATE]")
        check(sorted(os.listdir(os.path.join(inbox, "tmp"))) == [], "nothing is left in tmp/")

        r.ok("SELECT INBOX")
        f = fetches(r.ok("UID FETCH %d:%d (BODY.PEEK[] FLAGS INTERNALDATE)" % (uidnext, uidnext + 1)))
        got = {int(v["UID"]): v for v in f.values()}
        check(got[uidnext]["BODY[]"] == new1 and "\\Seen" in got[uidnext]["FLAGS"], "the first appended message reads back exactly")
        check(got[uidnext + 1]["BODY[]"] == crlf(new2) and "\\Seen" not in got[uidnext + 1]["FLAGS"],
              "the LF one reads back in CRLF form")
        stamp = lambda s: datetime.datetime.strptime(s.decode() if isinstance(s, bytes) else s, "%d-%b-%Y %H:%M:%S %z")
        check(stamp(got[uidnext + 1]["INTERNALDATE"]) == stamp(when), "APPEND's date is the INTERNALDATE: %r" % got[uidnext + 1]["INTERNALDATE"])
        all_uids += [uidnext, uidnext + 1]
        messages += [("appended", new1), ("appended", crlf(new2))]

        # APPEND to the selected mailbox from another session: EXISTS at the next command.
        other = m.iraw("alice")
        new3 = b"Subject: from another session\r\n\r\nhello\r\n"
        _, done = other.cmd("APPEND INBOX ", Lit(new3))
        uid3 = int(resp_code(done, "APPENDUID").split()[1])
        check(counts(r.ok("NOOP")).get("EXISTS") == len(all_uids) + 1, "the selected session sees EXISTS %d" % (len(all_uids) + 1))
        all_uids.append(uid3)
        messages.append(("other", new3))

        # COPY: COPYUID, the copies read back exactly, flags kept, the source untouched.
        astatus = r.ok("STATUS Archive (UIDVALIDITY UIDNEXT)")[0]
        a_validity = astatus.split(b"UIDVALIDITY ")[1].split(b" ")[0].rstrip(b")").decode()
        before = message_files(inbox)
        untagged, done = r.cmd("COPY 1:2 Archive")
        code = resp_code(done, "COPYUID")
        check(done.startswith(b"OK") and code is not None, "COPY replies [COPYUID ...]: %r" % done)
        v, src, dst = code.split()
        check(v == a_validity and uid_set(src) == all_uids[:2] and len(uid_set(dst)) == 2,
              "COPYUID names Archive's UIDVALIDITY, the source UIDs %s and two new ones: %s" % (all_uids[:2], code))
        check(message_files(inbox) == before, "the source messages are untouched")
        _, done = r.cmd("UID COPY %d Archive" % all_uids[-1])
        code3 = resp_code(done, "COPYUID")
        check(code3 is not None and uid_set(code3.split()[1]) == [all_uids[-1]], "UID COPY: [COPYUID %s]" % code3)
        _, done = r.cmd("COPY 1 Nonexistent")
        check(done.startswith(b"NO") and b"[TRYCREATE]" in done, "COPY to a missing mailbox: NO [TRYCREATE]")
        src_flags = {int(v["UID"]): set(v["FLAGS"]) - {"\\Recent"} for v in fetches(r.ok("FETCH 1:* (UID FLAGS)")).values()}
        r.ok("SELECT Archive")
        f = fetches(r.ok("UID FETCH 1:* (BODY.PEEK[] FLAGS)"))
        got = {int(v["UID"]): v for v in f.values()}
        pairs = list(zip(uid_set(src), uid_set(dst))) + [(all_uids[-1], uid_set(code3.split()[2])[0])]
        for s, d in pairs:
            want = crlf(messages[all_uids.index(s)][1])
            check(got[d]["BODY[]"] == want and set(got[d]["FLAGS"]) - {"\\Recent"} == src_flags[s],
                  "Archive UID %d is a copy of INBOX UID %d, flags %s" % (d, s, sorted(src_flags[s])))
        check(len(message_files(mailbox_dir(root, "alice", "Archive"))) == 3, "three files in Archive")
        r.cmd("LOGOUT")
        r.close()

        r = m.iraw("alice")
        snap = {box: snapshot(r, box) for box in ("INBOX", "Archive")}
        r.cmd("LOGOUT")
        r.close()
        uidlists = {box: read_file(os.path.join(mailbox_dir(root, "alice", box), "maild-uidlist"))
                    for box in ("INBOX", "Archive")}
        check(m.stop() == 0, "clean exit")

    # Restart: the same UIDVALIDITY, the same UIDs for the same bytes, the same uidlists.
    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        for box in ("INBOX", "Archive"):
            check(snapshot(r, box) == snap[box], "%s: UIDVALIDITY and every UID -> bytes survive a restart" % box)
            check(read_file(os.path.join(mailbox_dir(root, "alice", box), "maild-uidlist")) == uidlists[box],
                  "%s: maild-uidlist unchanged by the restart" % box)
        # Expunge the highest UID, restart, APPEND: the UID is not reused.
        r.ok("SELECT INBOX")
        top = max(snap["INBOX"][1])
        r.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % top)
        r.ok("UID EXPUNGE %d" % top)
        r.cmd("LOGOUT")
        m.stop()
    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        _, done = r.cmd("APPEND INBOX ", Lit(extra(9)))
        v, uid = resp_code(done, "APPENDUID").split()
        check(v == uidvalidity and int(uid) > top, "after expunging UID %d and a restart, APPEND gets UID %s" % (top, uid))
        r.ok("SELECT INBOX")
        check(search_result(r.ok("UID SEARCH UID %s" % uid)) == [int(uid)], "and it is there")
        check(m.stop() == 0, "clean exit")
print("PASS")
