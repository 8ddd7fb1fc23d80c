"""The UPDATE state: DELE is applied only at QUIT, not when the connection drops, not on SIGTERM;
RSET undeletes; UIDLs and UIDVALIDITY are stable across a restart; UIDs are never reused;
mail dropped into new/ while maild runs appears in the next session; one session per user."""
import os
import signal
import sys
import time

from maildtest import SAMPLES, Maild, Root, check, crlf, time_limit

exe = sys.argv[1]
time_limit(50)


def uidl_map(m):
    p = m.pop("alice")
    _, lines, _ = p.uidl()
    p.quit()
    return [l.split()[1].decode() for l in lines]


with Root() as root:
    root.deliver_samples("alice")
    with Maild(exe, root) as m:
        uids_before = uidl_map(m)
        uidlist = open(os.path.join(root.mail, "alice", "maild-uidlist")).read()

        # DELE then drop the connection: nothing is deleted.
        r = m.raw()
        r.login("alice")
        check(r.cmd("DELE 1").startswith(b"+OK"), "DELE 1")
        check(r.cmd("RETR 1").startswith(b"-ERR"), "a deleted message cannot be retrieved")
        check(r.cmd("DELE 1").startswith(b"-ERR"), "a deleted message cannot be deleted twice")
        check(r.cmd("STAT").startswith(b"+OK 3 "), "STAT leaves out deleted messages")
        r.close()
        time.sleep(0.3)
        check(len(root.files("alice", "cur")) == 4, "a dropped session deletes nothing")

        # DELE, RSET, QUIT: nothing is deleted.
        p = m.pop("alice")
        p.dele(2)
        p.rset()
        check(p.stat()[0] == 4, "RSET undeletes")
        p.quit()
        check(len(root.files("alice", "cur")) == 4, "DELE + RSET + QUIT deletes nothing")

        # DELE then SIGTERM: maild exits 0 and deletes nothing.
        r = m.raw()
        r.login("alice")
        check(r.cmd("DELE 1").startswith(b"+OK"), "DELE 1 before SIGTERM")
        check(m.stop(signal.SIGTERM) == 0, "SIGTERM: maild exits 0")
        check(r.at_eof(5), "SIGTERM closes the session")
        check(len(root.files("alice", "cur")) == 4, "SIGTERM deletes nothing")

    # Restart: same UIDLs, same uidlist.
    with Maild(exe, root) as m:
        check(uidl_map(m) == uids_before, "UIDLs are stable across a restart")
        check(open(os.path.join(root.mail, "alice", "maild-uidlist")).read() == uidlist,
              "the uidlist is unchanged by a restart")

        # One session per user.
        p = m.pop("alice")
        r = m.raw()
        r.cmd("USER alice")
        check(r.cmd("PASS open sesame").startswith(b"-ERR [IN-USE]"), "a second session gets -ERR [IN-USE]")
        r.close()

        # DELE 1 and 3, QUIT: both files go, the rest stay.
        p.dele(1)
        p.dele(3)
        p.quit()
        left = root.files("alice", "cur")
        check(len(left) == 2 and not any(f.startswith(SAMPLES[0][0]) or f.startswith(SAMPLES[2][0]) for f in left),
              "DELE + QUIT removes exactly messages 1 and 3: %s" % left)
        uids_after = uidl_map(m)
        check(uids_after == [uids_before[1], uids_before[3]], "surviving messages keep their UIDLs")

        # New mail dropped into new/ while maild runs, by another delivery agent.
        newmsg = b"From: late@example.org\nSubject: late\n\nArrived while maild ran.\n"
        root.deliver("alice", "1800000000.M9P9.other", newmsg, "new")
        p = m.pop("alice")
        count, _ = p.stat()
        check(count == 3, "new mail appears in the next session")
        _, lines, _ = p.retr(3)
        check(b"\r\n".join(lines) + b"\r\n" == crlf(newmsg), "the new message is byte-exact")
        _, lines, _ = p.uidl()
        new_uid = int(lines[2].split()[1].split(b".")[1])
        old_max = max(int(u.split(".")[1]) for u in uids_before)
        check(new_uid > old_max, "the new message gets a UID above every earlier one (%d > %d)" % (new_uid, old_max))
        p.quit()
        check(root.files("alice", "new") == [], "the new message was moved to cur/")
        check(m.stop() == 0, "clean exit")

    # The uidlist lost: a new UIDVALIDITY, so clients know the UIDLs changed.
    os.unlink(os.path.join(root.mail, "alice", "maild-uidlist"))
    time.sleep(1.1)  # UIDVALIDITY is a timestamp
    with Maild(exe, root) as m:
        fresh = uidl_map(m)
        check(not set(fresh) & set(uids_after), "a lost uidlist gives new UIDLs, never old ones reused")
print("PASS")
