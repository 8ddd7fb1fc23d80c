#!/usr/bin/env python3
"""maild flag-change benchmark: what STORE and a \\Seen-setting FETCH cost on a big INBOX, now
that every flag change gets a modseq written to the uidlist (CONDSTORE, RFC 7162).

    test/bench/maild-store.py --build=BUILD [--messages=10000] [--runs=7] [--fetch=500]

BUILD is any build tree with maild (BUILD/src/maild/maild). Everything runs on 127.0.0.1 in a
temp mail root and stops by itself.
1. An INBOX of --messages small messages in cur/; one session SELECTs it.
2. --runs rounds of STORE 1:* +FLAGS (\\Flagged), -FLAGS, +FLAGS.SILENT and -FLAGS.SILENT; the
   median time from sending each to its tagged OK.
3. FETCH 1:N BODY[] (N = --fetch) on unseen messages, which sets \\Seen on each: once in a session
   without CONDSTORE (the uidlist is written once, at the end) and once, on the next messages, in
   a session that sent ENABLE CONDSTORE (each
   message's new modseq goes out with its flags, so it is written first: once per message).
The times include this Python client reading the replies; they are upper bounds.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import Maild, Root  # noqa: E402


def timed(r, command):
    t = time.monotonic()
    _, done = r.cmd(command)
    if not done.startswith(b"OK"):
        sys.exit("%s: %r" % (command, done))
    return (time.monotonic() - t) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--fetch", type=int, default=500)
    a = ap.parse_args()
    exe = os.path.join(a.build, "src", "maild", "maild")
    with Root() as root:
        d = root.maildir("alice")
        for i in range(a.messages):
            with open(os.path.join(d, "cur", "1700000000.M%dP1.bench:2," % i), "wb") as f:
                f.write(b"Subject: %d\r\n\r\nbody\r\n" % i)
        with Maild(exe, root, imap=True, log_level="warn") as m:
            r = m.iraw("alice")
            r.ok("SELECT INBOX")
            stores = ["STORE 1:* +FLAGS (\\Flagged)", "STORE 1:* -FLAGS (\\Flagged)",
                      "STORE 1:* +FLAGS.SILENT (\\Flagged)", "STORE 1:* -FLAGS.SILENT (\\Flagged)"]
            times = {c: [] for c in stores}
            for _ in range(a.runs):
                for c in stores:
                    times[c].append(timed(r, c))
            print("%d messages, %d runs" % (a.messages, a.runs))
            for c in stores:
                print("  %-40s median %7.1f ms" % (c, statistics.median(times[c])))
            n = min(a.fetch, a.messages // 2)
            plain = timed(r, "FETCH 1:%d BODY[]" % n)
            # ENABLE comes before SELECT (RFC 5161), so a second session.
            r2 = m.iraw("alice")
            r2.ok("ENABLE CONDSTORE")
            r2.ok("SELECT INBOX")
            condstore = timed(r2, "FETCH %d:%d BODY[]" % (n + 1, 2 * n))
            print("  FETCH of %d unseen BODY[]: %.1f ms without CONDSTORE, %.1f ms with it (%.2f ms a message)"
                  % (n, plain, condstore, condstore / n))


if __name__ == "__main__":
    main()
