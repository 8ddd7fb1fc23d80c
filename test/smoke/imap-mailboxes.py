"""IMAP mailboxes: CREATE (a Maildir++ folder <user>/.Name), hierarchy with '.', RENAME (children
move too, messages and UIDs kept), DELETE, SUBSCRIBE/UNSUBSCRIBE/LSUB across sessions, STATUS
derived from the store; and names that must never reach outside the user's directory ('/', '..',
absolute paths, control characters): NO, and nothing is created or changed anywhere."""
import os
import re
import sys

from maildtest import (SAMPLES, Lit, Maild, Root, all_dirs, check, codes, crlf, fetches, find_message,
                       flags_of, mailbox_dir, message_files, parse, resp_code, text, time_limit, uids)

exe = sys.argv[1]
time_limit(50)


def boxes(r, cmd="LIST", pattern="*"):
    """{name: lower-cased attributes} from LIST or LSUB "" pattern."""
    out = {}
    for resp in r.ok('%s "" "%s"' % (cmd, pattern)):
        if resp.startswith(b"* %s " % cmd.encode()):
            v = parse(resp)
            out[text(v[4])] = {a.lower() for a in v[2]}
    return out


def status(r, box, items="MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN"):
    untagged = r.ok("STATUS %s (%s)" % (box, items))
    line = [u for u in untagged if u.startswith(b"* STATUS ")]
    v = parse(line[0])
    check(text(v[2]) == box, "STATUS names the mailbox %s" % box)
    return {v[3][i]: int(v[3][i + 1]) for i in range(0, len(v[3]), 2)}


def is_maildir(d):
    return all(os.path.isdir(os.path.join(d, s)) for s in ("cur", "new", "tmp"))


def refused(done):
    return done.split(b" ")[0] in (b"NO", b"BAD")


