#!/usr/bin/env python3
"""maild load benchmark: maild against Dovecot on one mail root, side by side.

    test/bench/maild-load.py --build=BUILD [--out=DIR] [--quick] [--rounds=5] [--duration=8]
                             [--concurrency=16] [--users=16] [--messages=320] [--workers=1,2]
                             [--idle=9000] [--dovecot-idle=N] [--no-idle] [--no-dovecot]
                             [--dovecot-profiles=tuned,stock] [--keep]

BUILD is a build tree configured with -Dbench=enabled (maild-load) and maild (src/maild/maild).
What it does, every step bounded in time and on 127.0.0.1 only:
1. Makes a mail root in a temp dir: --users users, --messages messages in all (2-50 KiB,
   log-uniform sizes, LF line ends, delivered into new/ with Dovecot's ,S= and ,W= name fields,
   about a fifth MIME multipart with a base64 attachment, some lines starting with "."), a
   passwd-file, and the manifest maild-load checks every session against. Each server gets its
   own copy of the same tree.
2. Starts maild (one process per --workers value) and, when /usr/sbin/dovecot exists, Dovecot
   (`dovecot -F -c CONF` from a config written to the temp dir: ports from the kernel, no TLS,
   base_dir and state_dir in the temp dir, passwd-file passdb and userdb) twice: "dovecot", tuned
   as its performance-tuning page says, and "dovecot-stock", with its service defaults. Run as
   root, the servers run as `nobody` and the copies belong to it; otherwise as the current user.
3. For each round, for POP3 then IMAP, runs maild-load against each contender in turn
   (A B C A B C ...), after one discarded warm-up run each. Per run: sessions/s, latency p50/p99,
   MB/s of verified messages, the server's CPU time (utime+stime+cutime+cstime of its process tree
   from /proc/<pid>/stat, after minus before) and its peak RSS (sum over the tree, sampled every
   0.1 s). Prints medians and maild/Dovecot ratios.
4. Idle test on fresh server processes: N logged-in idle IMAP connections (maild also with each
   one SELECTed). maild: VmRSS delta / N. Dovecot: sum of RSS of all its processes / N (and the
   delta, and the PSS delta); it runs one imap process per connection (client_limit 1, as its
   documentation recommends), so a 200-connection probe first sizes N to what MemAvailable allows.
Writes DIR/maild-load.json and DIR/maild-load.txt (the printed summary).
"""
import argparse
import base64
import email.utils
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PAGE = os.sysconf('SC_PAGE_SIZE')
TICK = os.sysconf('SC_CLK_TCK')
DOVECOT = '/usr/sbin/dovecot'


def log(*a):
    print(*a, flush=True)


# ---- /proc ------------------------------------------------------------------------------------
def proc_tree(pid):
    """pid and all its descendants (via /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f'/proc/{p}/task'):
                with open(f'/proc/{p}/task/{tid}/children') as f:
                    todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def stat_fields(pid):
    with open(f'/proc/{pid}/stat') as f:
        s = f.read()
    return s[s.rindex(')') + 2:].split()


def tree_cpu_s(pid):
    """CPU seconds of the tree: every live process's own time plus what it reaped from dead
    children (cutime/cstime), so each process's time counts exactly once."""
    total = 0
    for p in proc_tree(pid):
        try:
            f = stat_fields(p)
        except OSError:
            continue
        total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    return total / TICK


def tree_rss_kb(pid):
    total, n = 0, 0
    for p in proc_tree(pid):
        try:
            with open(f'/proc/{p}/statm') as f:
                total += int(f.read().split()[1]) * PAGE // 1024
            n += 1
        except OSError:
            pass
    return total, n


def tree_pss_kb(pid):
    total = 0
    for p in proc_tree(pid):
        try:
            with open(f'/proc/{p}/smaps_rollup') as f:
                for line in f:
                    if line.startswith('Pss:'):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def machine_busy_s():
    """CPU seconds all cpus spent busy (not idle or iowait), from /proc/stat."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def tree_runq_wait_s(pid):
    """Seconds the tree's live threads spent runnable but waiting for a cpu (schedstat)."""
    total = 0
    for p in proc_tree(pid):
        try:
            for tid in os.listdir(f'/proc/{p}/task'):
                with open(f'/proc/{p}/task/{tid}/schedstat') as f:
                    total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


def mem_available_kb():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1])
    return 0


