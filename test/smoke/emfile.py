"""Out of file descriptors: with RLIMIT_NOFILE small, connections beyond the limit wait in the
backlog (maild pauses accepting instead of spinning or dying), and are served once others close."""
import resource
import sys
import time

from maildtest import Maild, Raw, Root, check, time_limit

exe = sys.argv[1]
time_limit(40)
LIMIT = 24


def low_fd_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (LIMIT, LIMIT))


with Root() as root:
    root.deliver_samples("alice")
    with Maild(exe, root, preexec_fn=low_fd_limit) as m:
        conns = []
        for _ in range(LIMIT + 6):  # more than maild can hold; the kernel backlog keeps the rest
            conns.append(Raw(m.port, greet=False))
        time.sleep(0.5)
        cpu0 = sum(map(float, open("/proc/%d/stat" % m.proc.pid).read().split(")")[1].split()[11:13]))
        time.sleep(1.0)
        cpu1 = sum(map(float, open("/proc/%d/stat" % m.proc.pid).read().split(")")[1].split()[11:13]))
        check(m.proc.poll() is None, "maild survives EMFILE")
        check("pausing accepts" in m.log_text(), "EMFILE is logged and accepting pauses")
        check(cpu1 - cpu0 < 30, "maild does not spin while paused (%d ticks in 1 s)" % (cpu1 - cpu0))
        served = [c for c in conns if c.at_eof(0.05) is False and c.buf.startswith(b"+OK")]
        check(0 < len(served) < len(conns), "%d of %d connections greeted so far" % (len(served), len(conns)))
        # Close the greeted ones; every waiting one gets its turn.
        for c in served:
            c.close()
        rest = [c for c in conns if c not in served]
        for i, c in enumerate(rest):
            c.sock.settimeout(5)
            check(c.line().startswith(b"+OK"), "waiting connection %d is greeted after others close" % (i + 1))
            c.close()
        p = m.pop("bob")
        p.quit()
        check(m.stop() == 0, "clean exit")
print("PASS")
