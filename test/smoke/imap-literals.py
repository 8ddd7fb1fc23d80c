"""IMAP input: pipelined commands (several in one send, also the whole session with a LITERAL+
login) answered in order; synchronizing literals get '+ ', LITERAL+ ones none; quoted strings with
escapes; a multi-MB APPEND literal streamed to the Maildir (bytes exact, maild's memory does not grow
with it, fetched back exactly); --append-limit: {n} over it gets NO without '+', {n+} over it is
read and dropped (its bytes are never run as commands), then NO; nothing is left in tmp/; a client
that does not read a big FETCH holds maild's heap to a bound; literal sizes near 2^64 are refused
before any '+' and hold no memory."""
import hashlib
import os
import socket
import sys
import time

from maildtest import (SAMPLES, USERS, ImapRaw, Lit, Maild, Root, check, counts, crlf, fetches,
                       find_message, mailbox_dir, resp_code, search_result, time_limit)

exe = sys.argv[1]
time_limit(55)


def peak_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def anon_kib(pid):
    """Heap and other anonymous memory; mapped message files do not count."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def tagged_in_order(r, tags):
    """{tag: (untagged, tagged reply)}, failing unless the tagged replies come in `tags` order."""
    out = {}
    pending = []
    order = []
    while len(order) < len(tags):
        resp = r.response()
        t = resp.split(b" ", 1)[0].decode(errors="replace")
        if t in tags:
            order.append(t)
            out[t] = (pending, resp[len(t) + 1:])
            pending = []
        else:
            pending.append(resp)
    check(order == tags, "tagged replies come in order: %s" % order)
    return out


with Root() as root:
    users = dict(USERS)
    users["carol"] = ('{PLAIN}pa"ss\\word', 'pa"ss\\word')
    root.write_passwd(users)
    root.deliver_samples("alice")
    inbox = mailbox_dir(root, "alice")
    bob_inbox = root.maildir("bob")
    with Maild(exe, root, imap=True) as m:
        # A big APPEND literal streams to tmp/ then the Maildir.
        r = m.iraw("bob")  # alice's INBOX stays the samples
        line = b"A line of a big appended message, CRLF-terminated, 0123456789abcdef.\r\n"
        big = b"From: big@example.org\r\nSubject: big\r\nMessage-ID: <big@test>\r\n\r\n" + line * (24 * 1024 * 1024 // len(line))
        base = peak_kib(m.proc.pid)
        _, done = r.cmd("APPEND INBOX ", Lit(big, plus=True))
        grown = peak_kib(m.proc.pid) - base
        check(done.startswith(b"OK") and resp_code(done, "APPENDUID") is not None, "APPEND of %d bytes (LITERAL+): %r" % (len(big), done[:100]))
        check(grown < 8 * 1024, "maild's peak memory grew %d KiB (< 8 MiB for a 24 MiB literal)" % grown)
        found = find_message(bob_inbox, big)
        check(len(found) == 1, "its file holds the bytes exactly: %s" % found)
        uid = int(resp_code(done, "APPENDUID").split()[1])
        mid = big[:len(big) // 4]
        _, done = r.cmd("APPEND INBOX (\\Seen) ", Lit(mid))
        check(done.startswith(b"OK") and len(find_message(bob_inbox, mid)) == 1, "APPEND of %d bytes with a synchronizing literal" % len(mid))
        r.ok("SELECT INBOX")
        f = fetches(r.ok("UID FETCH %d (BODY.PEEK[])" % uid))
        body = list(f.values())[0]["BODY[]"]
        check(hashlib.sha256(body).digest() == hashlib.sha256(big).digest(), "the big message fetches back exactly")
        check(os.listdir(os.path.join(bob_inbox, "tmp")) == [], "tmp/ is empty afterwards")
        r.cmd("LOGOUT")
        r.close()

        # Backpressure: FETCH of the big message by a client that does not read (and floods
        # commands behind it) holds maild's heap to a bound; others are served meanwhile.
        slow = m.iraw("bob")
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        slow.ok("SELECT INBOX")
        base = anon_kib(m.proc.pid)
        slow.send(b"b1 UID FETCH %d (BODY.PEEK[])\r\n" % uid + b"n NOOP\r\n" * 5000)
        time.sleep(1.0)
        grown = anon_kib(m.proc.pid) - base
        check(grown < 4096, "a client that does not read costs maild %d KiB of heap (< 4 MiB; the message is 24 MiB)" % grown)
        t0 = time.monotonic()
        other = m.iraw("alice")
        other.ok("SELECT INBOX")
        other.ok("FETCH 1 BODY.PEEK[]")
        check(time.monotonic() - t0 < 1.0, "another session is served meanwhile")
        other.close()
        f = fetches([slow.response()])
        check(hashlib.sha256(list(f.values())[0]["BODY[]"]).digest() == hashlib.sha256(big).digest(),
              "the big message arrives exactly once read")
        replies = []
        while len(replies) < 5000:
            x = slow.response()
            if x.startswith(b"n "):
                replies.append(x)
        check(all(x.startswith(b"n OK") for x in replies), "the 5000 commands behind it are answered")
        slow.close()

        # The whole session in one send: LITERAL+ login, commands, a bad one, LOGOUT.
        r = ImapRaw(m.imap_port)
        r.send(b"t1 LOGIN {5+}\r\nalice {11+}\r\nopen sesame\r\n"
               b"t2 SELECT INBOX\r\n"
               b"t3 FETCH 2 (BODY.PEEK[])\r\n"
               b"t4 NOOP\r\n"
               b"t5 BOGUS\r\n"
               b"t6 UID SEARCH ALL\r\n"
               b"t7 FETCH 3 (RFC822.SIZE)\r\n"
               b"t8 LOGOUT\r\n")
        got = tagged_in_order(r, ["t%d" % i for i in range(1, 9)])
        check(got["t1"][1].startswith(b"OK"), "LOGIN with LITERAL+ user and password (no '+' waited for)")
        check(not any(x.startswith(b"+") for v in got.values() for x in v[0]), "no continuation request for {n+} literals")
        check(got["t2"][1].startswith(b"OK") and counts(got["t2"][0]).get("EXISTS") == len(SAMPLES), "pipelined SELECT")
        check(fetches(got["t3"][0])[2]["BODY[]"] == crlf(SAMPLES[1][1]), "pipelined FETCH 2 is byte-exact")
        check(got["t4"][1].startswith(b"OK") and got["t5"][1].startswith(b"BAD"), "pipelined NOOP OK, BOGUS BAD")
        check(got["t6"][1].startswith(b"OK") and len(search_result(got["t6"][0])) == len(SAMPLES), "pipelined UID SEARCH")
        check(fetches(got["t7"][0])[3]["RFC822.SIZE"] == str(len(crlf(SAMPLES[2][1]))), "pipelined FETCH RFC822.SIZE")
        check(any(u.startswith(b"* BYE") for u in got["t8"][0]) and got["t8"][1].startswith(b"OK"), "pipelined LOGOUT")
        check(r.at_eof(), "and the connection closes")
        r.close()

        # A failed login in a pipeline delays, but what follows still comes in order.
        r = ImapRaw(m.imap_port)
        r.send(b"u1 LOGIN alice wrong\r\nu2 SELECT INBOX\r\nu3 LOGIN alice {11+}\r\nopen sesame\r\nu4 SELECT INBOX\r\n")
        got = tagged_in_order(r, ["u1", "u2", "u3", "u4"])
        status = [got["u%d" % i][1].split(b" ")[0] for i in range(1, 5)]
        check(status[0] == b"NO" and status[1] in (b"BAD", b"NO") and status[2:] == [b"OK", b"OK"],
              "NO, refused, OK, OK behind a delayed failure: %s" % status)

        # Many commands in one send.
        n = 2000
        r.send(b"".join(b"p%d FETCH %d (UID)\r\n" % (i, i % len(SAMPLES) + 1) for i in range(n)))
        got = tagged_in_order(r, ["p%d" % i for i in range(n)])
        check(all(got["p%d" % i][1].startswith(b"OK") and list(fetches(got["p%d" % i][0])) == [i % len(SAMPLES) + 1]
                  for i in range(n)), "%d pipelined FETCHes each answered with their message" % n)
        r.close()

        # Synchronizing literals: '+' before the data. Quoted strings with \" and \\.
        r = ImapRaw(m.imap_port)
        r.send(b"s1 LOGIN alice {11}\r\n")
        cont = r.response(timeout=5)
        check(cont is not None and cont.startswith(b"+"), "a {11} literal gets a '+' continuation: %r" % cont)
        r.send(b"open sesame\r\n")
        check(r.until("s1")[1].startswith(b"OK"), "LOGIN with a synchronizing literal password")
        check(r.cmd("SELECT ", Lit(b"INBOX"))[1].startswith(b"OK"), "SELECT with the mailbox name as a literal")
        r.close()
        r = ImapRaw(m.imap_port)
        check(r.cmd('LOGIN "carol" "pa\\"ss\\\\word"')[1].startswith(b"OK"), 'LOGIN with a quoted password holding \\" and \\\\')
        r.close()

        check(m.stop() == 0, "clean exit")

    # Literal sizes near 2^64: the size check must not wrap around into "fits", before or after
    # login, and what the client sends next must not pile up in maild's memory.
    with Maild(exe, root, imap=True) as m:
        r = ImapRaw(m.imap_port)
        for n in (18446744073709551615, 18446744073709551614, 18446744073709551613):
            r.send(b"h%d LOGIN {%d}\r\n" % (n % 10, n))
            reply = r.response(timeout=5)
            check(reply is not None and reply.startswith(b"h%d BAD" % (n % 10)),
                  "LOGIN {%d}: tagged BAD, no '+': %r" % (n, reply))
        before = anon_kib(m.proc.pid)
        chunk = b"x" * (1 << 20)
        for _ in range(32):
            r.send(chunk)
        r.send(b"\r\n")
        reply = r.response(timeout=10)
        check(reply is not None and b"BAD Line too long" in reply, "the 32 MiB that followed were one over-long line: %r" % reply)
        grown = anon_kib(m.proc.pid) - before
        check(grown < 8 * 1024, "32 MiB after a refused huge literal: maild grew %d KiB (< 8 MiB)" % grown)
        check(r.cmd("NOOP")[1].startswith(b"OK"), "the session goes on")
        r.close()

        r = m.iraw("alice")
        for verb in ("SELECT", "STATUS", "CREATE"):
            r.send(b"s1 %s {18446744073709551615}\r\n" % verb.encode())
            reply = r.response(timeout=5)
            check(reply is not None and reply.startswith(b"s1 BAD"), "%s {2^64-1}: tagged BAD, no '+': %r" % (verb, reply))
        r.send(b"s2 APPEND INBOX {18446744073709551615}\r\n")
        reply = r.response(timeout=5)
        check(reply is not None and reply.startswith(b"s2 NO [TOOBIG]"), "APPEND {2^64-1}: NO [TOOBIG]: %r" % reply)
        # A LITERAL+ literal far over every limit is not skipped for ever: BAD, BYE, closed.
        r.send(b"s3 SELECT {18446744073709551615+}\r\n" + b"y" * 65536)
        got = [r.response(timeout=5), r.response(timeout=5)]
        check(got[0] is not None and got[0].startswith(b"s3 BAD") and got[1] is not None and got[1].startswith(b"* BYE"),
              "{2^64-1+}: tagged BAD then BYE: %r" % got)
        check(r.at_eof(), "then the connection is closed")
        check(m.stop() == 0, "clean exit")

    # --append-limit.
    limit = 100000
    with Maild(exe, root, imap=True, args=["--append-limit", str(limit)]) as m:
        r = m.iraw("alice")
        caps = [u for u in r.ok("CAPABILITY") if u.startswith(b"* CAPABILITY")]
        check(caps and b" APPENDLIMIT=%d" % limit in caps[0], "CAPABILITY has APPENDLIMIT=%d" % limit)
        files_before = sorted(os.listdir(os.path.join(inbox, "cur")))
        r.send(b"x1 APPEND INBOX {%d}\r\n" % (limit + 1))
        reply = r.response(timeout=5)
        check(reply is not None and reply.startswith(b"x1 NO"), "{%d} over the limit: tagged NO, no '+': %r" % (limit + 1, reply))
        check(r.cmd("NOOP")[1].startswith(b"OK"), "the session goes on")
        # LITERAL+ over the limit: the bytes are read and dropped, even when they look like commands.
        evil = (b"z1 LOGOUT\r\n" * (limit // 10 + 1))[:limit + 1]
        r.send(b"x2 APPEND INBOX {%d+}\r\n" % len(evil) + evil + b"\r\nx3 NOOP\r\n")
        got = tagged_in_order(r, ["x2", "x3"])
        check(got["x2"][1].startswith(b"NO") and got["x3"][1].startswith(b"OK")
              and not any(u.startswith(b"* BYE") for v in got.values() for u in v[0]),
              "{%d+} over the limit: NO, its bytes never ran as commands, the next command is answered" % len(evil))
        # A command over the 64 KiB command cap: a skipped {n+} literal, then a second literal on
        # its last line is skipped too ({n+}) or never sent ({n}: the reply comes first).
        filler = b"y" * 70000
        r.send(b"x4 LOGIN {%d+}\r\n" % len(filler) + filler + b" {9+}\r\nz2 LOGOUT\r\nx5 NOOP\r\n")
        got = tagged_in_order(r, ["x4", "x5"])
        check(got["x4"][1].startswith(b"BAD") and got["x5"][1].startswith(b"OK"),
              "a second {n+} literal after a refused one is skipped too, never run")
        r.send(b"x6 LOGIN {%d+}\r\n" % len(filler) + filler + b" {9}\r\n")
        reply = r.response(timeout=5)
        check(reply is not None and reply.startswith(b"x6 BAD"), "a {n} literal after a refused one: the reply, no '+': %r" % reply)
        check(r.cmd("NOOP")[1].startswith(b"OK"), "the session goes on")
        exact = b"Subject: exactly at the limit\r\n\r\n"
        exact += b"x" * (limit - len(exact))
        _, done = r.cmd("APPEND INBOX ", Lit(exact))
        check(done.startswith(b"OK") and len(exact) == limit, "a literal of exactly the limit is accepted")
        check(sorted(os.listdir(os.path.join(inbox, "cur"))) + sorted(os.listdir(os.path.join(inbox, "new")))
              != files_before and find_message(inbox, exact) and not find_message(inbox, evil),
              "only the accepted message was stored")
        check(os.listdir(os.path.join(inbox, "tmp")) == [], "nothing is left in tmp/")
        r.cmd("LOGOUT")
        check(m.stop() == 0, "clean exit")
print("PASS")
