#!/usr/bin/env python3
"""Ten IMAP sessions on one user's INBOX at once, each doing random FETCH (FLAGS, BODY.PEEK[],
ENVELOPE; by sequence number and by UID), STORE (+FLAGS/-FLAGS, with and without .SILENT),
EXPUNGE and UID EXPUNGE, APPEND, SEARCH and NOOP for a while; each session a thread with its own
socket, seeded random (the seed is printed; --seed repeats a run).

Asserted:
  - no valid command gets a tagged NO or BAD (the first ones are printed with their context);
  - each session's view stays consistent: its message count follows the EXISTS and EXPUNGE (and
    VANISHED) it is sent, never a FETCH for a sequence number above it, and a UID seen at a
    sequence number moves only by the EXPUNGEs that session was sent (UIDs ascend with sequence
    numbers, one UID at one place);
  - at the end, once every session has stopped and sent NOOP, each one's count and UIDs equal
    the mailbox's (UID SEARCH ALL in a fresh session, and the uidlist on disk).
Per-session command counts and totals are printed.

usage: imap-many.py MAILD [--duration SECONDS (default 60)] [--seed N]"""
import argparse
import os
import random
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))

import soaklib  # noqa: E402
from soaklib import maildtest  # noqa: E402

SESSIONS = 10
START = 40      # messages in INBOX at the start
LOW, HIGH = 20, 80  # APPEND is favoured below LOW, EXPUNGE above HIGH
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Work"]


def message(n):
    return (b"From: s%d@example.org\r\nTo: alice@example.org\r\nSubject: many %d\r\n"
            b"Message-ID: <many%d@test>\r\nDate: Thu, 3 Dec 2026 10:00:00 +0000\r\n\r\n"
            b"body of message %d\r\n" % (n, n, n, n)) + b"filler line\r\n" * (n % 7)


class Failure(Exception):
    pass


