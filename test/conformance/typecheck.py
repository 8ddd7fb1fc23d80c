#!/usr/bin/env python3
"""ioloop.h's typed-callback macros, for every macro, in C and in C++: a callback taking the
context's own pointer type compiles with -Wall -Wextra -Wpedantic -Werror; a callback taking
another type must not compile. Usage: typecheck.py INCLUDE_DIR -- C_COMPILER... -- CXX_COMPILER..."""
import os
import subprocess
import sys
import tempfile

PRELUDE = """
#include <ioloop/ioloop.h>
struct right { int x; };
struct wrong { int y; };
static void cb(struct right *p) { (void)p; }
static void sig_cb(int signo, struct right *p) { (void)signo; (void)p; }
static void bad_cb(struct wrong *p) { (void)p; }
static void bad_sig_cb(int signo, struct wrong *p) { (void)signo; (void)p; }
int use(struct ioloop *loop, struct ioloop_context *ctx, const struct timeval *tv);
int use(struct ioloop *loop, struct ioloop_context *ctx, const struct timeval *tv)
{
	struct right r;
	(void)loop; (void)ctx; (void)tv; (void)&cb; (void)&sig_cb; (void)&bad_cb; (void)&bad_sig_cb;
	%s;
	return 0;
}
"""

# (call with the right callback, CB/SIG stand for the callback)
CALLS = [
    "io_add(0, IO_READ, CB, &r)",
    "io_add_to(loop, 0, IO_READ, CB, &r)",
    "timeout_add(1, CB, &r)",
    "timeout_add_short(1, CB, &r)",
    "timeout_add_to(loop, 1, CB, &r)",
    "timeout_add_short_to(loop, 1, CB, &r)",
    "timeout_add_absolute(tv, CB, &r)",
    "timeout_add_absolute_to(loop, tv, CB, &r)",
    "signal_add(1, SIG, &r)",
    "signal_add_to(loop, 1, SIG, &r)",
    "io_loop_context_add_callbacks(ctx, CB, CB, &r)",
    "io_loop_context_remove_callbacks(ctx, CB, CB, &r)",
]


def compiles(compiler, lang, source, include):
    suffix = ".c" if lang == "c" else ".cpp"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "t" + suffix)
        with open(path, "w") as f:
            f.write(source)
        std = ["-std=c11"] if lang == "c" else ["-std=c++20"]
        cmd = compiler + std + ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-I", include,
                                "-fsyntax-only", path]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return r.returncode == 0, r.stdout.decode(errors="replace")


def main():
    args = sys.argv[1:]
    include = args[0]
    rest = args[2:]
    split = rest.index("--")
    compilers = {"c": rest[:split], "c++": rest[split + 1:]}
    failed = 0
    for lang, compiler in compilers.items():
        for call in CALLS:
            good = call.replace("SIG", "sig_cb").replace("CB", "cb")
            ok, out = compiles(compiler, lang, PRELUDE % good, include)
            if not ok:
                print(f"FAIL {lang}: refused the matching pair: {good}\n{out}")
                failed += 1
            # each callback of the call mismatched in turn
            n = call.count("CB") + call.count("SIG")
            for which in range(n):
                k = 0
                bad = ""
                i = 0
                while i < len(call):
                    for token, right, wrong in (("SIG", "sig_cb", "bad_sig_cb"), ("CB", "cb", "bad_cb")):
                        if call.startswith(token, i):
                            bad += wrong if k == which else right
                            k += 1
                            i += len(token)
                            break
                    else:
                        bad += call[i]
                        i += 1
                ok, out = compiles(compiler, lang, PRELUDE % bad, include)
                if ok:
                    print(f"FAIL {lang}: accepted a mismatched pair: {bad}")
                    failed += 1
                else:
                    print(f"ok {lang}: refused {bad}")
    print(f"{failed} failure(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
