"""curl against maild's IMAP, as doc/clients.md runs it: LIST, fetch by ;UID= and ;MAILINDEX= (byte-exact),
?UNSEEN (SEARCH UNSEEN, before and after fetching), upload with -T (APPEND, waits for '+'), -X 'UID STORE ... +FLAGS (\\Deleted)'
then -X EXPUNGE, exit 78 for a missing message, 67 for a bad password, --sasl-ir."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import (SAMPLES, SKIP, Maild, Root, check, crlf, curl, find_message, flags_of, mailbox_dir,  # noqa: E402
                       message_files, parse, text, time_limit)

exe = sys.argv[1]
if not shutil.which("curl"):
    print("SKIP: curl is not installed")
    sys.exit(SKIP)
time_limit(50)

with Root() as root:
    root.deliver_samples("alice")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(mailbox_dir(root, "alice", "Archive"), sub))
    inbox = mailbox_dir(root, "alice")
    unseen = [i for i, (b, _) in enumerate(SAMPLES, 1)
              if not any(n.startswith(b) and "\\Seen" in flags_of(n) for n in root.files("alice", "cur"))]
    with Maild(exe, root, imap=True) as m:
        url = "imap://127.0.0.1:%d/" % m.imap_port


        r = curl(url)
        listed = {text(parse(l)[4]) for l in r.stdout.split(b"\r\n") if l.startswith(b"* LIST")}
        check(r.returncode == 0 and listed == {"INBOX", "Archive"}, "curl imap://.../ lists INBOX and Archive: %s" % listed)

        r = curl(url + "INBOX?UNSEEN")
        check(r.returncode == 0 and r.stdout.startswith(b"* SEARCH") and
              [int(x) for x in r.stdout.split(b"\r\n")[0].split()[2:]] == unseen,
              "curl INBOX?UNSEEN (SEARCH UNSEEN) finds %s: %r" % (unseen, r.stdout[:80]))

        # UIDs: from a raw session (curl has no UID listing).
        s = m.iraw("alice")
        s.ok("EXAMINE INBOX")
        ids = [int(x) for x in [u for u in s.ok("UID SEARCH ALL") if u.startswith(b"* SEARCH")][0].split()[2:]]
        s.cmd("LOGOUT")
        s.close()

        for i, (uid, (_, data)) in enumerate(zip(ids, SAMPLES), 1):
            out = os.path.join(root.dir, "u%d.eml" % uid)
            r = curl(url + "INBOX/;UID=%d" % uid, "-o", out)
            check(r.returncode == 0 and open(out, "rb").read() == crlf(data), "curl INBOX/;UID=%d -o is byte-exact" % uid)
            r = curl(url + "INBOX/;MAILINDEX=%d" % i)
            check(r.returncode == 0 and r.stdout == crlf(data), "curl INBOX/;MAILINDEX=%d is byte-exact" % i)
        r = curl("--sasl-ir", url + "INBOX/;UID=%d" % ids[0])
        check(r.returncode == 0 and r.stdout == crlf(SAMPLES[0][1]), "curl --sasl-ir (AUTHENTICATE PLAIN with initial response)")
        r = curl(url + "INBOX?UNSEEN")
        check(r.returncode == 0 and [int(x) for x in r.stdout.split(b"\r\n")[0].split()[2:]] == [],
              "after curl fetched them (BODY[], not PEEK) nothing is unseen: %r" % r.stdout[:80])

        # Upload: APPEND INBOX (\Seen) {n}, the file appears with the bytes.
        msg = b"From: curl@example.org\r\nSubject: uploaded by curl\r\nMessage-ID: <curl@test>\r\n\r\nhello from curl\r\n"
        path = os.path.join(root.dir, "up.eml")
        with open(path, "wb") as f:
            f.write(msg)
        r = curl("-T", path, url + "INBOX")
        check(r.returncode == 0, "curl -T up.eml imap://.../INBOX (%s)" % r.stderr.decode().strip())
        found = find_message(inbox, msg)
        check(len(found) == 1 and "\\Seen" in flags_of(found[0]), "the uploaded message is in the Maildir, \\Seen: %s" % found)
        r = curl("-T", path, url + "Archive")
        check(r.returncode == 0 and len(find_message(mailbox_dir(root, "alice", "Archive"), msg)) == 1, "curl -T into Archive")

        # Delete by UID: STORE then EXPUNGE.
        r = curl("-X", "UID STORE %d +FLAGS (\\Deleted)" % ids[0], url + "INBOX")
        check(r.returncode == 0, "curl -X 'UID STORE %d +FLAGS (\\Deleted)'" % ids[0])
        base = SAMPLES[0][0]
        check("\\Deleted" in flags_of(message_files(inbox)[base]), "the file name got T")
        r = curl("-X", "EXPUNGE", url + "INBOX")
        check(r.returncode == 0 and base not in message_files(inbox), "curl -X EXPUNGE removed the file")
        r = curl(url + "INBOX/;UID=%d" % ids[0])
        check(r.returncode == 78, "fetching the expunged UID: curl exit 78 (got %d)" % r.returncode)
        r = curl(url + "INBOX/;UID=%d" % ids[1], user="alice:wrong")
        check(r.returncode == 67, "a wrong password: curl exit 67 (got %d)" % r.returncode)
        r = curl(url + "Nope/;UID=1")
        check(r.returncode != 0, "a missing mailbox fails (curl exit %d)" % r.returncode)
        check(m.stop() == 0, "clean exit")
print("PASS")
