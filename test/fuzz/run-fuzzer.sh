#!/bin/sh
# run-fuzzer.sh FUZZER SEED_DIR WORK_DIR CRASH_DIR [libFuzzer options...]
# Copies the seeds into WORK_DIR (kept between runs, so the corpus grows), then runs FUZZER on it;
# crash, leak and timeout inputs go to CRASH_DIR/<fuzzer>-<kind>-<sha1>. Exits as the fuzzer does.
set -eu
fuzzer=$1 seeds=$2 work=$3 crashes=$4
shift 4
mkdir -p "$work" "$crashes"
cp -n "$seeds"/* "$work"/ 2>/dev/null || true
# libFuzzer exits 77 on a failure by default, which meson would count as a skipped test.
exec "$fuzzer" -artifact_prefix="$crashes/$(basename "$fuzzer")-" -error_exitcode=1 \
	-timeout_exitcode=1 -print_final_stats=1 "$@" "$work"
