"""mbsync (isync 1.4.4) against maild, with the configuration in doc/clients.md: a pull of INBOX and a
folder (the messages' bytes arrive; line ends and mbsync's X-TUID header aside), a second run that
changes nothing, a maild restart that mbsync does not notice (same UIDVALIDITY, nothing downloaded
again), a push of a local message (Sync All: APPEND with UIDPLUS; it appears in maild's Maildir) and
Expunge Both (a message flagged deleted on either side disappears on both)."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import (SAMPLES, SKIP, Maild, Root, check, flags_of, mailbox_dir, message_files,  # noqa: E402
                       read_file, time_limit)

exe = sys.argv[1]
if not shutil.which("mbsync"):
    print("SKIP: mbsync (isync) is not installed")
    sys.exit(SKIP)
time_limit(55)

ARCHIVE = [
    ("1700000101.M1P1.arch", b"From: old@example.org\r\nSubject: archived one\r\nMessage-ID: <arch1@test>\r\n\r\nold mail\r\n"),
    ("1700000102.M2P2.arch", b"From: old@example.org\nSubject: archived two, LF\nMessage-ID: <arch2@test>\n\nolder mail\n"),
]


def lf(data):
    """Line ends and the X-TUID header mbsync adds for its own bookkeeping normalised away."""
    text = data.replace(b"\r\n", b"\n")
    head, sep, body = text.partition(b"\n\n")
    head = b"\n".join(l for l in head.split(b"\n") if not l.lower().startswith(b"x-tuid:"))
    return head + sep + body


def local_messages(d, box):
    """{file name: bytes with LF ends} of the local Maildir box (mbsync's own names)."""
    out = {}
    for sub in ("cur", "new"):
        p = os.path.join(d, "mail", box, sub)
        if os.path.isdir(p):
            for n in os.listdir(p):
                out[sub + "/" + n] = lf(read_file(os.path.join(p, n)))
    return out


def server_messages(root, box):
    d = mailbox_dir(root, "alice", box)
    return {n: read_file(os.path.join(d, n)) for n in message_files(d).values()}


def mbsync(d, port, sync="Pull", expunge=None):
    conf = os.path.join(d, "mbsyncrc")
    with open(conf, "w") as f:
        f.write("IMAPAccount t\nHost 127.0.0.1\nPort %d\nUser alice\nPass \"open sesame\"\nSSLType None\n"
                "AuthMechs LOGIN\n\n" % port)
        f.write("IMAPStore t-remote\nAccount t\n\n")
        f.write("MaildirStore local\nPath %s/mail/\nInbox %s/mail/INBOX\nSubFolders Verbatim\n\n" % (d, d))
        f.write("Channel t\nFar :t-remote:\nNear :local:\nPatterns *\nCreate Near\nSyncState *\nSync %s\n" % sync)
        if expunge:
            f.write("Expunge %s\n" % expunge)
    r = subprocess.run(["mbsync", "-c", conf, "-V", "t"], capture_output=True, timeout=30, env=dict(os.environ, HOME=d))
    return r


def out(r):
    return (r.stdout + r.stderr).decode(errors="replace").strip()[-600:]


def far_uidvalidities(d):
    """The far side's UIDVALIDITY per box from mbsync's sync state files."""
    got = {}
    for box in ("INBOX", "Archive"):
        p = os.path.join(d, "mail", box, ".mbsyncstate")
        if os.path.exists(p):
            m = re.search(rb"^FarUidValidity (\d+)", read_file(p), re.M)
            got[box] = m and m.group(1)
    return got


with Root() as root:
    root.deliver_samples("alice")
    for base, data in ARCHIVE:
        d = mailbox_dir(root, "alice", "Archive")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        with open(os.path.join(d, "cur", base + ":2,S"), "wb") as f:
            f.write(data)
    d = os.path.join(root.dir, "mbsync")
    os.makedirs(os.path.join(d, "mail"))
    want = {"INBOX": sorted(lf(x) for _, x in SAMPLES), "Archive": sorted(lf(x) for _, x in ARCHIVE)}

    with Maild(exe, root, imap=True) as m:
        # Pull everything.
        r = mbsync(d, m.imap_port)
        check(r.returncode == 0, "mbsync pull exits 0 (%s)" % out(r))
        for box in ("INBOX", "Archive"):
            got = local_messages(d, box)
            check(sorted(got.values()) == want[box], "%s: the %d messages arrived exactly (line ends aside)" % (box, len(want[box])))
        first = {box: local_messages(d, box) for box in ("INBOX", "Archive")}
        server_first = {box: server_messages(root, box) for box in ("INBOX", "Archive")}
        validity = far_uidvalidities(d)
        check(set(validity) == {"INBOX", "Archive"} and all(validity.values()), "mbsync recorded both UIDVALIDITYs: %s" % validity)

        # Again: nothing changes, nothing is fetched twice.
        r = mbsync(d, m.imap_port)
        check(r.returncode == 0, "a second pull exits 0 (%s)" % out(r))
        check({box: local_messages(d, box) for box in ("INBOX", "Archive")} == first, "the second pull changed nothing locally")
        check({box: server_messages(root, box) for box in ("INBOX", "Archive")} == server_first,
              "nor on the server (Sync Pull)")
        check(m.stop() == 0, "clean exit")

    # A restart: mbsync must not see a new UIDVALIDITY or download anything again.
    with Maild(exe, root, imap=True) as m:
        r = mbsync(d, m.imap_port)
        check(r.returncode == 0 and b"uidvalidity" not in (r.stdout + r.stderr).lower(),
              "a pull after a maild restart exits 0, no UIDVALIDITY complaint (%s)" % out(r))
        check(far_uidvalidities(d) == validity, "the UIDVALIDITYs are the same after the restart")
        check({box: local_messages(d, box) for box in ("INBOX", "Archive")} == first, "nothing was downloaded again")

        # Push a local message (Sync All): it appears in maild's Maildir.
        local = b"From: near@example.org\nSubject: written locally\nMessage-ID: <near@test>\n\npushed by mbsync\n"
        with open(os.path.join(d, "mail", "INBOX", "new", "1700000200.local.host"), "wb") as f:
            f.write(local)
        r = mbsync(d, m.imap_port, sync="All")
        check(r.returncode == 0, "mbsync Sync All (push) exits 0 (%s)" % out(r))
        pushed = [(n, b) for n, b in server_messages(root, "INBOX").items()
                  if lf(b) == local]
        check(len(pushed) == 1, "the local message is in maild's INBOX exactly once: %s" % [n for n, _ in pushed])
        check(len(server_messages(root, "INBOX")) == len(SAMPLES) + 1, "INBOX on the server has %d messages" % (len(SAMPLES) + 1))
        r = mbsync(d, m.imap_port, sync="All")
        check(r.returncode == 0 and len(server_messages(root, "INBOX")) == len(SAMPLES) + 1
              and len(local_messages(d, "INBOX")) == len(SAMPLES) + 1, "a second Sync All duplicates nothing (%s)" % out(r))

        # Expunge Both: deleted locally -> gone on both sides.
        victim = lf(SAMPLES[1][1])
        name = [n for n, b in local_messages(d, "INBOX").items() if b == victim][0]
        path = os.path.join(d, "mail", "INBOX", name)
        new_name = name.replace("new/", "cur/")
        if ":2," not in new_name:
            new_name += ":2,"
        head, _, fl = new_name.partition(":2,")
        os.rename(path, os.path.join(d, "mail", "INBOX", head + ":2," + "".join(sorted(set(fl + "T")))))
        r = mbsync(d, m.imap_port, sync="All", expunge="Both")
        check(r.returncode == 0, "mbsync Sync All + Expunge Both exits 0 (%s)" % out(r))
        check(victim not in local_messages(d, "INBOX").values(), "the message flagged deleted locally is gone locally")
        check(victim not in {lf(b) for b in server_messages(root, "INBOX").values()}, "... and from maild's Maildir")

        # Deleted on the server (STORE \Deleted, no expunge) -> gone on both sides.
        victim2 = lf(SAMPLES[2][1])
        r2 = m.iraw("alice")
        r2.ok("SELECT INBOX")
        f = r2.ok("SEARCH HEADER Message-ID \"<lf@test>\"")
        seq = int([u for u in f if u.startswith(b"* SEARCH")][0].split()[2])
        r2.ok("STORE %d +FLAGS.SILENT (\\Deleted)" % seq)
        r2.cmd("LOGOUT")
        r2.close()
        r = mbsync(d, m.imap_port, sync="All", expunge="Both")
        check(r.returncode == 0, "mbsync again exits 0 (%s)" % out(r))
        check(victim2 not in local_messages(d, "INBOX").values(), "the message deleted on the server is gone locally")
        check(victim2 not in {lf(b) for b in server_messages(root, "INBOX").values()}, "... and expunged on the server")
        left_local = sorted(local_messages(d, "INBOX").values())
        left_server = sorted(lf(b) for b in server_messages(root, "INBOX").values())
        check(left_local == left_server and len(left_local) == len(SAMPLES) - 1,
              "both sides hold the same %d messages" % (len(SAMPLES) - 1))
        check(not any("\\Deleted" in flags_of(n) for n in message_files(mailbox_dir(root, "alice")).values()),
              "no \\Deleted message is left in maild's Maildir")
        check(m.stop() == 0, "clean exit")
print("PASS")
