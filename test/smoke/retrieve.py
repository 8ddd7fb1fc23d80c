"""Retrieval: byte-exact messages (dot-stuffing, LF and CRLF on disk, no final newline) via
poplib, a raw socket and curl; CAPA; STAT/LIST sizes as sent; UIDL; TOP; AUTH PLAIN both forms;
SHA512-CRYPT; new/ -> cur/ and the S flag after RETR + QUIT; -ERR for LAST/STLS/APOP/unknown."""
import base64
import os
import shutil
import sys

from maildtest import SAMPLES, USERS, Maild, Root, check, crlf, curl, time_limit, wire

exe = sys.argv[1]
time_limit(50)

with Root() as root, Maild(exe, root) as m:
    root.deliver_samples("alice")
    expected = [crlf(data) for _, data in SAMPLES]

    # poplib: what a scripted client sees.
    p = m.pop("alice")
    count, size = p.stat()
    check(count == len(SAMPLES), "STAT counts %d messages" % count)
    check(size == sum(len(e) for e in expected), "STAT size is the sum of CRLF sizes")
    _, listing, _ = p.list()
    sizes = [int(l.split()[1]) for l in listing]
    check(sizes == [len(e) for e in expected], "LIST sizes are the CRLF sizes %s" % sizes)
    for i, (_, data) in enumerate(SAMPLES):
        resp, lines, octets = p.retr(i + 1)
        got = b"\r\n".join(lines) + b"\r\n"
        want = expected[i] if expected[i].endswith(b"\r\n") else expected[i] + b"\r\n"
        check(got == want, "RETR %d via poplib is byte-exact" % (i + 1))
        check(resp.split()[1] == str(len(expected[i])).encode(), "RETR %d +OK names the size" % (i + 1))
    _, uidls, _ = p.uidl()
    uids = [l.split()[1] for l in uidls]
    check(len(set(uids)) == len(SAMPLES) and all(0 < len(u) <= 70 for u in uids), "UIDL: unique ids %s" % uids)
    check(p.uidl(2).split()[2] == uids[1], "UIDL n matches the listing")
    check(p.list(3).split()[2] == str(len(expected[2])).encode(), "LIST n")
    resp, lines, _ = p.top(2, 0)
    header = SAMPLES[1][1].split(b"\r\n\r\n")[0]
    check(b"\r\n".join(lines) == header + b"\r\n", "TOP 2 0 is the header and the blank line")
    resp, lines, _ = p.top(3, 2)
    check(lines[-2:] == [b"LF only on disk.", b".dot line in an LF file"], "TOP 3 2 ends after two body lines")
    resp, lines, _ = p.top(3, 99999999)
    check(b"\r\n".join(lines) + b"\r\n" == expected[2], "TOP n 99999999 is the whole message (fetchmail)")
    p.quit()

    # Maildir: new/ moved to cur/ with info; retrieved messages became Seen at QUIT.
    check(root.files("alice", "new") == [], "new/ is empty after a session")
    cur = root.files("alice", "cur")
    check(all(":2," in f and f.endswith("S") for f in cur), "retrieved messages carry flag S: %s" % cur)
    with open(os.path.join(root.mail, "alice", "maild-uidlist")) as f:
        first = f.readline()
    check(first.startswith("V") and " N5" in first, "uidlist header %r" % first.strip())

    # Raw socket: the exact wire bytes, dot-stuffing included.
    r = m.raw()
    capa = r.cmd("CAPA")
    body = r.multiline().decode()
    for cap in ("USER", "UIDL", "TOP", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "SASL PLAIN"):
        check(capa.startswith(b"+OK") and ("\r\n" + cap + "\r\n") in "\r\n" + body, "CAPA lists " + cap)
    check(r.login("alice")[1].startswith(b"+OK"), "USER/PASS with a password containing a space")
    for i, (_, data) in enumerate(SAMPLES):
        r.cmd("RETR %d" % (i + 1))
        check(r.multiline() == wire(data), "RETR %d wire bytes are CRLF and dot-stuffed" % (i + 1))
    check(r.cmd("stat").startswith(b"+OK 4 "), "commands are case-insensitive (stat)")
    check(r.cmd("Noop") == b"+OK", "commands are case-insensitive (Noop)")
    for c in ("LAST", "STLS", "APOP alice 0123456789abcdef", "XYZZY", "RETR 0", "RETR 5", "RETR x",
              "TOP 1", "DELE", "LIST 1 2"):
        check(r.cmd(c).startswith(b"-ERR"), "-ERR for %r" % c)
    check(len(r.cmd("USER bob")) < 512, "reply lines stay short")
    r.cmd("QUIT")
    r.close()

    # AUTH PLAIN: continuation form, initial response, cancel, bad authzid; SHA512-CRYPT.
    r = m.raw()
    check(r.cmd("AUTH PLAIN") == b"+ ", "AUTH PLAIN asks for a continuation")
    check(r.cmd("*").startswith(b"-ERR"), "'*' cancels AUTH")
    check(r.cmd("AUTH PLAIN") == b"+ ", "AUTH PLAIN again")
    cred = base64.b64encode(b"\0bob\0hunter2").decode()
    check(r.cmd(cred).startswith(b"+OK"), "AUTH PLAIN continuation logs in bob (SHA512-CRYPT)")
    r.cmd("QUIT")
    r.close()
    r = m.raw()
    check(r.cmd("AUTH PLAIN " + base64.b64encode(b"bob\0bob\0hunter2").decode()).startswith(b"+OK"),
          "AUTH PLAIN initial response with authzid = user")
    r.cmd("QUIT")
    r.close()
    r = m.raw()
    check(r.cmd("AUTH PLAIN " + base64.b64encode(b"alice\0bob\0hunter2").decode()).startswith(b"-ERR [AUTH]"),
          "AUTH PLAIN with someone else's authzid fails")
    check(r.cmd("AUTH PLAIN !!!!").startswith(b"-ERR"), "AUTH PLAIN with bad base64 fails")
    check(r.cmd("AUTH CRAM-MD5").startswith(b"-ERR"), "unknown SASL mechanism fails")
    check(r.cmd("PASS x").startswith(b"-ERR"), "PASS without USER fails")
    check(r.login("bob", "wrong")[1].startswith(b"-ERR [AUTH]"), "SHA512-CRYPT user with a wrong password fails")
    r.close()

    # curl: list, fetch, UIDL, TOP, AUTH PLAIN with initial response.
    if shutil.which("curl"):
        url = "pop3://127.0.0.1:%d/" % m.port
        out = curl(url)
        check(out.returncode == 0 and out.stdout.split(b"\r\n")[:4] ==
              [b"%d %d" % (i + 1, len(e)) for i, e in enumerate(expected)], "curl lists the messages")
        for n in range(1, len(SAMPLES) + 1):
            out = curl(url + str(n))
            want = expected[n - 1] if expected[n - 1].endswith(b"\r\n") else expected[n - 1] + b"\r\n"
            check(out.returncode == 0 and out.stdout == want, "curl fetches message %d byte-exact" % n)
        out = curl("--sasl-ir", url + "2")
        check(out.returncode == 0 and out.stdout == expected[1], "curl --sasl-ir (AUTH PLAIN initial response)")
        out = curl("-X", "UIDL", url)
        check(out.returncode == 0 and [l.split()[1] for l in out.stdout.split(b"\r\n") if l] == uids,
              "curl -X UIDL gives the same ids")
        out = curl("-X", "TOP 3 0", url)
        check(out.returncode == 0 and out.stdout.startswith(b"From: c@example.org\r\n"), "curl -X 'TOP 3 0'")
        out = curl(url, user="alice:nope")
        check(out.returncode == 67, "curl with a bad password: login denied (67)")
    check(m.stop() == 0, "maild exits 0 on SIGTERM")
print("PASS")
