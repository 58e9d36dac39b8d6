#!/usr/bin/env bash
# Whole-process benchmark of `phonehome replay` on the generated enterprise-mix
# capture, beside a bare loop over the same file (read every packet, slice it
# with etherparse, nothing else) and, when installed, ndpiReader and tshark —
# all in the same run, so the figures compare on the same machine state.
#
#   bench/run.sh                 # 8M packets (~3 GB, generated on first use)
#   PACKETS=1000000 bench/run.sh # a smaller capture
#   RUNS=5 bench/run.sh          # best of 5 (default 3)
#   MIX=quic-short bench/run.sh  # the second seed: more QUIC, shorter flows
#
# Prints one row per configuration: best wall time of RUNS runs, packets/s,
# CPU time (user + sys) of that run, peak resident memory, minor page faults
# and (phonehome rows) allocator calls per 1M packets, flow-table bytes per
# active flow at the table's peak (all workers' table bytes / their flows;
# hash map of slot numbers, the records' slab, names, dissector state,
# timers), and the
# ratios of wall and CPU to the bare loop. Allocations and table bytes come
# from a second build with the alloc-count feature (target/alloc-count), run
# once per configuration.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKETS=${PACKETS:-8000000}
RUNS=${RUNS:-3}
MIX=${MIX:-enterprise}
if [[ $MIX == enterprise ]]; then
    FILE=${FILE:-bench/out/bench-${PACKETS}.pcap}
else
    FILE=${FILE:-bench/out/bench-${MIX}-${PACKETS}.pcap}
fi
mkdir -p "$(dirname "$FILE")"

cargo build --release --quiet -p gencap --bin gencap
cargo build --release --quiet --bin phonehome --example bare_loop
cargo build --release --quiet --bin phonehome --features alloc-count --target-dir target/alloc-count
ALLOC_BIN=./target/alloc-count/release/phonehome
if [[ ! -f $FILE ]]; then
    ./target/release/gencap bench -o "$FILE" --packets "$PACKETS" --mix "$MIX"
fi
# Same starting point for every row: the file in the page cache.
cat "$FILE" >/dev/null

P=./target/release/phonehome
BARE=./target/release/examples/bare_loop
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "bench: /usr/bin/time is needed (apt-get install -y time)" >&2; exit 1; }

bare_wall=""
bare_cpu=""
TMP=$(mktemp)
ERR=$(mktemp)
trap 'rm -f "$TMP" "$ERR"' EXIT
per_m() { awk "BEGIN{printf \"%.0f\", $1 * 1000000 / $PACKETS}"; }
# measure NAME RUNS CMD...: best wall time, with that run's CPU, peak RSS and faults
measure() {
    local name=$1 runs=$2
    shift 2
    local best="" cpu="" rss="" minflt=""
    for _ in $(seq "$runs"); do
        local out
        $TIME -o "$TMP" -f "%e %U %S %M %R" "$@" >/dev/null 2>/dev/null || true
        read -r wall user sys mem faults < <(tail -1 "$TMP")
        if [[ -z $best ]] || awk "BEGIN{exit !($wall < $best)}"; then
            best=$wall
            cpu=$(awk "BEGIN{printf \"%.2f\", $user + $sys}")
            rss=$mem
            minflt=$faults
        fi
    done
    [[ $name == "bare loop"* && -z $bare_wall ]] && bare_wall=$best && bare_cpu=$cpu
    # Allocator calls: the same command on the counting build (phonehome rows only).
    local allocs="-" per_flow="-"
    if [[ $1 == "$P" ]]; then
        "$ALLOC_BIN" "${@:2}" >/dev/null 2>"$ERR" || true
        local n
        n=$(grep -o 'alloc-count: [0-9]* allocations, [0-9]* reallocations' "$ERR" | awk '{print $2 + $4}')
        [[ -n $n ]] && allocs=$(per_m "$n")
        # "flow-table: worker W: peak F flows, B bytes, ...", one line a worker
        per_flow=$(grep -o 'peak [0-9]* flows, [0-9]* bytes' "$ERR" |
            awk '{f += $2; b += $4} END {if (f > 0) printf "%.0f", b / f; else print "-"}')
    fi
    local mpps ratio cratio
    mpps=$(awk "BEGIN{printf \"%.2f\", $PACKETS / $best / 1e6}")
    ratio=$(awk "BEGIN{printf \"%.2f\", $best / $bare_wall}")
    cratio=$(awk "BEGIN{printf \"%.2f\", $cpu / ($bare_cpu > 0 ? $bare_cpu : 0.01)}")
    printf '%-58s %7.2f s %6s M/s %7.2f s %7.0f MB %9s %9s %7s %6sx %6sx\n' "$name" "$best" "$mpps" "$cpu" \
        "$((rss / 1024))" "$(per_m "$minflt")" "$allocs" "$per_flow" "$ratio" "$cratio"
}

echo "capture: $FILE ($PACKETS packets, $(du -h "$FILE" | cut -f1)), best of $RUNS, $(nproc) cores"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-58s %9s %10s %9s %10s %9s %9s %7s %7s %7s\n' "configuration" "wall" "rate" "CPU" "peak RSS" \
    "minflt/1M" "alloc/1M" "B/flow" "wall/b" "CPU/b"