with Root() as root:
    root.deliver_samples("alice")
    root.deliver_samples("bob")
    user_dir = os.path.join(root.mail, "alice")
    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")

        # CREATE: Maildir++ folders; the hierarchy is made of '.'-separated names.
        for box in ("Work", "Work.Projects", "Work.Projects.2024", "Lists"):
            check(r.cmd("CREATE " + box)[1].startswith(b"OK"), "CREATE %s" % box)
            check(is_maildir(mailbox_dir(root, "alice", box)), "%s is the Maildir %s" % (box, "." + box))
        check(r.cmd("CREATE Work")[1].startswith(b"NO"), "CREATE of an existing mailbox: NO")
        check(r.cmd("CREATE INBOX")[1].startswith(b"NO"), "CREATE INBOX: NO")
        check(r.cmd('CREATE "Sent Items"')[1].startswith(b"OK") and is_maildir(os.path.join(user_dir, ".Sent Items")),
              "CREATE of a quoted name with a space")
        got = boxes(r)
        check(set(got) == {"INBOX", "Work", "Work.Projects", "Work.Projects.2024", "Lists", "Sent Items"},
              "LIST shows INBOX and every folder: %s" % sorted(got))
        check("\\haschildren" in got["Work"] and "\\haschildren" in got["Work.Projects"]
              and "\\hasnochildren" in got["Work.Projects.2024"] and "\\hasnochildren" in got["Lists"],
              "\\HasChildren / \\HasNoChildren follow the hierarchy")

        # STATUS, derived from what was appended.
        st = status(r, "Lists")
        check(st["MESSAGES"] == 0 and st["UNSEEN"] == 0, "STATUS of an empty folder: %s" % st)
        msgs = [b"Subject: list %d\r\n\r\nlist mail %d\r\n" % (i, i) for i in range(3)]
        appended = []
        for i, data in enumerate(msgs):
            _, done = r.cmd("APPEND Lists %s" % ("(\\Seen) " if i == 0 else ""), Lit(data))
            appended.append(resp_code(done, "APPENDUID").split())
        st = status(r, "Lists")
        check(st["MESSAGES"] == 3 and st["UNSEEN"] == 2, "STATUS MESSAGES 3 UNSEEN 2: %s" % st)
        check(str(st["UIDVALIDITY"]) == appended[0][0] and st["UIDNEXT"] == int(appended[-1][1]) + 1,
              "STATUS UIDVALIDITY and UIDNEXT agree with APPENDUID: %s %s" % (st, appended))
        st = status(r, "INBOX")
        unseen = sum(1 for n in os.listdir(os.path.join(user_dir, "cur")) + os.listdir(os.path.join(user_dir, "new"))
                     if "\\Seen" not in flags_of(n))
        check(st["MESSAGES"] == len(SAMPLES) and st["UNSEEN"] == unseen, "STATUS INBOX: %d messages, %d unseen" % (len(SAMPLES), unseen))
        check(r.cmd("STATUS Nope (MESSAGES)")[1].startswith(b"NO"), "STATUS of a missing mailbox: NO")

        # RENAME: the folder and its children move, messages and UIDs with them.
        r.ok("SELECT Lists")
        lists_uids = uids(r)
        lists_validity = codes(r.ok("SELECT Lists"))["UIDVALIDITY"]
        r.ok("UNSELECT")
        check(r.cmd("RENAME Lists Mailing")[1].startswith(b"OK"), "RENAME Lists Mailing")
        check(not os.path.exists(os.path.join(user_dir, ".Lists")) and is_maildir(os.path.join(user_dir, ".Mailing")),
              ".Lists became .Mailing")
        untagged = r.ok("SELECT Mailing")
        f = fetches(r.ok("UID FETCH 1:* (BODY.PEEK[])"))
        check(codes(untagged)["UIDVALIDITY"] == lists_validity and uids(r) == lists_uids
              and sorted(v["BODY[]"] for v in f.values()) == sorted(msgs),
              "the renamed folder keeps its messages, UIDVALIDITY and UIDs")
        r.ok("UNSELECT")
        check(r.cmd("RENAME Work Job")[1].startswith(b"OK"), "RENAME Work Job (a folder with children)")
        check(set(boxes(r)) == {"INBOX", "Job", "Job.Projects", "Job.Projects.2024", "Mailing", "Sent Items"},
              "its children moved with it: %s" % sorted(boxes(r)))
        check(is_maildir(os.path.join(user_dir, ".Job.Projects.2024")) and not any(
            n.startswith(".Work") for n in os.listdir(user_dir)), "on disk too")
        check(r.cmd("RENAME Nope Other")[1].startswith(b"NO"), "RENAME of a missing mailbox: NO")
        check(r.cmd("RENAME Mailing Job")[1].startswith(b"NO"), "RENAME onto an existing mailbox: NO")

        # DELETE: a leaf goes with its messages; INBOX and missing names cannot.
        check(r.cmd("DELETE Mailing")[1].startswith(b"OK") and not os.path.exists(os.path.join(user_dir, ".Mailing")),
              "DELETE Mailing removes .Mailing with its messages")
        check(r.cmd("DELETE INBOX")[1].startswith(b"NO"), "DELETE INBOX: NO")
        check(r.cmd("DELETE Mailing")[1].startswith(b"NO"), "DELETE of a missing mailbox: NO")
        check(r.cmd("DELETE Job.Projects.2024")[1].startswith(b"OK"), "DELETE of a child")
        check("\\hasnochildren" in boxes(r)["Job.Projects"], "its parent now has \\HasNoChildren")
        check(r.cmd("SELECT Mailing")[1].startswith(b"NO"), "SELECT of a deleted mailbox: NO")
        check(len(message_files(user_dir)) == len(SAMPLES), "INBOX was not touched")

        # A mailbox deleted and created again, at once and repeatedly, gets a new UIDVALIDITY each
        # time (RFC 3501 2.3.1.1), so a client's cached UID 1 never names another message.
        seen = []
        for _ in range(3):
            r.ok("CREATE Again")
            r.ok("APPEND Again ", Lit(b"Subject: again\r\n\r\nx\r\n"))
            status = r.ok("STATUS Again (UIDVALIDITY UIDNEXT)")[0]
            seen.append(int(re.search(rb"UIDVALIDITY (\d+)", status).group(1)))
            r.ok("DELETE Again")
        check(len(set(seen)) == 3 and seen == sorted(seen), "three re-creations, three rising UIDVALIDITYs: %s" % seen)

        # SUBSCRIBE / LSUB, kept across sessions.
        r.ok("SUBSCRIBE Job")
        r.ok('SUBSCRIBE "Sent Items"')
        r.ok("SUBSCRIBE INBOX")
        check(set(boxes(r, "LSUB")) == {"Job", "Sent Items", "INBOX"}, "LSUB lists the subscriptions: %s" % boxes(r, "LSUB"))
        r.ok("UNSUBSCRIBE INBOX")
        r.cmd("LOGOUT")
        r.close()
        r = m.iraw("alice")
        check(set(boxes(r, "LSUB")) == {"Job", "Sent Items"}, "a new session sees the same subscriptions")
        r.ok("RENAME Job Work")
        check(r.ok("LSUB \"\" \"Nothing*\"") == [], "LSUB with a pattern that matches nothing")
        # RFC 3501 6.3.9: "%" stops at the delimiter, so a subscribed child shows as its unsubscribed
        # parent, flagged \Noselect (once, however many children); a subscribed parent as itself.
        r.ok("CREATE Work.Projects.2024")
        r.ok("CREATE Work.Other")
        r.ok("SUBSCRIBE Work.Projects")
        r.ok("SUBSCRIBE Work.Projects.2024")
        r.ok("SUBSCRIBE Work.Other")
        lsub = boxes(r, "LSUB", "%")
        check(lsub.get("Work") == {"\\noselect"} and "Work.Projects" not in lsub and "Sent Items" in lsub,
              "LSUB \"\" %%: Work (\\Noselect) for its subscribed children: %s" % lsub)
        lines = [l for l in r.ok('LSUB "" %') if b'"Work"' in l]
        check(len(lines) == 1, "the parent once, not once per child: %r" % lines)
        lsub = boxes(r, "LSUB", "Work.%")
        check(set(lsub) == {"Work.Projects", "Work.Other"} and lsub["Work.Projects"] == set(),
              "LSUB \"\" Work.%%: the subscribed children as themselves: %s" % lsub)
        r.ok("UNSUBSCRIBE Work.Projects")
        lsub = boxes(r, "LSUB", "Work.%")
        check(lsub.get("Work.Projects") == {"\\noselect"}, "unsubscribed with a subscribed child: \\Noselect: %s" % lsub)
        for n in ("Work.Projects.2024", "Work.Other"):
            r.ok("UNSUBSCRIBE " + n)
            r.ok("DELETE " + n)

        # Names that try to leave the user's directory (or are not names at all).
        before = all_dirs(root.dir)
        bob_files = {n: open(os.path.join(root.mail, "bob", n.split("/")[0], n.split("/")[1]), "rb").read()
                     for n in message_files(os.path.join(root.mail, "bob")).values()}
        bad_names = ["../bob", "../../etc", "Work/../../bob", "a/b", "/tmp/evil", "/" + root.mail + "/bob",
                     "..", ".", ""]
        control = ["x\x01y", "tab\there", "del\x7f"]
        for name in bad_names + control:
            arg = Lit(name.encode()) if any(ord(ch) < 32 or ord(ch) == 127 for ch in name) else '"%s"' % name
            for cmd in ("CREATE ", "SELECT ", "EXAMINE ", "DELETE ", "STATUS ", "SUBSCRIBE "):
                pieces = [cmd, arg] + ([" (MESSAGES)"] if cmd == "STATUS " else [])
                check(refused(r.cmd(*pieces)[1]), "%s%r is refused" % (cmd, name))
            check(refused(r.cmd("RENAME Work ", arg)[1]), "RENAME Work -> %r is refused" % name)
            check(refused(r.cmd("APPEND ", arg, " ", Lit(b"Subject: x\r\n\r\nx\r\n"))[1]), "APPEND to %r is refused" % name)
        r.ok("SELECT INBOX")
        for name in ("../bob", "/tmp/evil", "a/b", ".."):
            check(refused(r.cmd('COPY 1 "%s"' % name)[1]), "COPY to %r is refused" % name)
        check(all_dirs(root.dir) == before, "no directory was created or removed anywhere: %s" % (all_dirs(root.dir) ^ before))
        check(is_maildir(os.path.join(user_dir, ".Work")), "Work is still there")
        after_bob = {n: open(os.path.join(root.mail, "bob", n.split("/")[0], n.split("/")[1]), "rb").read()
                     for n in message_files(os.path.join(root.mail, "bob")).values()}
        check(after_bob == bob_files, "bob's mail is untouched")
        check(not os.path.exists("/tmp/evil") and not find_message(os.path.join(root.mail, "bob"), b"Subject: x\r\n\r\nx\r\n"),
              "nothing was appended outside alice's folders")
        check(fetches(r.ok("FETCH 1 BODY.PEEK[]"))[1]["BODY[]"] == crlf(SAMPLES[0][1]), "the session still works")
        check(m.stop() == 0, "clean exit")
print("PASS")
