#!/usr/bin/env bash
# Whole-process benchmark of `phonehome replay` on the generated enterprise-mix
# capture, beside a bare loop over the same file (read every packet, slice it
# with etherparse, nothing else) and, when installed, ndpiReader and tshark —
# all in the same run, so the figures compare on the same machine state.
#
#   bench/run.sh                 # 8M packets (~3 GB, generated on first use)
#   PACKETS=1000000 bench/run.sh # a smaller capture
#   RUNS=5 bench/run.sh          # best of 5 (default 3)
#
# Prints one row per configuration: best wall time of RUNS runs, packets/s,
# peak resident memory, and the ratio to the bare loop.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKETS=${PACKETS:-8000000}
RUNS=${RUNS:-3}
FILE=${FILE:-bench/out/bench-${PACKETS}.pcap}
mkdir -p "$(dirname "$FILE")"

cargo build --release --quiet -p gencap --bin gencap
cargo build --release --quiet --bin phonehome --example bare_loop
if [[ ! -f $FILE ]]; then
    ./target/release/gencap bench -o "$FILE" --packets "$PACKETS"
fi
# Same starting point for every row: the file in the page cache.
cat "$FILE" >/dev/null

P=./target/release/phonehome
BARE=./target/release/examples/bare_loop
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "bench: /usr/bin/time is needed (apt-get install -y time)" >&2; exit 1; }

bare_wall=""
TMP=$(mktemp)
trap 'rm -f "$TMP"' EXIT
# measure NAME RUNS CMD...: best wall time, its peak RSS
measure() {
    local name=$1 runs=$2
    shift 2
    local best="" rss=""
    for _ in $(seq "$runs"); do
        local out
        $TIME -o "$TMP" -f "%e %M" "$@" >/dev/null 2>/dev/null || true
        out=$(tail -1 "$TMP")
        local wall=${out% *} mem=${out#* }
        if [[ -z $best ]] || awk "BEGIN{exit !($wall < $best)}"; then
            best=$wall
            rss=$mem
        fi
    done
    [[ $name == "bare loop"* && -z $bare_wall ]] && bare_wall=$best
    local mpps ratio
    mpps=$(awk "BEGIN{printf \"%.2f\", $PACKETS / $best / 1e6}")
    ratio=$(awk "BEGIN{printf \"%.2f\", $best / $bare_wall}")
    printf '%-58s %8.2f s %8s Mpkt/s %8.0f MB %6sx\n' "$name" "$best" "$mpps" "$((rss / 1024))" "$ratio"
}

echo "capture: $FILE ($PACKETS packets, $(du -h "$FILE" | cut -f1)), best of $RUNS, $(nproc) cores"
printf '%-58s %10s %15s %11s %7s\n' "configuration" "wall" "rate" "peak RSS" "/bare"
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

if command -v ndpiReader >/dev/null; then
    measure "ndpiReader (nDPI $(ndpiReader -h 2>&1 | grep -o 'nDPI [0-9][0-9.]*' | head -1 | cut -d' ' -f2 || true), 1 thread)" 1 ndpiReader -i "$FILE" -q
else
    echo "ndpiReader: not installed (apt-get install -y libndpi-bin)"
fi
if command -v tshark >/dev/null; then
    # tshark is ~100x slower: time it on the first 400,000 packets and scale.
    N=400000
    $TIME -o "$TMP" -f "%e %M" tshark -n -r "$FILE" -c $N -q -z conv,tcp >/dev/null 2>/dev/null || true
    t=$(tail -1 "$TMP")
    wall=${t% *} mem=${t#* }
    printf '%-58s %8.2f s %8s Mpkt/s %8.0f MB %6sx\n' "tshark -z conv,tcp (first $N packets, scaled)" \
        "$(awk "BEGIN{print $wall * $PACKETS / $N}")" "$(awk "BEGIN{printf \"%.3f\", $N / $wall / 1e6}")" \
        "$((mem / 1024))" "$(awk "BEGIN{printf \"%.0f\", $wall * $PACKETS / $N / $bare_wall}")"
else
    echo "tshark: not installed (apt-get install -y tshark)"
fi
