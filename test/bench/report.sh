#!/bin/bash
# Builds one release tree per handler, runs every benchmark, and rewrites doc/performance.md and
# its plots (doc/perf/*.png).
#
#   test/bench/report.sh [--quick] [--handlers=epoll,poll,select,kevent] [--no-maild]
#
# --quick: fewer writes and rounds (10-20 minutes on a shared 2-core machine); without it, the
# full profile (W=200000, 9 rounds; takes much longer). Raw results land in build-bench-results/.
# Without --handlers: epoll, poll, select, and kevent when `meson setup -Dioloop=kevent` works on
# this machine.
# The maild load benchmark (test/bench/maild-load.py) runs from the epoll tree, which is then
# built with maild, with one worker and with two; against Dovecot too when dovecot-imapd and
# dovecot-pop3d are installed. --no-maild skips it.
set -euo pipefail

quick=0
handlers=""
maild_load=1
for arg in "$@"; do
	case "$arg" in
	--quick) quick=1 ;;
	--no-maild) maild_load=0 ;;
	--handlers=*) handlers="${arg#--handlers=}" ;;
	-h | --help)
		sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "unknown argument: $arg" >&2
		exit 2
		;;
	esac
done

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
results="$root/build-bench-results"
started=$(date +%s)

# Tools: peers, counters and the plotter, from Debian.
need=()
for pair in libevent-dev:/usr/include/event2/event.h libev-dev:/usr/include/ev.h \
	valgrind:/usr/bin/valgrind strace:/usr/bin/strace gnuplot-nox:/usr/bin/gnuplot \
	meson:/usr/bin/meson ninja-build:/usr/bin/ninja python3:/usr/bin/python3; do
	[ -e "${pair#*:}" ] || need+=("${pair%%:*}")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing ${need[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -z "$handlers" ]; then
	handlers="epoll,poll,select"
	rm -rf build-bench-kevent
	if meson setup build-bench-kevent -Dioloop=kevent -Dbuildtype=release -Dbench=enabled \
		-Dtests=false -Dmaild=disabled >/dev/null 2>&1; then
		handlers="$handlers,kevent"
	else
		rm -rf build-bench-kevent
	fi
fi
IFS=, read -r -a handler_list <<<"$handlers"
# maild (and its load generator) is built in one tree only: epoll's, else the first handler's.
maild_tree="build-bench-${handler_list[0]}"
for h in "${handler_list[@]}"; do
	[ "$h" = epoll ] && maild_tree=build-bench-epoll
done
[ -d src/maild ] || maild_load=0

if [ $quick -eq 1 ]; then
	profile=quick
	W=20000 ROUNDS=5 CHURN_OPS=400000 FIRE=1000000 SMALL_W=10000
else
	profile=full
	W=200000 ROUNDS=9 CHURN_OPS=2000000 FIRE=1000000 SMALL_W=50000
fi

rm -rf "$results"
mkdir -p "$results"
{
	echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc=$(nproc)"
	echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
	echo "kernel=$(uname -sr)"
	echo "profile=$profile"
	echo "command=test/bench/report.sh $*"
	echo "handlers=$handlers"
	echo "git=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet -- src 2>/dev/null || echo '+dirty src')"
	echo "libevent=$(pkg-config --modversion libevent 2>/dev/null || echo '?')"
	echo "libev=$(dpkg-query -W -f '${Version}' libev-dev 2>/dev/null || echo '?')"
	echo "dovecot=$( (/usr/sbin/dovecot --version 2>/dev/null || echo 'not installed') | head -1)"
} >"$results/machine.txt"

for h in "${handler_list[@]}"; do
	b="build-bench-$h"
	echo "== building $b"
	maild_opt=-Dmaild=disabled
	if [ $maild_load -eq 1 ] && [ "$b" = "$maild_tree" ]; then
		maild_opt=-Dmaild=enabled
	fi
	if [ -f "$b/build.ninja" ]; then
		meson configure "$b" -Dioloop="$h" -Dbuildtype=release -Dbench=enabled -Dtests=false \
			"$maild_opt" >/dev/null
	else
		meson setup "$b" -Dioloop="$h" -Dbuildtype=release -Dbench=enabled -Dtests=false \
			"$maild_opt" >/dev/null
	fi
	ninja -C "$b" test/bench/bench-chain test/bench/bench-timers test/bench/bench-churn >/dev/null
	if [ "$maild_opt" = -Dmaild=enabled ] &&
		! ninja -C "$b" src/maild/maild test/bench/maild-load >"$results/maild-build.log" 2>&1; then
		echo "   maild does not build (see $results/maild-build.log): no maild load benchmark"
		maild_load=0
	fi
done

for h in "${handler_list[@]}"; do
	bin="build-bench-$h/test/bench"
	# poll and select scan every fd per wait, and select stops at FD_SETSIZE: smaller N there.
	case "$h" in
	epoll | kevent) chain_n=100,400,1000,5000,9900 chain_w=$W ;;
	poll) chain_n=100,400,1000 chain_w=$SMALL_W ;;
	select) chain_n=100,400 chain_w=$SMALL_W ;;
	esac

	echo "== [$h] chain (N=$chain_n, W>=$chain_w, $ROUNDS rounds)"
	"$bin/bench-chain" --n=$chain_n --a=1,100,1000 --w=$chain_w --rounds=$ROUNDS \
		--csv="$results/chain.csv" >"$results/chain-$h.txt"
	echo "== [$h] chain on 100 pairs, the others idle (N=$chain_n, A=100)"
	"$bin/bench-chain" --n=$chain_n --a=100 --ring=100 --timeouts=off --w=$chain_w \
		--rounds=$ROUNDS --csv="$results/chain.csv" >"$results/chain-$h-ring.txt"
	if [ "$h" = poll ] || [ "$h" = select ]; then
		nb_n=1000
		[ "$h" = select ] && nb_n=400
		echo "== [$h] chain, peers stepping with a zero wait as bench.c (N=$nb_n, A=1)"
		"$bin/bench-chain" --n=$nb_n --a=1 --w=5000 --rounds=3 --nonblock \
			>"$results/chain-$h-nonblock.txt"
	fi
	echo "== [$h] timers"
	"$bin/bench-timers" --n=1000,10000,100000 --fire=$FIRE --rounds=$ROUNDS \
		--csv="$results/timers.csv" >"$results/timers-$h.txt"
	echo "== [$h] churn"
	"$bin/bench-churn" --n=100,1000 --ops=$CHURN_OPS --rounds=$ROUNDS \
		--csv="$results/churn.csv" >"$results/churn-$h.txt"

	# Syscalls per add/remove: strace counts a run of I iterations and one of none; the
	# difference divided by the operations leaves setup out.
	echo "== [$h] churn syscalls (strace -c)"
	for c in ioloop-c ioloop-cpp libev libevent epoll-floor; do
		for it in 0 20; do
			strace -f -c -o "$results/strace-$h-$c-$it.txt" \
				"$bin/bench-churn" --only=$c --n=1000 --iters=$it >/dev/null || true
		done
	done

	# User-space instructions per event: callgrind is deterministic where time is not.
	# W=20000 minus W=0 leaves only the events. Peers and the floor once, from the first build.
	cg_n=1000
	[ "$h" = select ] && cg_n=400
	cg_contenders="ioloop-c ioloop-cpp"
	[ "$h" = "${handler_list[0]}" ] && cg_contenders="ioloop-c ioloop-cpp libev libevent epoll-floor"
	echo "== [$h] callgrind (N=$cg_n A=100: $cg_contenders)"
	for c in $cg_contenders; do
		for t in off on; do
			for w in 0 20000; do
				valgrind --tool=callgrind --callgrind-out-file="$results/cg-$h-$c-$t-$w.out" \
					"$bin/bench-chain" --only=$c --n=$cg_n --a=100 --w=$w --timeouts=$t \
					>/dev/null 2>"$results/cg-$h-$c-$t-$w.err"
			done
		done
	done
	# Does the loop's own cost grow with idle fds? The same count at N=100 and N=9900, where
	# the kernel interface scales (epoll, kevent).
	if [ "$h" = epoll ] || [ "$h" = kevent ]; then
		echo "== [$h] callgrind, N=100 and N=9900 (A=100, ioloop-c)"
		for n in 100 9900; do
			for w in 0 20000; do
				valgrind --tool=callgrind --callgrind-out-file=/dev/null \
					"$bin/bench-chain" --only=ioloop-c --n=$n --a=100 --w=$w \
					>/dev/null 2>"$results/cgn-$h-$n-$w.err"
			done
		done
	fi
	# Syscalls per chain event, against the floor's: strace counts W=20000 and W=0. Every
	# contender from the first build; from the kevent build also ours and the floor, since the
	# emulation's system calls are a target of their own.
	st_contenders=$cg_contenders
	if [ "$h" != "${handler_list[0]}" ]; then
		[ "$h" = kevent ] || continue
		st_contenders="ioloop-c epoll-floor"
	fi
	echo "== [$h] chain syscalls (strace -c, N=$cg_n A=100: $st_contenders)"
	for c in $st_contenders; do
		for t in off on; do
			for w in 0 20000; do
				strace -f -c -o "$results/strace-chain-$h-$c-$t-$w.txt" \
					"$bin/bench-chain" --only=$c --n=$cg_n --a=100 --w=$w --timeouts=$t \
					>/dev/null || true
			done
		done
	done
done

# maild against Dovecot: sessions/s, latency, CPU, RSS, idle connections.
# Bounded by itself (every run stops after its duration); 127.0.0.1 only.
if [ $maild_load -eq 1 ]; then
	echo "== maild load ($maild_tree; Dovecot: $(grep '^dovecot=' "$results/machine.txt" | cut -d= -f2-))"
	# One worker and two: the IMAP targets are judged on each (maild-load.py's default is the same
	# only when maild has --workers; asked for here, it stops if maild lacks it).
	maild_args=(--build="$maild_tree" --out="${results#"$root"/}" --workers=1,2)  # relative: the command is printed in doc/performance.md
	[ $quick -eq 1 ] && maild_args+=(--quick)
	if ! python3 test/bench/maild-load.py "${maild_args[@]}" >"$results/maild-load.log" 2>&1; then
		echo "   maild load: errors or failure, see $results/maild-load.log"
	fi
	sed -n '/^maild load:/,$p' "$results/maild-load.log"
fi

echo "== writing doc/performance.md"
python3 test/bench/report.py "$results" doc
echo "== done in $(($(date +%s) - started)) s"