class Session:
    """One client: its socket, its view of INBOX (UIDs by sequence number, None where it has not
    learnt the UID yet), counts of what it sent and what went wrong."""

    def __init__(self, index, port, seed, log):
        self.index = index
        self.rng = random.Random(seed * 100 + index)
        self.log = log
        self.r = maildtest.ImapRaw(port, timeout=60)
        self.view = []
        self.counts = {}
        self.refusals = []   # (command, reply, untagged before it)
        self.problems = []   # view inconsistencies
        self.recent = []     # the last exchanges, for context
        self.appended = 0
        self.placed = 0      # FETCH responses whose UID was checked against the view

    # --- the view -----------------------------------------------------------------------

    def problem(self, text):
        self.problems.append("session %d: %s (after %s)" % (self.index, text, self.recent[-3:]))

    def learn(self, seq, uid):
        self.placed += 1
        if seq < 1 or seq > len(self.view):
            self.problem("FETCH for sequence number %d with %d messages" % (seq, len(self.view)))
            return
        known = self.view[seq - 1]
        if known is not None and known != uid:
            self.problem("sequence number %d was UID %d, now UID %d" % (seq, known, uid))
            return
        if known is None:
            if uid in self.view:
                self.problem("UID %d at sequence number %d, already at %d" % (uid, seq, self.view.index(uid) + 1))
                return
            self.view[seq - 1] = uid
            before = [u for u in self.view[:seq - 1] if u is not None]
            after = [u for u in self.view[seq:] if u is not None]
            if (before and before[-1] >= uid) or (after and after[0] <= uid):
                self.problem("UID %d at sequence number %d out of order" % (uid, seq))

    def absorb(self, untagged):
        """Applies the untagged responses of one command, in order."""
        for resp in untagged:
            m = re.match(rb"\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)\b", resp)
            if m:
                n, what = int(m.group(1)), m.group(2)
                if what == b"EXISTS":
                    if n < len(self.view):
                        self.problem("EXISTS %d below the %d messages known" % (n, len(self.view)))
                        del self.view[n:]
                    self.view.extend([None] * (n - len(self.view)))
                elif what == b"EXPUNGE":
                    if n < 1 or n > len(self.view):
                        self.problem("EXPUNGE %d with %d messages" % (n, len(self.view)))
                    else:
                        del self.view[n - 1]
                elif what == b"FETCH":
                    items = maildtest.parse(resp[m.end():])[0]
                    d = {items[i].upper(): items[i + 1] for i in range(0, len(items) - 1, 2)}
                    if "UID" in d:
                        self.learn(n, int(d["UID"]))
                    elif n < 1 or n > len(self.view):
                        self.problem("FETCH for sequence number %d with %d messages" % (n, len(self.view)))
                continue
            m = re.match(rb"\* VANISHED (?:\(EARLIER\) )?([0-9:,]+)$", resp)
            if m:
                for uid in maildtest.uid_set(m.group(1).decode()):
                    if uid in self.view:
                        self.view.remove(uid)
                    else:
                        self.problem("VANISHED names UID %d, which this session cannot place" % uid)

    def command(self, verb, *pieces):
        """Sends one command, applies its untagged responses; a NO or BAD is recorded."""
        self.counts[verb] = self.counts.get(verb, 0) + 1
        untagged, done = self.r.cmd(*pieces)
        text = "".join(p if isinstance(p, str) else "{%d}" % len(p.data) for p in pieces)
        self.recent = (self.recent + ["%s -> %s" % (text[:60], done[:60])])[-5:]
        self.absorb(untagged)
        if not done.startswith(b"OK"):
            self.refusals.append((text[:120], done[:200], [u[:120] for u in untagged[-4:]]))
        return untagged, done

    # --- random work --------------------------------------------------------------------

    def some_seq(self):
        n = len(self.view)
        a = self.rng.randint(1, n)
        if self.rng.random() < 0.3:
            return "%d:%d" % (a, min(n, a + self.rng.randint(1, 5)))
        return str(a)

    def some_uid(self):
        known = [u for u in self.view if u is not None]
        if known and self.rng.random() < 0.8:
            return str(self.rng.choice(known))
        return "1:*"

    def step(self):
        n = len(self.view)
        weights = {"fetch": 30, "uid fetch": 15, "store": 15, "uid store": 8, "expunge": 5,
                   "uid expunge": 5, "append": 8, "search": 6, "noop": 8}
        if n < LOW:
            weights["append"] = 30
        if n > HIGH:
            weights["expunge"] = weights["uid expunge"] = 20
        if n == 0:
            for k in ("fetch", "store", "expunge", "uid expunge"):
                weights[k] = 0
        kind = self.rng.choices(list(weights), list(weights.values()))[0]
        items = self.rng.choice(["(FLAGS)", "(UID FLAGS)", "(BODY.PEEK[])", "(UID BODY.PEEK[])",
                                 "(ENVELOPE)", "(UID ENVELOPE RFC822.SIZE)", "(FLAGS BODY.PEEK[HEADER])"])
        flag = self.rng.choice(FLAGS)
        mode = self.rng.choice(["+FLAGS", "-FLAGS", "+FLAGS.SILENT", "-FLAGS.SILENT"])
        if kind == "fetch":
            self.command("FETCH", "FETCH %s %s" % (self.some_seq(), items))
        elif kind == "uid fetch":
            self.command("UID FETCH", "UID FETCH %s %s" % (self.some_uid(), items))
        elif kind == "store":
            self.command("STORE", "STORE %s %s (%s)" % (self.some_seq(), mode, flag))
        elif kind == "uid store":
            self.command("UID STORE", "UID STORE %s %s (%s)" % (self.some_uid(), mode, flag))
        elif kind == "expunge":
            self.command("STORE", "STORE %s +FLAGS.SILENT (\\Deleted)" % self.rng.randint(1, n))
            self.command("EXPUNGE", "EXPUNGE")
        elif kind == "uid expunge":
            uid = self.some_uid()
            if uid != "1:*":
                self.command("UID STORE", "UID STORE %s +FLAGS.SILENT (\\Deleted)" % uid)
                self.command("UID EXPUNGE", "UID EXPUNGE %s" % uid)
        elif kind == "append":
            self.appended += 1
            data = message(1000 * (self.index + 1) + self.appended)
            plus = self.rng.random() < 0.5
            flags = self.rng.choice(["", "(\\Seen) ", "(\\Flagged $Work) "])
            self.command("APPEND", "APPEND INBOX " + flags, maildtest.Lit(data, plus=plus))
        elif kind == "search":
            key = self.rng.choice(["SEARCH ALL", "SEARCH UNSEEN", "UID SEARCH FLAGGED",
                                   "SEARCH SUBJECT many", "UID SEARCH ALL"])
            self.command(key.rsplit(" ", 1)[0] if key.startswith("UID") else "SEARCH", key)
        else:
            self.command("NOOP", "NOOP")

    def run(self, deadline, stop):
        try:
            _, done = self.r.cmd("LOGIN alice ", maildtest.Lit(maildtest.USERS["alice"][1].encode()))
            if not done.startswith(b"OK"):
                raise Failure("LOGIN: %r" % done)
            self.command("SELECT", "SELECT INBOX")
            while time.monotonic() < deadline and not stop.is_set():
                self.step()
        except Exception as e:  # noqa: BLE001 (reported, then the test fails)
            self.problems.append("session %d stopped: %r (after %s)" % (self.index, e, self.recent[-3:]))
            stop.set()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("maild")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    print("seed %d (repeat with --seed %d), %d sessions for %g s" % (seed, seed, SESSIONS, args.duration), flush=True)
    maildtest.time_limit(int(args.duration) + 60)

    with maildtest.Root() as root:
        root.write_passwd(maildtest.USERS)
        inbox = root.maildir("alice")
        for i in range(START):
            root.deliver("alice", "17000%05d.M%dP1.test" % (i, i), message(i), "cur", ":2,")
        with maildtest.Maild(args.maild, root, imap=True, log_level="info") as m:
            stop = threading.Event()
            sessions = [Session(i, m.imap_port, seed, None) for i in range(SESSIONS)]
            deadline = time.monotonic() + args.duration
            threads = [threading.Thread(target=s.run, args=(deadline, stop), daemon=True) for s in sessions]
            for t in threads:
                t.start()
            for t in threads:
                t.join(args.duration + 40)
            stuck = [s.index for s, t in zip(sessions, threads) if t.is_alive()]
            if stuck:
                maildtest.fail("sessions %s did not stop within %g s of the end" % (stuck, 40))

            # Everything has stopped: each session catches up and must see the real mailbox.
            fresh = maildtest.ImapRaw(m.imap_port, timeout=60)
            fresh.ok("LOGIN alice ", maildtest.Lit(maildtest.USERS["alice"][1].encode()))
            fresh.ok("EXAMINE INBOX")
            real = maildtest.search_result(fresh.ok("UID SEARCH ALL"))
            listed = [u for u, _ in soaklib.read_uidlist(inbox)[2]]
            problems = []
            if listed != real:
                problems.append("UID SEARCH ALL %s... is not the uidlist %s..." % (real[:10], listed[:10]))
            for s in sessions:
                if any(p.startswith("session %d stopped" % s.index) for p in s.problems):
                    continue
                s.command("NOOP", "NOOP")
                untagged, _ = s.command("UID SEARCH", "UID SEARCH ALL")
                mine = maildtest.search_result(untagged)
                if len(s.view) != len(real):
                    s.problem("ends with %d messages, the mailbox has %d" % (len(s.view), len(real)))
                if mine != real:
                    s.problem("UID SEARCH ALL differs from a fresh session's")
                wrong = [(i + 1, u, real[i]) for i, u in enumerate(s.view) if u is not None and i < len(real) and u != real[i]]
                if wrong:
                    s.problem("UIDs at the wrong sequence numbers (seq, mine, real): %s" % wrong[:5])
            problems += soaklib.check_consistent(inbox)

            # Figures.
            verbs = sorted({v for s in sessions for v in s.counts})
            print("commands per session:")
            print("  %-8s" % "session" + "".join("%12s" % v for v in verbs) + "%10s" % "total")
            for s in sessions:
                print("  %-8d" % s.index + "".join("%12d" % s.counts.get(v, 0) for v in verbs) +
                      "%10d" % sum(s.counts.values()))
            totals = {v: sum(s.counts.get(v, 0) for s in sessions) for v in verbs}
            print("  %-8s" % "all" + "".join("%12d" % totals[v] for v in verbs) + "%10d" % sum(totals.values()))
            print("INBOX at the end: %d messages; %d FETCH responses placed by UID in the views" %
                  (len(real), sum(s.placed for s in sessions)), flush=True)

            refusals = [(s.index,) + r for s in sessions for r in s.refusals]
            kinds = {}
            for _, cmd, reply, _ in refusals:
                verb = re.sub(r"^(UID )?([A-Z]+).*", r"\1\2", cmd)
                code = re.match(rb"(NO|BAD)(?: \[([A-Z-]+))?", reply)
                key = "%s %s" % (verb, (code.group(1) + (b" [" + code.group(2) + b"]" if code.group(2) else b"")).decode() if code else reply[:20])
                kinds[key] = kinds.get(key, 0) + 1
            if refusals:
                print("tagged NO/BAD replies: %d (%s)" % (len(refusals), ", ".join("%s: %d" % kv for kv in sorted(kinds.items()))))
                for idx, cmd, reply, before in refusals[:5]:
                    print("  session %d: %r -> %r; untagged before it: %r" % (idx, cmd, reply, before))
            all_problems = problems + [p for s in sessions for p in s.problems]
            if all_problems:
                print("view problems: %d" % len(all_problems))
                for p in all_problems[:10]:
                    print("  " + p)
            if refusals or all_problems:
                maildtest.fail("%d tagged NO/BAD, %d view problems" % (len(refusals), len(all_problems)))
            print("ok: %d commands, no NO or BAD, every view consistent with the mailbox" % sum(totals.values()))


if __name__ == "__main__":
    main()
