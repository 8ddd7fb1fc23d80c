"""fetchmail 6.4 against maild, as doc/clients.md runs it: keep mode (LAST, UIDL, LIST n, RETR), then
delete mode (TOP n 99999999, DELE, QUIT). What the MDA got must be the sample messages (fetchmail
delivers LF line ends and adds a Received: line; both are normalised away)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import SAMPLES, SKIP, Maild, Root, check, fetchmail_delivered, run_fetchmail, time_limit  # noqa: E402

exe = sys.argv[1]
if not shutil.which("fetchmail"):
    print("SKIP: fetchmail is not installed")
    sys.exit(SKIP)
time_limit(55)


def stored_form(data):
    text = data.replace(b"\r\n", b"\n")
    return text if text.endswith(b"\n") else text + b"\n"


def fetch(root, port, mode, flags):
    return run_fetchmail(root, "POP3", port, mode, flags)


with Root() as root:
    root.deliver_samples("alice")
    want = sorted(stored_form(data) for _, data in SAMPLES)
    with Maild(exe, root) as m:
        def err(r):
            return r.stderr.decode(errors="replace").strip()[-300:]

        r, got = fetch(root, m.port, "keep-all", ["--keep", "--all"])
        check(r.returncode == 0, "fetchmail --keep --all exits 0 (%s)" % err(r))
        check(sorted(fetchmail_delivered(g) for g in got) == want, "it delivered the %d messages exactly" % len(got))
        check(len(root.files("alice", "cur")) == len(SAMPLES), "keep mode left the messages on the server")

        # Without --all fetchmail asks UIDL and records the ids it has seen.
        r, got = fetch(root, m.port, "keep-uidl", ["--keep"])
        check(r.returncode == 0 and sorted(fetchmail_delivered(g) for g in got) == want,
              "fetchmail --keep (UIDL mode) fetches the %d unseen messages" % len(got))

        late = b"From: late@example.org\nSubject: late\nMessage-ID: <late@test>\n\nnew since the last run\n"
        root.deliver("alice", "1800000000.M7P7.test", late, "new")
        r, got = fetch(root, m.port, "keep-new", ["--keep"])
        check(r.returncode == 0, "fetchmail --keep (new mail only, by UIDL) exits 0 (%s)" % err(r))
        check([fetchmail_delivered(g) for g in got] == [late], "only the new message was fetched: UIDLs are stable")

        r, got = fetch(root, m.port, "delete", ["--all"])
        check(r.returncode == 0, "fetchmail (delete mode) exits 0 (%s)" % err(r))
        check(sorted(fetchmail_delivered(g) for g in got) == sorted(want + [late]),
              "delete mode delivered the %d messages exactly" % len(got))
        check(root.files("alice", "cur") == [], "delete mode removed them from the server")
        log = m.log_text()
        check("command UIDL" in log and "command LAST" in log and "command DELE" in log,
              "fetchmail's LAST (-ERR), UIDL and DELE were answered")

        r, got = fetch(root, m.port, "again", ["--all"])
        check(r.returncode == 1 and got == [], "an empty mailbox: fetchmail exits 1 (no mail)")
        check(m.stop() == 0, "clean exit")
print("PASS")
