"""curl against maild, as doc/clients.md runs it: list, fetch (byte-exact), UIDL, TOP, --sasl-ir,
and delete with -X DELE -I (applied at curl's QUIT)."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smoke"))
from maildtest import SAMPLES, SKIP, Maild, Root, check, crlf, curl, time_limit  # noqa: E402

exe = sys.argv[1]
if not shutil.which("curl"):
    print("SKIP: curl is not installed")
    sys.exit(SKIP)
time_limit(50)

with Root() as root:
    root.deliver_samples("alice")
    expected = [crlf(d) if crlf(d).endswith(b"\r\n") else crlf(d) + b"\r\n" for _, d in SAMPLES]
    with Maild(exe, root) as m:
        url = "pop3://127.0.0.1:%d/" % m.port


        r = curl(url)
        check(r.returncode == 0 and len(r.stdout.splitlines()) == len(SAMPLES), "curl lists %d messages" % len(SAMPLES))
        for n, want in enumerate(expected, 1):
            out = os.path.join(root.dir, "m%d.eml" % n)
            r = curl(url + str(n), "-o", out)
            check(r.returncode == 0 and open(out, "rb").read() == want, "curl -o m%d.eml is byte-exact" % n)
        r = curl("--sasl-ir", url + "3")
        check(r.returncode == 0 and r.stdout == expected[2], "curl --sasl-ir fetch")
        r = curl("-X", "UIDL", url)
        check(r.returncode == 0 and len(r.stdout.splitlines()) == len(SAMPLES), "curl -X UIDL")
        r = curl("-X", "TOP 2 0", url)
        check(r.returncode == 0 and r.stdout.endswith(b"\r\n\r\n") and b"Subject: dots" in r.stdout, "curl -X 'TOP 2 0'")
        r = curl("-X", "DELE", "-I", url + "1")
        check(r.returncode == 0, "curl -X DELE -I pop3://.../1")
        r = curl(url)
        check(r.returncode == 0 and len(r.stdout.splitlines()) == len(SAMPLES) - 1, "the message is gone after curl's QUIT")
        r = curl(url + "9")
        check(r.returncode != 0, "fetching a missing message fails (curl exit %d)" % r.returncode)
        r = curl(url, user="alice:wrong")
        check(r.returncode == 67, "a wrong password: curl exit 67")
        check(m.stop() == 0, "clean exit")
print("PASS")
