"""Damaged or failing stores get well-formed, truthful IMAP replies: a Maildir name whose ,W= size
lies (far too big, or too small) is not taken for the size, and a file that changes under its
recorded size still gets FETCH literals of exactly the bytes sent, and maild survives; an empty message (APPEND {0}) fetches and searches cleanly (this one matters under
UBSan: no null pointer reaches memchr); STORE on a read-only store is NO [NOPERM], not
[EXPUNGEISSUED]; COPY into a mailbox with no keyword letter left is NO [LIMIT]; a keyword that cannot be saved on a full disk is NO [OVERQUOTA] and a 27th
keyword NO [LIMIT], neither of them BAD. The last two need root to mount a read-only bind and a
small tmpfs; without that they are skipped, saying why."""
import errno
import os
import subprocess
import sys

from maildtest import Lit, Maild, Root, check, crlf, fetches, time_limit

exe = sys.argv[1]
time_limit(60)


def mount(*args):
    """Runs mount; None when it worked, else why not."""
    if os.geteuid() != 0:
        return "not root"
    r = subprocess.run(["mount"] + list(args), capture_output=True, text=True, timeout=20)
    return None if r.returncode == 0 else (r.stderr.strip() or "mount failed")


def umount(path):
    if subprocess.run(["umount", path], capture_output=True, timeout=20).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=20)


LIE_BIG = b"From: liar@example.org\nSubject: my size lies\n\nThe name says 99999999999 bytes.\nLF only.\n"
LIE_SMALL = b"From: liar@example.org\nSubject: small lie\n\nThe name says 3 bytes, there are more.\n"
# What the two files first hold (indexed with these sizes), before LIE_* replace them in place.
FIRST_BIG = LIE_BIG + b"x" * 200 + b"\n"
FIRST_SMALL = b"Subject: s\n\nx\n"


def lying_sizes(m, root):
    a = m.iraw("alice")
    a.ok("SELECT INBOX")
    for seq, data in ((1, FIRST_BIG), (2, FIRST_SMALL)):
        f = fetches(a.ok("FETCH %d (RFC822.SIZE)" % seq))[seq]
        check(f["RFC822.SIZE"] == str(len(crlf(data))), "message %d: the store did not take its lying ,W= name "
              "for its size: RFC822.SIZE %s" % (seq, f["RFC822.SIZE"]))
    # The recorded sizes lie from now on: the files change under them (a writer that should not).
    cur = os.path.join(root.maildir("alice"), "cur")
    for name in os.listdir(cur):
        data = LIE_BIG if ".M1P1." in name else LIE_SMALL if ".M2P2." in name else None
        if data is not None:
            with open(os.path.join(cur, name), "wb") as fh:
                fh.write(data)
    for seq, data in ((1, LIE_BIG), (2, LIE_SMALL)):
        f = fetches(a.ok("FETCH %d (BODY.PEEK[])" % seq))[seq]
        check(f["BODY[]"] == crlf(data), "message %d with a lying ,W= name: BODY[] is a literal of exactly its "
              "%d bytes" % (seq, len(crlf(data))))
        f = fetches(a.ok("FETCH %d (RFC822.SIZE BODY.PEEK[]<2.5> BODY.PEEK[TEXT] RFC822)" % seq))[seq]
        check(f["BODY[]<2>"] == crlf(data)[2:7] and f["RFC822"] == crlf(data) and
              f["BODY[TEXT]"] == crlf(data).split(b"\r\n\r\n", 1)[1] and f["RFC822.SIZE"].isdigit(),
              "message %d: partial, TEXT and RFC822 literals are exact, RFC822.SIZE a number" % seq)
    check(m.proc.poll() is None, "maild survives")
    b = m.iraw("bob")
    b.ok("SELECT INBOX")
    b.ok("NOOP")
    check("uid 1 has" in m.log_text() and "uid 2 has" in m.log_text(), "each size mismatch is logged")
    a.ok("LOGOUT")
    b.ok("LOGOUT")


def empty_message(m):
    a = m.iraw("alice")
    untagged, done = a.cmd("APPEND INBOX ", Lit(b""))
    check(done.startswith(b"OK"), "APPEND of an empty message: %r" % done)
    untagged = a.ok("SELECT INBOX")
    n = max(int(u.split()[1]) for u in untagged if u.endswith(b" EXISTS"))
    for items in ("BODYSTRUCTURE", "ENVELOPE", "BODY", "BODY.PEEK[]", "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]",
                  "BODY.PEEK[1]", "RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (Subject)]", "BODY.PEEK[]<0.10>"):
        f = fetches(a.ok("FETCH %d (%s)" % (n, items)))
        check(n in f, "FETCH of the empty message: %s" % items)
    f = fetches(a.ok("FETCH %d (BODY.PEEK[] RFC822.SIZE)" % n))[n]
    check(f["BODY[]"] == b"" and f["RFC822.SIZE"] == "0", "its BODY[] is {0} and RFC822.SIZE 0")
    got = a.ok("SEARCH TEXT nothing")
    got += a.ok("SEARCH BODY nothing HEADER Subject x")
    check(got == [b"* SEARCH", b"* SEARCH"], "SEARCH over it finds nothing: %r" % got)
    check(m.proc.poll() is None, "maild survives")
    a.ok("LOGOUT")


