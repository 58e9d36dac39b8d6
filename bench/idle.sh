#!/usr/bin/env bash
# Where a replay's threads wait, and how much of 2 CPUs it leaves idle:
# `perf sched record` of one run, read by bench/idle-waits.py (who slept,
# woken by whom, per phase: start, steady state, end; and the time fewer
# than NCPU threads were runnable, which a machine of the run's own would
# spend idle).
#
#   bench/idle.sh [WORKERS] [FILE]        # default 2 workers, the 8M capture
#   BIN=/path/to/phonehome bench/idle.sh  # another build (a before/after pair)
#
# On a machine shared with other work, the run goes in an autogroup of its
# own at nice -20 (root only; otherwise as is), so that it gets the CPUs
# nearly as on a quiet machine. Needs perf and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-2}
FILE=${2:-bench/out/bench-8000000.pcap}
BIN=${BIN:-./target/release/phonehome}
[[ -x $BIN ]] || cargo build --release --quiet --bin phonehome
DATA=$(mktemp --suffix .perf)
trap 'rm -f "$DATA"' EXIT
cat "$FILE" >/dev/null
setsid bash -c 'echo -20 >/proc/self/autogroup 2>/dev/null || true; exec "$@"' _ \
    perf sched record -q -o "$DATA" -- "$BIN" replay "$FILE" --eve /dev/null -q \
    --workers "$WORKERS" --bench-thread-times 2>&1 >/dev/null | grep thread-times || true
echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
perf script -i "$DATA" -F comm,pid,tid,cpu,time,event,trace 2>/dev/null | python3 bench/idle-waits.py
