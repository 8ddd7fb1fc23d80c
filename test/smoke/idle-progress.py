"""The idle timeout counts time without progress, not time without bytes: under --idle-timeout 3
a client that trickles one byte a second and never completes a line (POP3, IMAP, or inside an
IMAP literal) is closed like a silent one, while a client that sends a whole command every 2 s,
or a big literal at a steady 40 KiB/s (progress: each 64 KiB), stays connected."""
import sys
import time

from maildtest import Maild, Root, check, fail, time_limit

exe = sys.argv[1]
time_limit(60)
IDLE = 3
RUN = 8.5          # how long the well-behaved clients go on
LATEST_CLOSE = 8.0  # the trickling ones must be closed by then (IDLE plus a wide margin)
CHUNK = 40 * 1024
APPEND_SIZE = 8 * CHUNK  # eight seconds of steady literal data


def eof_now(conn):
    """True when the server has closed `conn` (a non-blocking look)."""
    return conn.at_eof(0.01)


with Root() as root:
    root.maildir("alice")
    root.maildir("bob")
    with Maild(exe, root, imap=True, args=["--idle-timeout", str(IDLE)], log_level="info") as m:
        # Trickling clients, each gets one byte a second and never a line end.
        t0 = time.monotonic()
        trickle = {"POP3 command": m.raw(), "IMAP command": m.iraw()}
        lit = m.iraw()
        lit.send(b"a1 LOGIN alice {100}\r\n")
        cont = lit.response(timeout=5)
        check(cont is not None and cont.startswith(b"+"), "IMAP: LOGIN's password literal is asked for")
        trickle["IMAP literal"] = lit

        # Well-behaved clients: a command every 2 s; an APPEND literal at 40 KiB/s.
        pop = m.raw()
        check(pop.login("bob")[1].startswith(b"+OK"), "POP3: bob logs in")
        imap = m.iraw("alice")
        app = m.iraw("bob")
        app.send(b"a1 APPEND INBOX {%d}\r\n" % APPEND_SIZE)
        check(app.response(timeout=5).startswith(b"+"), "IMAP: APPEND asks for its literal")

        closed_at = {}
        sent = 0
        start = time.monotonic()
        tick = 0
        while time.monotonic() - start < RUN:
            tick += 1
            # Sleep to the next whole second; the connections are checked on the way.
            while time.monotonic() - start < tick and time.monotonic() - start < RUN:
                time.sleep(0.1)
                for name, c in trickle.items():
                    if name not in closed_at and eof_now(c):
                        closed_at[name] = time.monotonic() - t0
            if time.monotonic() - start >= RUN:
                break
            for name, c in trickle.items():
                if name not in closed_at:
                    try:
                        c.send(b"x")
                    except OSError:
                        closed_at[name] = time.monotonic() - t0
            if sent < APPEND_SIZE:
                try:
                    app.send(b"y" * CHUNK + (b"\r\n" if sent + CHUNK == APPEND_SIZE else b""))
                except OSError as e:
                    fail("IMAP: the APPEND literal sent at 40 KiB/s was cut after %d KiB (%s)" % (sent // 1024, e))
                sent += CHUNK
            if tick % 2 == 0:
                check(pop.cmd("NOOP") == b"+OK", "POP3: NOOP at %d s is answered" % tick)
                check(imap.cmd("NOOP")[1].startswith(b"OK"), "IMAP: NOOP at %d s is answered" % tick)

        for name, c in trickle.items():
            if name not in closed_at and c.at_eof(max(0.1, LATEST_CLOSE - (time.monotonic() - t0))):
                closed_at[name] = time.monotonic() - t0
            at = closed_at.get(name)
            check(at is not None and IDLE - 1 <= at <= LATEST_CLOSE,
                  "%s, one byte a second without a line end: closed after %s s (idle timeout %d s)"
                  % (name, "%.1f" % at if at is not None else "more than %.0f" % LATEST_CLOSE, IDLE))
        check(b"-ERR" in trickle["POP3 command"].buf, "POP3: the trickler got -ERR before the close")
        check(b"* BYE" in bytes(trickle["IMAP command"].buf), "IMAP: the trickler got * BYE before the close")

        elapsed = time.monotonic() - t0
        check(not pop.at_eof(0.2) and pop.cmd("NOOP") == b"+OK",
              "POP3: a NOOP every 2 s keeps the session for %.1f s" % elapsed)
        check(not imap.at_eof(0.2) and imap.cmd("NOOP")[1].startswith(b"OK"),
              "IMAP: a NOOP every 2 s keeps the session for %.1f s" % elapsed)
        _, done = app.until("a1")
        check(done.startswith(b"OK"),
              "IMAP: an APPEND literal of %d KiB sent at 40 KiB/s over %.0f s completes: %r"
              % (APPEND_SIZE // 1024, elapsed, done[:80]))
        check(m.stop() == 0, "clean exit")
print("PASS")
