"""fetchmail 6.4 -p IMAP against maild, as doc/clients.md runs it: keep mode fetches the unseen messages
(SEARCH UNSEEN UNDELETED, RFC822.HEADER, BODY.PEEK[TEXT]) and marks them \\Seen in the Maildir, so
a second run finds nothing and new mail alone is fetched next; delete mode (STORE \\Deleted,
EXPUNGE after each message, renumbering from the '* n EXPUNGE' replies) fetches everything and
empties the Maildir. What the MDA got must be the messages (LF line ends, Received: removed)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import SAMPLES, SKIP, Maild, Root, check, fetchmail_delivered, run_fetchmail, flags_of, message_files, time_limit  # noqa: E402

exe = sys.argv[1]
if not shutil.which("fetchmail"):
    print("SKIP: fetchmail is not installed")
    sys.exit(SKIP)
time_limit(55)


def normalise(data):
    """fetchmail's delivery back to the stored message, with a final newline."""
    out = fetchmail_delivered(data)
    return out if out.endswith(b"\n") else out + b"\n"


def fetch(root, port, mode, flags):
    return run_fetchmail(root, "IMAP", port, mode, flags)


def err(r):
    return (r.stdout + r.stderr).decode(errors="replace").strip()[-400:]


with Root() as root:
    root.deliver_samples("alice")
    inbox = os.path.join(root.mail, "alice")
    unseen_bases = {n.split(":2,")[0] for n in root.files("alice", "new")} | {
        n.split(":2,")[0] for n in root.files("alice", "cur") if "\\Seen" not in flags_of(n)}
    want_unseen = sorted(normalise(d) for b, d in SAMPLES if b in unseen_bases)
    check(0 < len(want_unseen) < len(SAMPLES), "the samples hold %d unseen messages (test data)" % len(want_unseen))
    with Maild(exe, root, imap=True) as m:
        r, got = fetch(root, m.imap_port, "keep", ["--keep"])
        check(r.returncode == 0, "fetchmail -p IMAP --keep exits 0 (%s)" % err(r))
        check(sorted(normalise(g) for g in got) == want_unseen, "it delivered the %d unseen messages exactly" % len(got))
        files = message_files(inbox)
        check(len(files) == len(SAMPLES) and all("\\Seen" in flags_of(n) for n in files.values()),
              "keep mode left every message, now \\Seen in its file name: %s" % sorted(files.values()))

        r, got = fetch(root, m.imap_port, "keep-again", ["--keep"])
        check(r.returncode == 1 and got == [], "a second --keep run finds no new mail (exit 1, %s)" % err(r))

        late = b"From: late@example.org\nSubject: late\nMessage-ID: <late@test>\n\nnew since the last run\n"
        root.deliver("alice", "1800000000.M7P7.test", late, "new")
        r, got = fetch(root, m.imap_port, "keep-new", ["--keep"])
        check(r.returncode == 0 and [normalise(g) for g in got] == [late],
              "only the new message is fetched (%s)" % err(r))

        r, got = fetch(root, m.imap_port, "keep-all", ["--keep", "--all"])
        check(r.returncode == 0 and sorted(normalise(g) for g in got) == sorted(normalise(d) for _, d in SAMPLES + [("", late)]),
              "--keep --all fetches all %d again (%s)" % (len(SAMPLES) + 1, err(r)))

        r, got = fetch(root, m.imap_port, "delete", ["--all"])
        check(r.returncode == 0, "fetchmail -p IMAP delete mode exits 0 (%s)" % err(r))
        check(sorted(normalise(g) for g in got) == sorted(normalise(d) for _, d in SAMPLES + [("", late)]),
              "delete mode delivered the %d messages exactly, once each" % len(got))
        check(message_files(inbox) == {}, "delete mode emptied the Maildir: %s" % message_files(inbox))

        r, got = fetch(root, m.imap_port, "empty", ["--all"])
        check(r.returncode == 1 and got == [], "an empty mailbox: fetchmail exits 1 (no mail)")
        check(m.stop() == 0, "clean exit")
print("PASS")