measure "bare loop: phonehome reader + etherparse" "$RUNS" $BARE "$FILE"
measure "bare loop: libpcap + etherparse" "$RUNS" $BARE --reader libpcap "$FILE"
R=(replay "$FILE" --eve /dev/null -q)
measure "phonehome, 1 worker, flows only (--no-dissect)" "$RUNS" $P "${R[@]}" --workers 1 --no-dissect --no-attribution
measure "phonehome, 1 worker, + dissectors" "$RUNS" $P "${R[@]}" --workers 1 --no-attribution
measure "phonehome, 1 worker, + attribution (full)" "$RUNS" $P "${R[@]}" --workers 1
measure "phonehome, 1 worker, full, catalog x10" "$RUNS" $P "${R[@]}" --workers 1 --bench-catalog-scale 10
measure "phonehome, 2 workers, flows only" "$RUNS" $P "${R[@]}" --workers 2 --no-dissect --no-attribution
measure "phonehome, 2 workers, full" "$RUNS" $P "${R[@]}" --workers 2
measure "phonehome, 2 workers, full, EVE written to a file" 1 $P replay "$FILE" --eve bench/out/eve.json -q --workers 2

# Per-thread CPU (user + sys, getrusage per thread, taken as each thread
# ends; --bench-thread-times) of the full pipeline, RUNS runs each, 1 and 2
# workers in turn; the median run by process CPU is shown. S = reader +
# main (the serial part), W = the worker(s); 2W/(W+S) bounds the speed-up
# of 2 workers over 1 on 2 cores (Amdahl, from the 1-worker run).
echo
echo "per-thread CPU, full pipeline (median of $RUNS by process CPU; user/sys s; waits = voluntary context switches)"
printf '%-9s %-16s %-16s %-16s %-16s %-16s %8s\n' workers reader worker-0 worker-1 main process "wall"
declare -A amdahl
for w in 1 2; do
    rows=()
    for _ in $(seq "$RUNS"); do
        $TIME -o "$TMP" -f "%e" $P "${R[@]}" --workers $w --bench-thread-times >/dev/null 2>"$ERR" || true
        wall=$(tail -1 "$TMP")
        # "phonehome: thread-times: NAME user U s sys S s total T s waits N"
        row=$(awk -v wall="$wall" '/thread-times:/ {u[$3] = $5; s[$3] = $8; t[$3] = $11; n[$3] = $14}
            END {
                cell = "%.2f/%.2f (%d)";
                printf "%s", t["process"];
                split("reader worker-0 worker-1 main process", names, " ");
                for (i = 1; i <= 5; i++) {
                    k = names[i];
                    if (k in u) printf "\t" cell, u[k], s[k], n[k]; else printf "\t-";
                }
                printf "\t%s\t%s\t%s\n", wall, t["reader"] + t["main"], t["worker-0"] + t["worker-1"]
            }' "$ERR")
        rows+=("$row")
    done
    med=$(printf '%s\n' "${rows[@]}" | sort -t$'\t' -k1,1g | awk -v n="${#rows[@]}" 'NR == int((n + 1) / 2)')
    IFS=$'\t' read -r _ r w0 w1 m p wall S W <<<"$med"
    printf '%-9s %-16s %-16s %-16s %-16s %-16s %6s s\n' "$w" "$r" "$w0" "$w1" "$m" "$p" "$wall"
    amdahl[$w]="$S $W $wall"
done
read -r S1 W1 wall1 <<<"${amdahl[1]}"
read -r _ _ wall2 <<<"${amdahl[2]}"
echo "1 worker: S (reader + main) $S1 s, W $W1 s: serial share S/(S+W) $(awk "BEGIN{printf \"%.1f\", 100 * $S1 / ($S1 + $W1)}") %;" \
    "Amdahl bound on 2 cores 2W/(W+S) = $(awk "BEGIN{printf \"%.2f\", 2 * $W1 / ($W1 + $S1)}")x;" \
    "measured wall 1 worker / 2 workers (these medians) = $(awk "BEGIN{printf \"%.2f\", $wall1 / $wall2}")x"

if command -v ndpiReader >/dev/null; then
    measure "ndpiReader (nDPI $(ndpiReader -h 2>&1 | grep -o 'nDPI [0-9][0-9.]*' | head -1 | cut -d' ' -f2 || true), 1 thread)" 1 ndpiReader -i "$FILE" -q
else
    echo "ndpiReader: not installed (apt-get install -y libndpi-bin)"
fi
if command -v tshark >/dev/null; then
    # tshark is ~100x slower: time it on the first 400,000 packets and scale.
    N=400000
    $TIME -o "$TMP" -f "%e %U %S %M %R" tshark -n -r "$FILE" -c $N -q -z conv,tcp >/dev/null 2>/dev/null || true
    read -r wall user sys mem faults < <(tail -1 "$TMP")
    scaled=$(awk "BEGIN{print $wall * $PACKETS / $N}")
    scaled_cpu=$(awk "BEGIN{printf \"%.2f\", ($user + $sys) * $PACKETS / $N}")
    printf '%-58s %7.2f s %6s M/s %7.2f s %7.0f MB %9s %9s %7s %6sx %6sx\n' \
        "tshark -z conv,tcp (first $N packets, scaled)" "$scaled" \
        "$(awk "BEGIN{printf \"%.3f\", $N / $wall / 1e6}")" "$scaled_cpu" "$((mem / 1024))" \
        "$(awk "BEGIN{printf \"%.0f\", $faults * 1000000 / $N}")" "-" "-" \
        "$(awk "BEGIN{printf \"%.0f\", $scaled / $bare_wall}")" \
        "$(awk "BEGIN{printf \"%.0f\", $scaled_cpu / ($bare_cpu > 0 ? $bare_cpu : 0.01)}")"
else
    echo "tshark: not installed (apt-get install -y tshark)"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