class RssSampler:
    """Peak of the tree's summed RSS while a run goes on."""

    def __init__(self, pid, every=0.1):
        self.pid, self.every, self.peak = pid, every, 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop_ev.is_set():
            self.peak = max(self.peak, tree_rss_kb(self.pid)[0])
            self.stop_ev.wait(self.every)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.t.join()
        self.peak = max(self.peak, tree_rss_kb(self.pid)[0])


# ---- the mail root ----------------------------------------------------------------------------
SYLL = ['ka', 'lo', 'mi', 'ne', 'ru', 'ta', 'vo', 'sel', 'dar', 'qui', 'mon', 'pe', 'shi', 'gra',
        'tor', 'en', 'al', 'is', 'bu', 'fe', 'wil', 'or', 'ath', 'cy']


def make_message(rng, user, n, when, target):
    words = [''.join(rng.choice(SYLL) for _ in range(rng.randint(1, 4))) for _ in range(400)]

    def sentence():
        return ' '.join(rng.choice(words) for _ in range(rng.randint(4, 14))).capitalize() + '.'

    def text_lines(nbytes):
        lines, size, cur = [], 0, ''
        while size < nbytes:
            if rng.random() < 0.03:
                line = rng.choice(['.', '..', '.hidden dot line', '-- ', '> ' + sentence()])
            else:
                s = sentence()
                if cur and len(cur) + 1 + len(s) > 72:
                    line, cur = cur, s
                else:
                    cur = (cur + ' ' + s).strip()
                    continue
            lines.append(line)
            size += len(line) + 1
            if rng.random() < 0.15:
                lines.append('')
                size += 1
        if cur:
            lines.append(cur)
        return lines

    host = f'mx{rng.randint(1, 9)}.example.org'
    mid = f'{rng.getrandbits(64):016x}.{n}@example.org'
    date = email.utils.formatdate(when)
    hdr = [
        f'Return-Path: <sender{n % 97}@example.org>',
        f'Delivered-To: {user}@example.net',
        f'Received: from {host} ({host} [192.0.2.{rng.randint(1, 254)}])',
        f'\tby mail.example.net with ESMTPS id {rng.getrandbits(40):010X}',
        f'\tfor <{user}@example.net>; {date}',
        f'Message-ID: <{mid}>',
        f'Date: {date}',
        f'From: "Sender {n % 97}" <sender{n % 97}@example.org>',
        f'To: {user}@example.net',
        f'Subject: {sentence()[:60]}',
        'MIME-Version: 1.0',
    ]
    head_size = sum(len(h) + 1 for h in hdr) + 120
    if target > 12 * 1024 and rng.random() < 0.5:
        b = f'=-=bench-{rng.getrandbits(48):012x}'
        text = text_lines(min(4096, target // 4))
        rest = max(0, target - head_size - sum(len(x) + 1 for x in text) - 300)
        raw = rng.randbytes(rest * 3 // 4)
        b64 = base64.b64encode(raw).decode()
        att = [b64[i:i + 76] for i in range(0, len(b64), 76)]
        body = ([f'Content-Type: multipart/mixed; boundary="{b}"', '', 'This is a MIME message.', '',
                 f'--{b}', 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '']
                + text + ['', f'--{b}', 'Content-Type: application/octet-stream; name="data.bin"',
                          'Content-Transfer-Encoding: base64',
                          'Content-Disposition: attachment; filename="data.bin"', '']
                + att + ['', f'--{b}--'])
    else:
        body = (['Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '']
                + text_lines(max(200, target - head_size)))
    return ('\n'.join(hdr + body) + '\n').encode()


def make_mail_root(root, users, messages, seed):
    """Returns {user: (password, [(crlf_size, crlf_sum), ...])}."""
    rng = random.Random(seed)
    accounts = {}
    names = [f'user{i:02d}' for i in range(1, users + 1)]
    base = 1_700_000_000
    for i, user in enumerate(names):
        pw = f'pw-{user}-{seed}'
        d = os.path.join(root, user)
        for sub in ('cur', 'new', 'tmp'):
            os.makedirs(os.path.join(d, sub))
        msgs = []
        count = messages // users + (1 if i < messages % users else 0)
        for n in range(count):
            target = int(2048 * (25 ** rng.random()))  # log-uniform, 2-50 KiB
            when = base + n * 3600 + i
            data = make_message(rng, user, n, when, target)
            lf = data.count(b'\n')
            crlf_size = len(data) + lf
            crlf_sum = sum(data) + 13 * lf
            name = f'{when}.M{n}P{4000 + i}.benchhost,S={len(data)},W={crlf_size}'
            with open(os.path.join(d, 'new', name), 'wb') as f:
                f.write(data)
            os.utime(os.path.join(d, 'new', name), (when, when))
            msgs.append((crlf_size, crlf_sum))
        accounts[user] = (pw, msgs)
    return accounts


def write_manifest(path, accounts):
    with open(path, 'w') as f:
        f.write('# maild-load manifest: user NAME PASSWORD, then msg CRLF_SIZE CRLF_BYTE_SUM\n')
        for user, (pw, msgs) in accounts.items():
            f.write(f'user {user} {pw}\n')
            for size, s in msgs:
                f.write(f'msg {size} {s}\n')


def chown_tree(path, uid, gid):
    os.chown(path, uid, gid)
    for dirpath, dirnames, filenames in os.walk(path):
        for n in dirnames + filenames:
            os.chown(os.path.join(dirpath, n), uid, gid)


# ---- servers ----------------------------------------------------------------------------------
def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def wait_greeting(port, prefix, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
                if s.recv(512).startswith(prefix):
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


class Server:
    name = '?'
    proc = None
    pop3 = imap = 0

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class Maild(Server):
    def __init__(self, exe, root, passwd, logfile, workers, max_conn, run_as):
        self.name = 'maild' if workers == 1 else f'maild-w{workers}'
        self.workers = workers
        cmd = [exe, '--mail-root', root, '--passwd', passwd, '--pop3', '127.0.0.1:0',
               '--imap', '127.0.0.1:0', '--max-connections', str(max_conn),
               '--max-connections-per-address', '0']  # every load client is 127.0.0.1
        if workers != 1:
            cmd += ['--workers', str(workers)]
        self.cmd = cmd
        self.logf = open(logfile, 'ab')
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.logf,
                                     stdin=subprocess.DEVNULL, **run_as)
        end = time.time() + 20
        while (not self.pop3 or not self.imap) and time.time() < end:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            parts = line.split()
            if len(parts) == 4 and parts[1] == 'listening':
                port = int(parts[3].rsplit(':', 1)[1])
                if parts[2] == 'pop3':
                    self.pop3 = port
                elif parts[2] == 'imap':
                    self.imap = port
        if not self.pop3 or not self.imap:
            self.stop()
            raise RuntimeError(f'{self.name} did not start; see {logfile}')


def dovecot_version():
    try:
        return subprocess.run([DOVECOT, '--version'], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


class Dovecot(Server):
    def __init__(self, tmp, mail, passwd, user, group, uid, gid, profile, max_conn, run_as, tag):
        # "dovecot": tuned as Dovecot's performance-tuning page says; "dovecot-stock": its
        # built-in service defaults (a login process and a mail process per connection).
        self.name = 'dovecot' if profile == 'tuned' else 'dovecot-stock'
        self.pop3, self.imap = free_port(), free_port()
        d = os.path.join(tmp, f'dovecot-{tag}')
        os.makedirs(os.path.join(d, 'run'))
        os.makedirs(os.path.join(d, 'state'))
        if uid is not None:
            chown_tree(d, uid, gid)
        self.conf = os.path.join(d, 'dovecot.conf')
        self.log = os.path.join(d, 'dovecot.log')
        tuned = profile == 'tuned'
        ncpu = os.cpu_count() or 1
        lines = [
            '# Written by test/bench/maild-load.py: an unprivileged Dovecot on 127.0.0.1.',
            'protocols = imap pop3',
            'listen = 127.0.0.1',
            f'base_dir = {d}/run',
            f'state_dir = {d}/state',
            f'instance_name = maild-load-{os.getpid()}-{tag}',
            f'log_path = {self.log}',
            'ssl = no',
            'disable_plaintext_auth = no',
            'auth_mechanisms = plain',
            f'default_login_user = {user}',
            f'default_internal_user = {user}',
            f'default_internal_group = {group}',
            f'first_valid_uid = {os.getuid() if uid is None else uid}',
            f'first_valid_gid = {os.getgid() if gid is None else gid}',
            f'mail_location = maildir:{mail}/%u',
            # one process per connection needs as many log/anvil/stats clients as connections
            f'default_client_limit = {max_conn + 1000}',
            f'default_process_limit = {max_conn + 100}',
            'passdb {', '  driver = passwd-file', f'  args = scheme=PLAIN username_format=%u {passwd}', '}',
            'userdb {', '  driver = passwd-file', f'  args = username_format=%u {passwd}', '}',
            # all sessions come from 127.0.0.1 as a few users: lift the per user+IP cap (10)
            'protocol imap {', '  mail_max_userip_connections = 100000', '}',
            'protocol pop3 {', '  mail_max_userip_connections = 100000', '}',
            # rootless: no chroot for the services that default to one
            'service anvil {', '  chroot =', '}',
        ]
        for proto, port in (('imap', self.imap), ('pop3', self.pop3)):
            lines += [f'service {proto}-login {{', '  chroot =',
                      f'  inet_listener {proto} {{', '    address = 127.0.0.1', f'    port = {port}', '  }',
                      f'  inet_listener {proto}s {{', '    port = 0', '  }']
            if tuned:  # Dovecot's "high-performance mode" for login processes
                lines += ['  service_count = 0', f'  process_min_avail = {ncpu}', '  vsz_limit = 1G']
            lines += ['}', f'service {proto} {{', f'  process_limit = {max_conn + 100}']
            if tuned:  # the performance-tuning page: reuse mail processes for 100 connections
                lines += ['  service_count = 100']
            lines += ['}']
        if tuned:
            lines += ['auth_cache_size = 1M']
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        self.outf = open(os.path.join(d, 'dovecot.out'), 'ab')
        self.proc = subprocess.Popen([DOVECOT, '-F', '-c', self.conf], stdout=self.outf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **run_as)
        if not (wait_greeting(self.imap, b'* OK') and wait_greeting(self.pop3, b'+OK')):
            self.stop()
            raise RuntimeError(f'dovecot did not start; see {self.log} and {d}/dovecot.out')


# ---- runs -------------------------------------------------------------------------------------
def parse_result(out):
    for line in out.splitlines():
        if line.startswith('result '):
            return dict(kv.split('=', 1) for kv in line.split()[1:])
    return None


def load_run(gen, manifest, server, proto, a):
    port = server.pop3 if proto == 'pop3' else server.imap
    cmd = [gen, f'--proto={proto}', f'--port={port}', f'--manifest={manifest}',
           f'--concurrency={a.concurrency}', f'--duration={a.duration}',
           f'--sessions={a.max_sessions}', '--timeout=30', f'--label={server.name}']
    cpu0, busy0, wait0 = tree_cpu_s(server.proc.pid), machine_busy_s(), tree_runq_wait_s(server.proc.pid)
    with RssSampler(server.proc.pid) as rss:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.duration + 90)
    cpu1, busy1, wait1 = tree_cpu_s(server.proc.pid), machine_busy_s(), tree_runq_wait_s(server.proc.pid)
    r = parse_result(p.stdout)
    if r is None:
        raise RuntimeError(f'maild-load printed no result ({server.name} {proto}):\n{p.stdout}{p.stderr}')
    res = {k: (v if k in ('label', 'proto') else float(v)) for k, v in r.items()}
    res['server_cpu_s'] = cpu1 - cpu0
    res['server_cpu_ms_per_session'] = 1000 * (cpu1 - cpu0) / res['sessions'] if res['sessions'] else None
    res['peak_rss_kb'] = rss.peak
    # Context on a shared machine: what everything else ran meanwhile, in cpus, and how long the
    # server's threads sat runnable without a cpu (live threads only: exact for maild, a lower
    # bound for Dovecot, whose per-session processes take theirs with them).
    el = res['elapsed_s'] or 1
    res['others_cpus'] = max(0.0, (busy1 - busy0) - res['server_cpu_s'] - res['gen_cpu_s']) / el
    res['server_runq_wait_share'] = (wait1 - wait0) / el
    res['errors_text'] = [l.strip() for l in p.stdout.splitlines() if l.strip().startswith('error:')]
    if not server.alive():
        raise RuntimeError(f'{server.name} died during the {proto} run')
    return res


def idle_run(gen, manifest, server, n, hold, select):
    """Opens n logged-in idle IMAP connections; returns the memory figures."""
    time.sleep(0.5)
    rss0, nproc0 = tree_rss_kb(server.proc.pid)
    pss0 = tree_pss_kb(server.proc.pid)
    cmd = [gen, '--proto=imap', f'--port={server.imap}', f'--manifest={manifest}', f'--idle={n}',
           f'--hold={hold}', '--wait-stdin', '--timeout=60', f'--label={server.name}'] + \
        (['--select'] if select else [])
    t0 = time.time()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ready = None
    lines = []
    while True:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith('idle ready'):
            ready = dict(kv.split('=', 1) for kv in line.split()[2:])
            break
    setup_s = time.time() - t0
    res = {'target': n, 'setup_s': setup_s, 'select': select}
    if ready is not None:
        time.sleep(1.0)  # let the server finish what the last logins started
        rss1, nproc1 = tree_rss_kb(server.proc.pid)
        pss1 = tree_pss_kb(server.proc.pid)
        est = int(ready['established'])
        res.update({'established': est, 'failed': int(ready['failed']), 'rss_before_kb': rss0,
                    'rss_after_kb': rss1, 'pss_before_kb': pss0, 'pss_after_kb': pss1,
                    'procs_before': nproc0, 'procs_after': nproc1})
        if est:
            res['rss_sum_per_conn_kb'] = rss1 / est
            res['rss_delta_per_conn_kb'] = (rss1 - rss0) / est
            res['pss_delta_per_conn_kb'] = (pss1 - pss0) / est
    try:
        out, _ = p.communicate('done\n', timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    lines.append(out)
    r = parse_result(''.join(lines))
    if r:
        res['alive_at_end'] = int(r.get('alive', 0))
    res['errors_text'] = [l.strip() for l in ''.join(lines).splitlines() if l.strip().startswith('error:')]
    return res


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(runs, contenders):
    out = {}
    for proto in ('pop3', 'imap'):
        for c in contenders:
            rs = [r for r in runs if r['proto'] == proto and r['label'] == c]
            if not rs:
                continue
            out[f'{proto}/{c}'] = {
                'proto': proto, 'server': c, 'runs': len(rs),
                'sessions_per_s': med([r['sessions_per_s'] for r in rs]),
                'sessions_per_s_min': min(r['sessions_per_s'] for r in rs),
                'sessions_per_s_max': max(r['sessions_per_s'] for r in rs),
                'p50_ms': med([r['p50_ms'] for r in rs]),
                'p99_ms': med([r['p99_ms'] for r in rs]),
                'msg_mb_per_s': med([r['msg_mb_per_s'] for r in rs]),
                'server_cpu_s': med([r['server_cpu_s'] for r in rs]),
                'server_cpu_ms_per_session': med([r['server_cpu_ms_per_session'] for r in rs]),
                'server_cpu_share': med([r['server_cpu_s'] / r['elapsed_s'] for r in rs if r['elapsed_s']]),
                'gen_cpu_share': med([r['gen_cpu_s'] / r['elapsed_s'] for r in rs if r['elapsed_s']]),
                'peak_rss_kb': max(r['peak_rss_kb'] for r in rs),
                'others_cpus': med([r['others_cpus'] for r in rs]),
                'server_runq_wait_share': med([r['server_runq_wait_share'] for r in rs]),
                'sessions': sum(r['sessions'] for r in rs),
                'errors': sum(r['errors'] for r in rs),
            }
    return out


def fmt(v, d=1):
    return '-' if v is None else f'{v:,.{d}f}'


def report_text(summary, idle, contenders, meta):
    lines = [f"maild load: C={meta['concurrency']} sessions at once, {meta['users']} users, "
             f"{meta['messages']} messages ({meta['mail_mb']:.1f} MB, {meta['avg_kib']:.1f} KiB average), "
             f"{meta['rounds']} rounds of {meta['duration']} s per contender and protocol"]
    ref = 'dovecot' if 'dovecot' in contenders else None
    ref2 = 'dovecot-stock' if 'dovecot-stock' in contenders else None
    for proto in ('pop3', 'imap'):
        lines.append('')
        lines.append(f'{proto.upper()}: median of {meta["rounds"]} runs')
        lines.append(f'  {"server":<13} {"sess/s":>9} {"(min-max)":>15} {"p50 ms":>8} {"p99 ms":>8} '
                     f'{"MB/s":>7} {"cpu s":>6} {"cpu ms/sess":>11} {"peak RSS":>10} {"errors":>6}'
                     + (f' {"/dovecot":>9}' if ref else '') + (f' {"/stock":>7}' if ref2 else ''))
        for c in contenders:
            s = summary.get(f'{proto}/{c}')
            if not s:
                continue
            r = summary.get(f'{proto}/{ref}') if ref else None
            ratio = s['sessions_per_s'] / r['sessions_per_s'] if r and r['sessions_per_s'] else None
            r2 = summary.get(f'{proto}/{ref2}') if ref2 else None
            ratio2 = s['sessions_per_s'] / r2['sessions_per_s'] if r2 and r2['sessions_per_s'] else None
            lines.append(f'  {c:<13} {fmt(s["sessions_per_s"]):>9} '
                         f'{"(" + fmt(s["sessions_per_s_min"], 0) + "-" + fmt(s["sessions_per_s_max"], 0) + ")":>15} '
                         f'{fmt(s["p50_ms"], 2):>8} {fmt(s["p99_ms"], 2):>8} {fmt(s["msg_mb_per_s"]):>7} '
                         f'{fmt(s["server_cpu_s"], 2):>6} {fmt(s["server_cpu_ms_per_session"], 2):>11} '
                         f'{fmt(s["peak_rss_kb"] / 1024, 1) + " MB":>10} {int(s["errors"]):>6}'
                         + (f' {fmt(ratio, 2):>9}' if ref else '') + (f' {fmt(ratio2, 2):>7}' if ref2 else ''))
    if idle:
        lines.append('')
        lines.append('Idle IMAP connections (logged in, then idle):')
        for name, r in idle.items():
            if 'established' not in r:
                lines.append(f'  {name}: failed: {r.get("errors_text")}')
                continue
            lines.append(f'  {name}: {r["established"]} of {r["target"]} established in {r["setup_s"]:.1f} s '
                         f'({r["failed"]} failed), {r.get("alive_at_end", "?")} alive at the end; '
                         f'processes {r["procs_before"]} -> {r["procs_after"]}; '
                         f'RSS {r["rss_before_kb"] / 1024:.1f} -> {r["rss_after_kb"] / 1024:.1f} MB: '
                         f'delta {r["rss_delta_per_conn_kb"]:.2f} KiB/conn, sum/N {r["rss_sum_per_conn_kb"]:.2f} KiB/conn; '
                         f'PSS delta {r["pss_delta_per_conn_kb"]:.2f} KiB/conn')
    return '\n'.join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--build', required=True)
    ap.add_argument('--out', default=None, help='results dir (default: BUILD)')
    ap.add_argument('--quick', action='store_true', help='3 rounds of 2.5 s, Dovecot idle test at 1000 connections')
    ap.add_argument('--rounds', type=int)
    ap.add_argument('--duration', type=float)
    ap.add_argument('--max-sessions', type=int, default=200000)
    ap.add_argument('--concurrency', type=int, default=16)
    ap.add_argument('--users', type=int, default=16)
    ap.add_argument('--messages', type=int, default=320)
    ap.add_argument('--workers', default=None, help='maild worker counts to run, e.g. 1,2 (default: 1,2 '
                    'when maild has --workers, else 1)')
    ap.add_argument('--idle', type=int, default=9000)
    ap.add_argument('--dovecot-idle', type=int, default=None)
    ap.add_argument('--no-idle', action='store_true')
    ap.add_argument('--no-dovecot', action='store_true')
    ap.add_argument('--dovecot-profiles', default='tuned,stock',
                    help='Dovecot contenders: tuned (as its performance-tuning page says: "dovecot"), '
                    'stock (its service defaults: "dovecot-stock"); the idle test uses tuned')
    ap.add_argument('--protocols', default='pop3,imap')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--keep', action='store_true', help='keep the temp dir')
    a = ap.parse_args()
    a.rounds = a.rounds or (3 if a.quick else 5)
    a.duration = a.duration or (2.5 if a.quick else 8.0)
    if a.users < a.concurrency and 'pop3' in a.protocols:
        sys.exit('POP3 locks the maildrop: --users must be at least --concurrency')
    if a.dovecot_idle is None:
        a.dovecot_idle = 1000 if a.quick else a.idle
    out_dir = a.out or a.build
    os.makedirs(out_dir, exist_ok=True)

    gen = os.path.join(a.build, 'test/bench/maild-load')
    exe = os.path.join(a.build, 'src/maild/maild')
    for f in (gen, exe):
        if not os.access(f, os.X_OK):
            sys.exit(f'{f}: not built (meson setup -Dbench=enabled, ninja)')
    helptext = subprocess.run([exe, '--help'], capture_output=True, text=True).stdout
    has_workers = '--workers' in helptext
    if a.workers is None:
        workers = [1, 2] if has_workers else [1]
    else:
        workers = [int(x) for x in a.workers.split(',')]
        if any(w != 1 for w in workers) and not has_workers:
            sys.exit('this maild has no --workers option')
    dovecot = None if a.no_dovecot or not os.access(DOVECOT, os.X_OK) else dovecot_version()
    protocols = a.protocols.split(',')
    profiles = [p for p in a.dovecot_profiles.split(',') if p]
    if any(p not in ('tuned', 'stock') for p in profiles):
        sys.exit('--dovecot-profiles: tuned and/or stock')

    # Limits: the generator and the servers inherit ours. As root, raise the hard limit too.
    want = max(a.idle, a.dovecot_idle) * 2 + 4096
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for lim in ((want, want), (hard, hard)):  # above the hard limit needs CAP_SYS_RESOURCE
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, lim)
            break
        except (ValueError, OSError):
            pass
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    idle_cap = max(0, nofile - 100)

    # Who the servers run as: never root.
    if os.getuid() == 0:
        import pwd
        import grp
        pw = pwd.getpwnam('nobody')
        run_uid, run_gid = pw.pw_uid, pw.pw_gid
        run_user, run_group = 'nobody', grp.getgrgid(pw.pw_gid).gr_name
        run_as = {'user': run_uid, 'group': run_gid, 'extra_groups': []}
    else:
        import pwd
        import grp
        run_uid = run_gid = None
        run_user = pwd.getpwuid(os.getuid()).pw_name
        run_group = grp.getgrgid(os.getgid()).gr_name
        run_as = {}

    tmp = tempfile.mkdtemp(prefix='maild-load.')
    os.chmod(tmp, 0o755)
    servers = []
    started = time.time()
    try:
        log(f'== mail root: {a.users} users, {a.messages} messages (seed {a.seed}) in {tmp}')
        master = os.path.join(tmp, 'master')
        accounts = make_mail_root(master, a.users, a.messages, a.seed)
        manifest = os.path.join(tmp, 'manifest')
        write_manifest(manifest, accounts)
        sizes = [s for _, m in accounts.values() for s, _ in m]
        mail_bytes = sum(sizes)
        passwd = os.path.join(tmp, 'maild.passwd')
        with open(passwd, 'w') as f:
            for user, (p, _) in accounts.items():
                f.write(f'{user}:{{PLAIN}}{p}\n')
        uid = os.getuid() if run_uid is None else run_uid
        gid = os.getgid() if run_gid is None else run_gid

        def copy_root(name):
            d = os.path.join(tmp, name)
            shutil.copytree(master, d)
            if run_uid is not None:
                chown_tree(d, run_uid, run_gid)
            return d

        def start_maild(w, tag, max_conn):
            root = copy_root(f'mail-{tag}')
            return Maild(exe, root, passwd, os.path.join(tmp, f'{tag}.log'), w, max_conn, run_as)

        def start_dovecot(tag, max_conn, profile='tuned'):
            mail = copy_root(f'mail-{tag}')
            dpw = os.path.join(tmp, f'dovecot-{tag}.passwd')
            with open(dpw, 'w') as f:
                for user, (p, _) in accounts.items():
                    f.write(f'{user}:{{PLAIN}}{p}:{uid}:{gid}::{mail}/{user}::\n')
            return Dovecot(tmp, mail, dpw, run_user, run_group, run_uid, run_gid, profile,
                           max_conn, run_as, tag)

        contenders = []
        for w in workers:
            s = start_maild(w, f'maild-w{w}', 2000)
            servers.append(s)
            contenders.append(s.name)
            log(f'== {s.name}: pop3 {s.pop3}, imap {s.imap}: {" ".join(s.cmd)}')
        if dovecot:
            for profile in profiles:
                s = start_dovecot(f'load-{profile}', 2000, profile)
                servers.append(s)
                contenders.append(s.name)
                log(f'== {s.name}: Dovecot {dovecot}, {profile} profile: pop3 {s.pop3}, imap {s.imap}: '
                    f'{DOVECOT} -F -c {s.conf}')
        elif a.no_dovecot:
            log('== --no-dovecot: maild only')
        else:
            log('== Dovecot not installed (apt-get install dovecot-imapd dovecot-pop3d): maild only')

        runs = []
        for proto in protocols:  # warm-up: first logins move new/ to cur/, build indexes
            for s in servers:
                a_w = argparse.Namespace(**vars(a))
                a_w.duration = 1.0
                r = load_run(gen, manifest, s, proto, a_w)
                log(f'   warm-up {proto} {s.name}: {r["sessions"]:.0f} sessions, {r["errors"]:.0f} errors')
                if r['errors']:
                    log('   ' + '\n   '.join(r['errors_text']))
        for rnd in range(1, a.rounds + 1):
            for proto in protocols:
                for s in servers:
                    r = load_run(gen, manifest, s, proto, a)
                    r['round'] = rnd
                    runs.append(r)
                    log(f'   round {rnd} {proto} {s.name:<10} {r["sessions_per_s"]:9.1f} sessions/s  '
                        f'p50 {r["p50_ms"]:7.2f} ms  p99 {r["p99_ms"]:7.2f} ms  {r["msg_mb_per_s"]:6.1f} MB/s  '
                        f'server cpu {r["server_cpu_s"]:5.2f} s ({r["server_cpu_ms_per_session"] or 0:.2f} ms/session)  '
                        f'gen cpu {r["gen_cpu_s"]:5.2f} s  peak RSS {r["peak_rss_kb"] / 1024:.1f} MB  '
                        f'others {r["others_cpus"]:.2f} cpus  runq wait {r["server_runq_wait_share"]:.2f}  '
                        f'errors {r["errors"]:.0f}')
                    for e in r['errors_text'][:3]:
                        log('      ' + e)
        for s in servers:
            s.stop()
        servers.clear()

        idle = {}
        if not a.no_idle:
            n = min(a.idle, idle_cap)
            if n < a.idle:
                log(f'== idle: RLIMIT_NOFILE {nofile} allows {n} connections, not {a.idle}')
            for select in (False, True):
                tag = 'maild-select' if select else 'maild'
                s = start_maild(1, f'{tag}-idle', n + 100)
                servers.append(s)
                log(f'== idle: {n} IMAP connections to a fresh maild' + (', each SELECTs INBOX' if select else ''))
                idle[tag] = idle_run(gen, manifest, s, n, 60, select)
                s.stop()
                servers.clear()
            if dovecot:
                n = min(a.dovecot_idle, idle_cap)
                # Dovecot runs one imap process per connection: probe what one costs, then go no
                # further than MemAvailable allows (keeping 4 GB free).
                fit = n
                if n > 1000:
                    s = start_dovecot('idle', 300)
                    servers.append(s)
                    probe = idle_run(gen, manifest, s, 200, 10, False)
                    per = probe.get('pss_delta_per_conn_kb') or 0
                    s.stop()
                    servers.clear()
                    fit = int((mem_available_kb() - 4 * 1024 * 1024) / per) if per > 0 else n
                if fit < n:
                    log(f'== idle: Dovecot needs ~{per:.0f} KiB per connection; MemAvailable allows {fit}, not {n}')
                    n = max(200, fit)
                s = start_dovecot('idle2', n + 100)
                servers.append(s)
                log(f'== idle: {n} IMAP connections to a fresh Dovecot')
                idle['dovecot'] = idle_run(gen, manifest, s, n, 60, False)
                s.stop()
                servers.clear()

        summary = summarize(runs, contenders)
        meta = {
            'date': time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
            'command': ' '.join(['test/bench/maild-load.py'] + sys.argv[1:]),
            'concurrency': a.concurrency, 'users': a.users, 'messages': a.messages,
            'mail_mb': mail_bytes / 1e6, 'avg_kib': mail_bytes / len(sizes) / 1024,
            'min_kib': min(sizes) / 1024, 'max_kib': max(sizes) / 1024,
            'rounds': a.rounds, 'duration': a.duration, 'workers': workers,
            'dovecot': dovecot, 'dovecot_profiles': profiles if dovecot else [],
            'run_as': run_user, 'nofile': nofile, 'idle_target': a.idle,
            'dovecot_idle_target': a.dovecot_idle if dovecot else None,
            'nproc': os.cpu_count(), 'elapsed_s': time.time() - started,
        }
        text = report_text(summary, idle, contenders, meta)
        log('')
        log(text)
        with open(os.path.join(out_dir, 'maild-load.json'), 'w') as f:
            json.dump({'meta': meta, 'contenders': contenders, 'summary': summary, 'runs': runs,
                       'idle': idle}, f, indent=1)
        with open(os.path.join(out_dir, 'maild-load.txt'), 'w') as f:
            f.write(text + '\n')
        log(f'== done in {time.time() - started:.0f} s; wrote {out_dir}/maild-load.json')
        bad = sum(s['errors'] for s in summary.values())
        return 1 if bad else 0
    finally:
        for s in servers:
            s.stop()
        if a.keep:
            log(f'== kept {tmp}')
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
