"""mbsync (isync 1.4.4) using the IMAP extensions maild offers, read from its protocol trace
(`-Dn`): with the far store's `Trash` set and `Expunge Both`, a sync sends NAMESPACE, pushes a
local message as `APPEND "INBOX" {n+}` (LITERAL+) and takes its UID from `[APPENDUID v uid]`
(UIDPLUS), moves a message deleted on either side into the server's Trash with `UID MOVE uid
"Trash"` (MOVE; no UID COPY) and expunges it with `UID EXPUNGE uid` (UIDPLUS); when maild offers
COMPRESS=DEFLATE (built with zlib), mbsync turns it on first and the whole sync runs compressed
(RFC 4978). The result on both
sides: the pushed message in maild's INBOX once, byte-exact (line ends and X-TUID aside); each
deleted message gone from INBOX on both sides and in maild's Trash, exact; both INBOXes hold the
same messages; a further run sends no APPEND, MOVE or EXPUNGE and changes nothing."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import (SAMPLES, SKIP, Maild, Root, check, mailbox_dir, message_files,  # noqa: E402
                       read_file, search_result, time_limit)

exe = sys.argv[1]
if not shutil.which("mbsync"):
    print("SKIP: mbsync (isync) is not installed")
    sys.exit(SKIP)
time_limit(60)
COMPRESS = os.environ.get("MAILD_COMPRESS") == "1"


def lf(data):
    """Line ends and mbsync's X-TUID header normalised away."""
    text = data.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    head = b"\n".join(l for l in head.split(b"\n") if not l.lower().startswith(b"x-tuid:"))
    return head + sep + body


def local_inbox(d):
    out = {}
    for sub in ("cur", "new"):
        p = os.path.join(d, "mail", "INBOX", sub)
        for n in os.listdir(p):
            out[sub + "/" + n] = lf(read_file(os.path.join(p, n)))
    return out


def server_box(root, box):
    d = mailbox_dir(root, "alice", box)
    return sorted(lf(read_file(os.path.join(d, n))) for n in message_files(d).values())


def mbsync(d, port):
    """One run with the far store's Trash; (exit code, the commands mbsync sent, whole output)."""
    conf = os.path.join(d, "mbsyncrc")
    with open(conf, "w") as f:
        f.write("IMAPAccount t\nHost 127.0.0.1\nPort %d\nUser alice\nPass \"open sesame\"\nSSLType None\n"
                "AuthMechs LOGIN\n\n" % port)
        f.write("IMAPStore t-remote\nAccount t\nTrash Trash\n\n")
        f.write("MaildirStore local\nPath %s/mail/\nInbox %s/mail/INBOX\nSubFolders Verbatim\n\n" % (d, d))
        f.write("Channel t\nFar :t-remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSyncState *\n"
                "Sync All\nExpunge Both\n")
    r = subprocess.run(["mbsync", "-c", conf, "-Dn", "t"], capture_output=True, timeout=30,
                       env=dict(os.environ, HOME=d))
    text = (r.stdout + r.stderr).decode(errors="replace")
    # ">>> 8 APPEND ..." (pipelined ones prefixed "(n in progress) ").
    sent = [m.group(1) for m in (re.search(r">>> \d+ (.*)$", l.rstrip("\r")) for l in text.splitlines()) if m]
    return r.returncode, sent, text


def server_uid(m, message_id):
    r = m.iraw("alice")
    r.ok("EXAMINE INBOX")
    found = search_result(r.ok("UID SEARCH HEADER Message-ID \"%s\"" % message_id))
    r.ok("LOGOUT")
    check(len(found) == 1, "%s is UID %s on the server" % (message_id, found))
    return found[0]


def tail(text):
    """The end of mbsync's output on one line, for a failure message."""
    return " | ".join(text.strip().splitlines()[-6:])[-600:]


