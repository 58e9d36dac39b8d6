#!/usr/bin/env bash
# Instruction counts per thread (valgrind --tool=callgrind), the steady
# measure on a noisy machine: the bare loop (read + etherparse) and the full
# pipeline with 1 and 2 workers on a capture from the bench generator, and
# the serial share (reader + main thread) of all instructions.
#
#   bench/threads.sh                  # 200,000 packets, enterprise mix
#   MIX=quic-short bench/threads.sh   # the second seed
#   PACKETS=50000 bench/threads.sh
#
# The main thread's count includes start-up (catalog, policy, GeoIP), paid
# once per run; the start-up row measures it alone, on a one-packet capture
# (no flows to write or judge, so it is start-up and little else).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKETS=${PACKETS:-200000}
MIX=${MIX:-enterprise}
OUT=${OUT:-bench/out/threads-$MIX}
command -v valgrind >/dev/null || { echo "bench: valgrind is needed (apt-get install -y valgrind)" >&2; exit 1; }
mkdir -p "$OUT"
cargo build --release --quiet -p gencap --bin gencap
cargo build --release --quiet --bin phonehome --example bare_loop
CAP=$OUT/cap-$MIX-$PACKETS.pcap
[[ -f $CAP ]] || ./target/release/gencap bench -o "$CAP" --packets "$PACKETS" --mix "$MIX" >/dev/null
ONE=$OUT/cap-$MIX-1.pcap
[[ -f $ONE ]] || ./target/release/gencap bench -o "$ONE" --packets 1 --mix "$MIX" >/dev/null

# cg NAME CMD...: runs CMD under callgrind, one output file per thread
cg() {
    local name=$1
    shift
    rm -f "$OUT/$name".*
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$OUT/$name.%p" "$@" \
        >/dev/null 2>"$OUT/$name.log"
}
# total of one thread's file
count() { grep -m1 -E '^(summary|totals):' "$1" | awk '{print $2}'; }
# threads NAME: per-thread counts (main is the first thread; workers and the
# reader are told apart by the functions they ran)
threads() {
    local name=$1 main=0 reader=0 workers=() other=0
    for f in "$OUT/$name".*-*; do
        local n
        n=$(count "$f")
        if [[ $f == *-01 ]]; then
            main=$n
        elif grep -q 'engine::worker::run' "$f"; then
            workers+=("$n")
        elif grep -q 'phonehome::capture::file::' "$f"; then
            reader=$((reader + n))
        else
            other=$((other + n))
        fi
    done
    local w=0
    for n in "${workers[@]}"; do w=$((w + n)); done
    echo "$main $reader $w $other ${workers[*]}"
}
m() { awk "BEGIN{printf \"%.1f M\", $1 / 1e6}"; }

cg bare ./target/release/examples/bare_loop "$CAP"
bare=$(count "$(ls "$OUT"/bare.*-01)")
cg start ./target/release/phonehome replay "$ONE" --eve /dev/null -q --workers 1
read -r start _ <<<"$(threads start)"

echo "capture: $CAP ($PACKETS packets, mix $MIX); callgrind instructions per thread"
echo "bare loop (read + etherparse): $(m "$bare") ($((bare / PACKETS)) per packet)"
echo "start-up (one-packet capture, main thread): $(m "$start")"
printf '%-10s %12s %12s %12s %12s %9s %9s %9s\n' workers main reader workers total "/bare" serial "serial-s"
for w in 1 2; do
    cg "w$w" ./target/release/phonehome replay "$CAP" --eve /dev/null -q --workers "$w"
    read -r main reader work other each <<<"$(threads "w$w")"
    total=$((main + reader + work + other))
    printf '%-10s %12s %12s %12s %12s %8sx %8s%% %8s%%\n' "$w" "$(m "$main")" "$(m "$reader")" \
        "$(m "$work") (${each// /+})" "$(m "$total")" \
        "$(awk "BEGIN{printf \"%.2f\", $total / $bare}")" \
        "$(awk "BEGIN{printf \"%.1f\", 100 * ($main + $reader) / $total}")" \
        "$(awk "BEGIN{printf \"%.1f\", 100 * ($main - $start + $reader) / ($total - $start)}")"
done
echo "serial = (main + reader) / total; serial-s = the same without start-up."
echo "2 workers on 2 cores: wall >= max(total / 2, largest thread); see the per-worker counts."
