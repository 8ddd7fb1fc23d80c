"""IMAP commands by session state (RFC 3501 6.1-6.4), as maild's command table states them: each
command in each state gets the reply a client can rely on: what runs, "Log in first" before login,
"Already logged in" after it, "No mailbox selected" outside the selected state, [READ-ONLY] for
STORE, EXPUNGE and MOVE (UID forms too) after EXAMINE, ID in any state and ENABLE only before a
mailbox is selected, "Unknown command" for unknown verbs and UID
before a verb without a UID form, and nothing at all after LOGOUT."""
import sys

from maildtest import Maild, Root, check, time_limit

exe = sys.argv[1]
time_limit(40)


def expect(r, command, want):
    """`command`'s tagged reply (without the tag) starts with `want`."""
    _, done = r.cmd(command)
    check(done.startswith(want.encode()), "%s -> %r (want %r)" % (command, done, want))


LOGIN_FIRST = "BAD Log in first"
LOGGED_IN = "BAD Already logged in"
NOT_SELECTED = "BAD No mailbox selected"
READ_ONLY = "NO [READ-ONLY] Mailbox is read-only"
UNKNOWN = "BAD Unknown command"
SELECTED_ONLY = ["CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE 1", "SEARCH ALL", "UID SEARCH ALL",
                 "FETCH 1 (FLAGS)", "UID FETCH 1 (FLAGS)", "STORE 1 +FLAGS (\\Seen)",
                 "UID STORE 1 +FLAGS (\\Seen)", "COPY 1 INBOX", "UID COPY 1 INBOX", "MOVE 1 INBOX", "UID MOVE 1 INBOX"]

with Root() as root:
    root.deliver_samples("alice")
    with Maild(exe, root, imap=True) as m:
        # Not authenticated: the any-state commands run, the rest wait for a login.
        r = m.iraw()
        expect(r, "CAPABILITY", "OK Capability completed")
        expect(r, "NOOP", "OK NOOP completed")
        expect(r, "STARTTLS", "BAD STARTTLS is not available")
        expect(r, 'ID ("name" "states")', "OK ID completed")
        for c in ["NAMESPACE", "SELECT INBOX", "EXAMINE INBOX", 'LIST "" "*"', 'LSUB "" "*"',
                  "STATUS INBOX (MESSAGES)", "CREATE x", "DELETE x", "RENAME x y", "SUBSCRIBE x",
                  "UNSUBSCRIBE x", "IDLE", "ENABLE X-NONE"] + SELECTED_ONLY:
            expect(r, c, LOGIN_FIRST)
        expect(r, "FROB", UNKNOWN)
        expect(r, "UID NOOP", UNKNOWN)
        expect(r, "UID LIST \"\" \"*\"", UNKNOWN)
        r.close()

        # Authenticated: no second login, nothing that needs a selected mailbox.
        r = m.iraw("alice")
        expect(r, "LOGIN alice secret", LOGGED_IN)
        expect(r, "AUTHENTICATE PLAIN", LOGGED_IN)
        expect(r, "NAMESPACE", "OK Namespace completed")
        expect(r, "CAPABILITY", "OK Capability completed")
        expect(r, "ID NIL", "OK ID completed")
        for c in SELECTED_ONLY:
            expect(r, c, NOT_SELECTED)
        expect(r, "FROB", UNKNOWN)

        # Selected with EXAMINE: reading runs, changing the mailbox is refused before any work.
        expect(r, "EXAMINE INBOX", "OK [READ-ONLY]")
        expect(r, "LOGIN alice secret", LOGGED_IN)
        for c in ["STORE 1 +FLAGS (\\Deleted)", "UID STORE 1 +FLAGS (\\Deleted)", "EXPUNGE", "UID EXPUNGE 1",
                  "MOVE 1 INBOX", "UID MOVE 1 INBOX"]:
            expect(r, c, READ_ONLY)
        expect(r, "ENABLE X-NONE", "BAD Command not valid in this state")  # RFC 5161: before SELECT
        expect(r, "CHECK", "OK Check completed")
        expect(r, "SEARCH ALL", "OK Search completed")
        expect(r, "FETCH 1 (FLAGS)", "OK Fetch completed")
        expect(r, 'LIST "" "*"', "OK List completed")
        expect(r, "UNSELECT", "OK Unselect completed")
        expect(r, "FETCH 1 (FLAGS)", NOT_SELECTED)

        # Selected with SELECT: the same commands run.
        expect(r, "SELECT INBOX", "OK [READ-WRITE]")
        expect(r, "STORE 1 +FLAGS.SILENT (\\Flagged)", "OK Store completed")
        expect(r, "UID SEARCH FLAGGED", "OK Search completed")
        expect(r, "EXPUNGE", "OK Expunge completed")
        expect(r, "CLOSE", "OK Close completed")
        expect(r, "CHECK", NOT_SELECTED)

        # LOGOUT in any state; nothing is answered after it.
        untagged, done = r.cmd("LOGOUT")
        check(done.startswith(b"OK Logout completed") and untagged == [b"* BYE Logging out"],
              "LOGOUT: BYE then OK: %r %r" % (untagged, done))
        r.send("a900 NOOP\r\n")
        check(r.at_eof() and b"a900" not in r.buf, "the connection closes after LOGOUT, NOOP unanswered: %r" % r.buf)
