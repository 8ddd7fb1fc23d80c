"""The command line: bad arguments, a busy port, an unreadable passwd file and a missing mail root
exit 2 with one line on stderr; --help and --version exit 0; SIGINT exits 0; --demo serves its
sample messages over POP3 and IMAP and removes its temp dir on SIGTERM."""
import imaplib
import os
import poplib
import signal
import socket
import subprocess
import sys

from maildtest import Maild, Root, check, time_limit

exe = sys.argv[1]
time_limit(40)


def run(*args):
    return subprocess.run([exe] + list(args), capture_output=True, timeout=10)


with Root() as root:
    base = ["--mail-root", root.mail, "--passwd", root.passwd]
    for args, why in [
        ([], "no arguments"),
        (["--bogus"], "an unknown option"),
        (base + ["--pop3"], "a missing value"),
        (base + ["--pop3", "localhost:110"], "a non-numeric address"),
        (base + ["--pop3", "127.0.0.1:99999"], "a port out of range"),
        (base + ["--pop3", "127.0.0.1"], "no port"),
        (base + ["--max-connections", "0"], "--max-connections 0"),
        (base + ["--max-connections", "many"], "--max-connections many"),
        (base + ["--idle-timeout", "-1"], "a negative idle timeout"),
        (base + ["--log-level", "loud"], "an unknown log level"),
        (["--passwd", root.passwd, "--pop3", "127.0.0.1:0"], "no --mail-root"),
        (["--mail-root", root.mail, "--pop3", "127.0.0.1:0"], "no --passwd"),
        (["--mail-root", root.mail + "/missing", "--passwd", root.passwd, "--pop3", "127.0.0.1:0"], "a missing mail root"),
        (["--mail-root", root.mail, "--passwd", root.dir + "/missing", "--pop3", "127.0.0.1:0"], "an unreadable passwd file"),
        (["--mail-root", root.mail, "--passwd", root.mail, "--pop3", "127.0.0.1:0"], "a directory as passwd file"),
        (base + ["--max-connections-per-address", "-1"], "--max-connections-per-address -1"),
        (base + ["--max-connections-per-address", "some"], "--max-connections-per-address some"),
        (base + ["--max-connections-per-address", "1000001"], "--max-connections-per-address 1000001"),
        (["--demo", "--mail-root", root.mail], "--demo with --mail-root"),
    ]:
        r = run(*args)
        err = r.stderr.decode()
        check(r.returncode == 2 and err.count("\n") == 1 and err.startswith("maild: "),
              "exit 2 and one stderr line for %s: %s" % (why, err.strip()))

    r = run("--mail-root", root.mail, "--passwd", root.mail, "--pop3", "127.0.0.1:0")
    check(b"is a directory" in r.stderr, "a directory as passwd file is named as such: %s" % r.stderr.decode().strip())

    for bad in (["--append-limit", "0"], ["--append-limit", "12k"], ["--imap", "localhost:143"]):
        r = run(*base, "--pop3", "127.0.0.1:0", *bad)
        check(r.returncode == 2 and r.stderr.decode().count("\n") == 1, "%s: exit 2, one line" % " ".join(bad))

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    r = run(*base, "--pop3", "127.0.0.1:%d" % port)
    check(r.returncode == 2 and b"cannot listen" in r.stderr, "a busy port: exit 2 (%s)" % r.stderr.decode().strip())
    busy.close()

    r = run("--help")
    check(r.returncode == 0 and b"--mail-root" in r.stdout and b"--idle-timeout" in r.stdout
          and b"--max-connections-per-address" in r.stdout, "--help exits 0 with usage")
    r = run("--version")
    check(r.returncode == 0 and r.stdout.startswith(b"maild "), "--version: %s" % r.stdout.decode().strip())

    # Two listeners, equals-sign syntax, SIGINT.
    with Maild(exe, root, args=["--pop3=127.0.0.1:0", "--max-connections=10", "--log-level=info"]) as m:
        second = m.read_stdout_line(5)
        check(second.startswith("maild: listening pop3 127.0.0.1:") and not second.endswith(":%d" % m.port),
              "one listening line per listener: %s" % second)
        p2 = poplib.POP3("127.0.0.1", int(second.rsplit(":", 1)[1]), timeout=5)
        p2.user("bob")
        p2.pass_("hunter2")
        p2.quit()
        check(True, "the second listener serves")
        check(m.stop(signal.SIGINT) == 0, "SIGINT: exit 0")

    # --demo, moved to a free port.
    demo = subprocess.Popen([exe, "--demo", "--pop3", "127.0.0.1:0", "--imap", "127.0.0.1:0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        lines = []
        while len(lines) < 3 or "mail root" not in lines[-1]:
            line = demo.stdout.readline().decode()
            if not line:
                break
            lines.append(line.strip())
        check(lines[0].startswith("maild: listening pop3 ") and lines[1].startswith("maild: listening imap "),
              "--demo listens for POP3, then IMAP")
        port = int(lines[0].rsplit(":", 1)[1])
        imap_port = int(lines[1].rsplit(":", 1)[1])
        demo_root = lines[2].split("mail root ", 1)[1]
        rest = demo.stdout.read1(65536).decode()
        check("curl" in rest and "pop3://127.0.0.1:%d" % port in rest, "--demo prints curl commands for POP3")
        check("imap://127.0.0.1:%d" % imap_port in rest, "--demo prints curl commands for IMAP")
        p = poplib.POP3("127.0.0.1", port, timeout=5)
        p.user("demo")
        p.pass_("demo")
        count, _ = p.stat()
        bodies = [b"\r\n".join(p.retr(i + 1)[1]) for i in range(count)]
        p.quit()
        check(count >= 3, "--demo has %d sample messages" % count)
        im = imaplib.IMAP4("127.0.0.1", imap_port, timeout=5)
        im.login("demo", "demo")
        typ, data = im.select("INBOX")
        check(typ == "OK" and int(data[0]) == count, "--demo's IMAP INBOX has the same %d messages" % count)
        typ, data = im.fetch("1", "(BODY.PEEK[])")
        check(typ == "OK" and data[0][1] == bodies[0] + b"\r\n", "IMAP FETCH 1 BODY[] equals POP3 RETR 1")
        im.logout()
        check(any(b"\r\n.hidden\r\n" in b for b in bodies), "one has lines starting with '.'")
        stored = [open(os.path.join(demo_root, "demo", "cur", f), "rb").read()
                  for f in os.listdir(os.path.join(demo_root, "demo", "cur"))]
        check(any(b"\n" in s and b"\r\n" not in s for s in stored), "one is stored with LF endings")
        check(os.path.isdir(demo_root), "the demo mail root exists while maild runs")
        demo.send_signal(signal.SIGTERM)
        check(demo.wait(10) == 0, "--demo exits 0 on SIGTERM")
        check(not os.path.exists(os.path.dirname(demo_root)), "--demo removed its temp dir")
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGTERM)  # lets it remove its temp dir
            try:
                demo.wait(5)
            except subprocess.TimeoutExpired:
                demo.kill()
print("PASS")
