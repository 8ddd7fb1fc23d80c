#!/usr/bin/env python3
"""maild SORT and THREAD benchmark: how long SORT (DATE), SORT (SUBJECT) and THREAD REFERENCES
take on a big mailbox, the first time (the header cache cold) and afterwards (warm).

    test/bench/maild-sort.py --build=BUILD [--messages=10000] [--runs=5] [--limit=300] [--tmpdir=DIR]

BUILD is any build tree with maild (BUILD/src/maild/maild). Everything runs on 127.0.0.1 and stops
by itself within --limit seconds.
1. A temp mail root (under --tmpdir) with one user whose INBOX holds --messages messages in cur/:
   conversations of 1 to 8 messages (References and In-Reply-To chains, some parents missing),
   subjects with Re:, Fwd: and [list] prefixes and encoded words, From/To with display names,
   Dates in several zones and some missing, bodies of 200 to 4,000 bytes; internal dates spread.
2. maild on 127.0.0.1:0; one session logs in and SELECTs INBOX (which writes the uidlist).
3. For each command, in a fresh maild (so each first run meets a cold cache): the first run, then
   --runs more; the time from sending the command to reading its tagged OK, and the size of the
   answer. Printed: the cold time and the median of the warm ones, in milliseconds.
The times include this client's reading of the answer in Python; they are upper bounds.
"""
import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def log(*a):
    print(*a, flush=True)


def start_maild(exe, root, passwd, logf):
    cmd = [exe, '--mail-root', root, '--passwd', passwd, '--imap', '127.0.0.1:0', '--log-level', 'warn']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=logf, stdin=subprocess.DEVNULL)
    end = time.monotonic() + 20
    while time.monotonic() < end:
        line = proc.stdout.readline().decode()
        if not line:
            break
        parts = line.split()
        if len(parts) == 4 and parts[1] == 'listening' and parts[2] == 'imap':
            return proc, int(parts[3].rsplit(':', 1)[1])
    proc.kill()
    raise RuntimeError('maild did not start')


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=120)
        self.buf = b''
        self.n = 0
        self.until(b'* OK')

    def until(self, prefix):
        """Reads lines until one starts with `prefix`; returns every byte read."""
        out = []
        while True:
            i = self.buf.find(b'\r\n')
            while i < 0:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError('maild closed the connection')
                self.buf += chunk
                i = self.buf.find(b'\r\n')
            line, self.buf = self.buf[:i], self.buf[i + 2:]
            out.append(line)
            if line.startswith(prefix):
                return out

    def cmd(self, text):
        self.n += 1
        tag = b'b%d' % self.n
        self.sock.sendall(tag + b' ' + text.encode() + b'\r\n')
        lines = self.until(tag + b' ')
        if not lines[-1].startswith(tag + b' OK'):
            raise RuntimeError('%s: %r' % (text, lines[-1][:200]))
        return lines


ZONES = ['+0000', '-0500', '+0200', '+0530', '-0800', '+0100']
WORDS = ['plan', 'budget', 'lunch', 'release', 'review', 'meeting', 'report', 'draft', 'notes', 'trip']


def build_mailbox(d, count, rng):
    for sub in ('cur', 'new', 'tmp'):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    base = 1704067200
    made = 0
    conv = 0
    while made < count:
        conv += 1
        subject = '%s %s %d' % (rng.choice(WORDS), rng.choice(WORDS), conv)
        if rng.random() < 0.1:
            subject = '=?UTF-8?Q?%s?=' % subject.replace(' ', '_')
        ids = []
        for k in range(min(rng.randint(1, 8), count - made)):
            made += 1
            mid = '<c%d.%d@bench>' % (conv, k)
            prefix = '' if k == 0 else rng.choice(['Re: ', 'RE: Re: ', 'Fwd: ', '[list] Re: '])
            when = base + conv * 600 + k * 60 + rng.randint(0, 59)
            head = ['From: "User %d" <u%d@example.org>' % (made % 97, made % 97),
                    'To: =?ISO-8859-1?Q?Dest_%d?= <d%d@example.net>' % (made % 31, made % 31),
                    'Subject: %s%s' % (prefix, subject), 'Message-ID: %s' % mid]
            if rng.random() > 0.05:
                z = rng.choice(ZONES)
                off = (int(z[1:3]) * 3600 + int(z[3:]) * 60) * (1 if z[0] == '+' else -1)
                head.append('Date: %s %s' % (time.strftime('%a, %d %b %Y %H:%M:%S', time.gmtime(when + off)), z))
            refs = [r for r in ids if rng.random() > 0.1]  # some parents go missing
            if refs:
                head.append('References: ' + ' '.join(refs))
                head.append('In-Reply-To: ' + refs[-1])
            ids.append(mid)
            data = ('\r\n'.join(head) + '\r\n\r\n' + 'x' * rng.randint(200, 4000) + '\r\n').encode()
            name = '%d.M%dP1.bench:2,' % (when, made)
            path = os.path.join(d, 'cur', name)
            with open(path, 'wb') as f:
                f.write(data)
            os.utime(path, (when + 30, when + 30))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--messages', type=int, default=10000)
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--limit', type=int, default=300)
    ap.add_argument('--tmpdir', default=None)
    a = ap.parse_args()
    exe = os.path.join(a.build, 'src', 'maild', 'maild')
    deadline = time.monotonic() + a.limit
    tmpdir = tempfile.mkdtemp(prefix='maild-sort-bench.', dir=a.tmpdir)
    try:
        root = os.path.join(tmpdir, 'mail')
        passwd = os.path.join(tmpdir, 'passwd')
        with open(passwd, 'w') as f:
            f.write('u0:{PLAIN}pw:1000:1000::::\n')
        t0 = time.monotonic()
        build_mailbox(os.path.join(root, 'u0'), a.messages, random.Random(5256))
        log('mailbox: %d messages in %.1f s' % (a.messages, time.monotonic() - t0))
        results = []
        with open(os.path.join(tmpdir, 'maild.log'), 'w') as logf:
            for command in ('SORT (DATE) UTF-8 ALL', 'SORT (SUBJECT) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL'):
                proc, port = start_maild(exe, root, passwd, logf)
                try:
                    c = Client(port)
                    c.cmd('LOGIN u0 pw')
                    c.cmd('SELECT INBOX')
                    times = []
                    size = 0
                    for _ in range(1 + a.runs):
                        if time.monotonic() > deadline:
                            raise RuntimeError('over --limit')
                        t = time.monotonic()
                        lines = c.cmd(command)
                        times.append((time.monotonic() - t) * 1000)
                        size = sum(len(x) for x in lines)
                    results.append((command, times[0], statistics.median(times[1:]), size))
                    log('%-30s cold %8.1f ms   warm median %8.1f ms   (%d bytes)' % results[-1])
                finally:
                    proc.terminate()
                    proc.wait(10)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