def read_only_store(m, root):
    inbox = root.maildir("alice")
    a = m.iraw("alice")
    a.ok("SELECT INBOX")
    why = mount("--bind", inbox, inbox)
    if why is None:
        why = mount("-o", "remount,bind,ro", inbox)
        if why is not None:
            umount(inbox)
    if why is not None:
        print("SKIP: STORE on a read-only store: cannot mount (%s)" % why, flush=True)
        return
    try:
        before = sorted(os.listdir(os.path.join(inbox, "cur")))
        _, done = a.cmd("STORE 1 +FLAGS (\\Flagged)")
        check(done.startswith(b"NO [NOPERM]"), "STORE on a read-only store: NO [NOPERM], no EXPUNGEISSUED: %r" % done)
        _, done = a.cmd("UID STORE 1:* +FLAGS.SILENT (\\Answered)")
        check(done.startswith(b"NO [NOPERM]"), "UID STORE too: %r" % done)
        check(sorted(os.listdir(os.path.join(inbox, "cur"))) == before, "nothing changed on disk")
    finally:
        umount(inbox)
    _, done = a.cmd("STORE 1 +FLAGS (\\Flagged)")
    check(done.startswith(b"OK"), "writable again, the same STORE works: %r" % done)
    a.ok("LOGOUT")


def copy_keywords(m):
    """Keywords travel by name to the target's own letters; a target whose 26 letters are all
    taken refuses the whole COPY with NO [LIMIT] rather than drop a keyword."""
    a = m.iraw("alice")
    a.ok("CREATE Full")
    a.ok("APPEND Full (%s) " % " ".join("f%d" % k for k in range(26)), Lit(b"Subject: f\r\n\r\nf\r\n"))
    a.ok("SELECT INBOX")
    a.ok("STORE 1 +FLAGS.SILENT (mine f25)")
    _, done = a.cmd("COPY 1 Full")
    check(done.startswith(b"NO [LIMIT]"), "COPY of a keyword the target has no letter for: NO [LIMIT]: %r" % done)
    a.ok("STORE 1 -FLAGS.SILENT (mine)")
    _, done = a.cmd("COPY 1 Full")
    check(done.startswith(b"OK"), "COPY of a keyword the target knows: OK: %r" % done)
    status = a.ok("STATUS Full (MESSAGES)")
    check(status and b"MESSAGES 2" in status[0], "Full holds the APPEND and one copy, not the refused one: %r" % status)
    a.ok("SELECT Full")
    got = fetches(a.ok("FETCH 2 FLAGS"))
    check("f25" in got[2]["FLAGS"] and "mine" not in got[2]["FLAGS"], "the copy keeps f25 by name: %r" % got)
    a.ok("LOGOUT")


def full_disk(exe):
    with Root() as root:
        why = mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", root.mail)
        if why is not None:
            print("SKIP: keywords on a full disk: cannot mount a tmpfs (%s)" % why, flush=True)
            return
        try:
            root.deliver("alice", "1700000001.M1P1.full", b"Subject: full\n\nbody\n", "new")
            with Maild(exe, root, imap=True, pop3=False) as m:
                a = m.iraw("alice")
                a.ok("SELECT INBOX")
                filler = os.path.join(root.mail, "filler")
                try:
                    with open(filler, "wb") as f:
                        while True:
                            f.write(b"\0" * 65536)
                            f.flush()
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                _, done = a.cmd("STORE 1 +FLAGS (newkeyword)")
                check(done.startswith(b"NO [OVERQUOTA]"),
                      "a new keyword that cannot be saved on a full disk: NO [OVERQUOTA], not BAD: %r" % done)
                os.unlink(filler)
                for k in range(26):
                    a.ok("STORE 1 +FLAGS.SILENT (kw%d)" % k)
                _, done = a.cmd("STORE 1 +FLAGS (kw26)")
                check(done.startswith(b"NO [LIMIT]"), "a 27th keyword: NO [LIMIT], not BAD: %r" % done)
                _, done = a.cmd("STORE 1 +FLAGS (\\Bogus)")
                check(done.startswith(b"BAD"), "an unknown system flag is still BAD: %r" % done)
                a.ok("LOGOUT")
        finally:
            umount(root.mail)


with Root() as root:
    root.deliver("alice", "1700000001.M1P1.lie,W=99999999999", FIRST_BIG, "new")
    root.deliver("alice", "1700000002.M2P2.lie,W=3", FIRST_SMALL, "new")
    root.deliver("bob", "1700000003.M3P3.other", b"Subject: bob\n\nhello\n", "new")
    with Maild(exe, root, imap=True, pop3=False) as m:
        lying_sizes(m, root)
        empty_message(m)
        read_only_store(m, root)
        copy_keywords(m)
full_disk(exe)
print("all ok")