with Root() as root:
    root.deliver_samples("alice")
    trash = mailbox_dir(root, "alice", "Trash")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(trash, sub))
    d = os.path.join(root.dir, "mbsync")
    os.makedirs(os.path.join(d, "mail"))

    with Maild(exe, root, imap=True) as m:
        code, sent, text = mbsync(d, m.imap_port)
        check(code == 0, "first sync exits 0 (%s)" % tail(text))
        check("NAMESPACE" in sent, "mbsync asked for the NAMESPACE")
        if COMPRESS:
            check("COMPRESS DEFLATE" in sent, "mbsync turned on COMPRESS=DEFLATE (and synced through it)")
        check(sorted(local_inbox(d).values()) == sorted(lf(x) for _, x in SAMPLES),
              "the %d messages arrived" % len(SAMPLES))

        # A new local message and one deleted locally.
        pushed = b"From: near@example.org\nSubject: written locally\nMessage-ID: <near@test>\n\npushed by mbsync\n"
        with open(os.path.join(d, "mail", "INBOX", "new", "1700000300.local.host"), "wb") as f:
            f.write(pushed)
        victim = lf(SAMPLES[0][1])
        victim_uid = server_uid(m, "<one@test>")
        name = [n for n, b in local_inbox(d).items() if b == victim][0]
        head, _, fl = name.replace("new/", "cur/").partition(":2,")
        os.rename(os.path.join(d, "mail", "INBOX", name),
                  os.path.join(d, "mail", "INBOX", head + ":2," + "".join(sorted(set(fl + "T")))))
        code, sent, text = mbsync(d, m.imap_port)
        check(code == 0, "sync with a push and a local deletion exits 0 (%s)" % tail(text))
        appends = [c for c in sent if c.startswith("APPEND ")]
        check(len(appends) == 1 and re.fullmatch(r'APPEND "INBOX" (\(.*\) )?\{\d+\+\}', appends[0]),
              "LITERAL+: the push is one APPEND with a non-synchronizing literal: %s" % appends)
        check(re.search(r"^\d+ OK \[APPENDUID \d+ \d+\]", text, re.M) is not None and
              "UID SEARCH" not in " ".join(sent) and not any("X-TUID" in c for c in sent),
              "UIDPLUS: mbsync took the new UID from [APPENDUID] (no search for its X-TUID)")
        check('UID MOVE %d "Trash"' % victim_uid in sent,
              "MOVE: the message deleted locally (server UID %d) went to Trash by UID MOVE: %s" %
              (victim_uid, [c for c in sent if "MOVE" in c or "COPY" in c]))
        check(not any(c.startswith("UID COPY") for c in sent), "no UID COPY (the path without MOVE)")
        check("UID EXPUNGE %d" % victim_uid in sent,
              "UIDPLUS: the move is followed by UID EXPUNGE %d: %s" % (victim_uid, [c for c in sent if "EXPUNGE" in c or c == "CLOSE"]))
        server = server_box(root, "INBOX")
        check(server.count(lf(pushed)) == 1, "the pushed message is in maild's INBOX once")
        check(victim not in server and victim not in local_inbox(d).values(),
              "the deleted message is gone from INBOX on both sides")
        check(server_box(root, "Trash") == [victim], "it is in maild's Trash, exact")
        check(sorted(local_inbox(d).values()) == server, "both INBOXes hold the same %d messages" % len(server))

        # Deleted on the server (\Deleted, not expunged): moved to Trash the same way.
        victim2 = lf(SAMPLES[2][1])
        uid2 = server_uid(m, "<lf@test>")
        r2 = m.iraw("alice")
        r2.ok("SELECT INBOX")
        r2.ok("UID STORE %d +FLAGS.SILENT (\\Deleted)" % uid2)
        r2.ok("LOGOUT")
        code, sent, text = mbsync(d, m.imap_port)
        check(code == 0, "sync after a deletion on the server exits 0 (%s)" % tail(text))
        check('UID MOVE %d "Trash"' % uid2 in sent and "UID EXPUNGE %d" % uid2 in sent,
              "UID MOVE %d to Trash and UID EXPUNGE %d: %s" % (uid2, uid2, sent))
        server = server_box(root, "INBOX")
        check(victim2 not in server and victim2 not in local_inbox(d).values(),
              "the message deleted on the server is gone from INBOX on both sides")
        check(server_box(root, "Trash") == sorted([victim, victim2]), "Trash holds both deleted messages, exact")
        check(sorted(local_inbox(d).values()) == server and len(server) == len(SAMPLES) - 1,
              "both INBOXes hold the same %d messages" % len(server))

        # Nothing left to do: no APPEND, MOVE or EXPUNGE, nothing changes.
        before = (server, server_box(root, "Trash"), local_inbox(d))
        code, sent, text = mbsync(d, m.imap_port)
        check(code == 0 and not any(c.startswith(("APPEND", "UID MOVE", "UID EXPUNGE", "UID STORE")) for c in sent),
              "a further sync sends no APPEND, MOVE, STORE or EXPUNGE: %s" % sent)
        check((server_box(root, "INBOX"), server_box(root, "Trash"), local_inbox(d)) == before, "and changes nothing")
        check(m.stop() == 0, "clean exit")
print("PASS")
