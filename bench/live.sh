#!/usr/bin/env bash
# Live-capture benchmark (root): a slice of the benchmark capture sent with
# tcpreplay into a veth pair between two network namespaces, captured on the
# far end by `phonehome live` (1 and 2 workers) and, as the floor, by
# `tcpdump -w /dev/null`, with the same ring size.
#
#   bench/live.sh                     # 500k-packet slice (larger than the ring), rates below, 600 s RSS run
#   SLICE=500000 bench/live.sh        # a larger slice
#   RATES="20000 50000 100000" bench/live.sh
#   RSS_SECS=120 RSS_PPS=20000 bench/live.sh
#
# Prints, per capturer: for --topspeed and each fixed --pps step, the rate
# tcpreplay reached and the kernel drops (pcap_stats); the highest step with
# zero drops; then phonehome's resident memory sampled every 10 s over a
# steady run (the target is flat: min, max, first and last sample).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "bench/live.sh: run as root (network namespaces)" >&2; exit 1; }

SLICE=${SLICE:-500000}
RATES=${RATES:-"50000 100000 150000 200000 300000"}
RSS_SECS=${RSS_SECS:-600}
RSS_PPS=${RSS_PPS:-20000}
# Extra options of the steady run, e.g. RSS_ARGS="--tcp-idle-timeout 60" so
# that the flow table reaches its steady size well within the run.
RSS_ARGS=${RSS_ARGS:-}
# STEPS=0: the steady run only.
STEPS=${STEPS:-1}
RING_MIB=${RING_MIB:-64}
FILE=bench/out/live-slice-${SLICE}.pcap
mkdir -p bench/out

cargo build --release --quiet -p gencap --bin gencap
cargo build --release --quiet --bin phonehome
[[ -f $FILE ]] || ./target/release/gencap bench -o "$FILE" --packets "$SLICE"
P=$PWD/target/release/phonehome
for t in tcpreplay tcpdump ip; do command -v $t >/dev/null || { echo "bench/live.sh: $t is needed" >&2; exit 1; }; done

A=phbench-a B=phbench-b IA=phb0 IB=phb1
WORK=""
cleanup() {
    ip netns del $A 2>/dev/null || true
    ip netns del $B 2>/dev/null || true
    [[ -z $WORK ]] || rm -rf "$WORK"
}
trap cleanup EXIT
cleanup
WORK=$(mktemp -d)
ip netns add $A; ip netns add $B
ip link add $IA netns $A type veth peer name $IB netns $B
for ns in $A $B; do
    ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n $ns link set lo up
done
ip -n $A link set $IA mtu 9000 up
ip -n $B link set $IB mtu 9000 up

# send RATE: tcpreplay's achieved packets/s (RATE "top" = --topspeed)
send() {
    local opt=(--pps "$1")
    [[ $1 == top ]] && opt=(--topspeed)
    ip netns exec $A tcpreplay -i $IA "${opt[@]}" "$FILE" 2>&1 |
        awk '/Rated:/ { for (i = 1; i <= NF; i++) if ($i ~ /pps/) { print $(i-1); exit } }'
}

# run_phonehome WORKERS RATE: prints "rate drops"
run_phonehome() {
    local w=$1 rate=$2 eve=$WORK/eve.json
    ip netns exec $B "$P" live -i $IB --workers "$w" --buffer-size "$RING_MIB" --eve "$eve" \
        --stats-interval 3600 -q 2>"$WORK/ph.err" &
    local pid=$!
    sleep 1.5
    local got
    got=$(send "$rate")
    sleep 1.5
    kill -TERM $pid; wait $pid || true
    local drops
    drops=$(tail -n 1 "$eve" | python3 -c 'import json,sys; c=json.load(sys.stdin)["stats"]["capture"]; print(c["kernel_drops"] + c["kernel_ifdrops"])')
    echo "$got $drops"
}

# run_tcpdump RATE: prints "rate drops"
run_tcpdump() {
    local rate=$1
    ip netns exec $B tcpdump -i $IB -B $((RING_MIB * 1024)) -s 0 -w /dev/null 2>"$WORK/td.err" &
    local pid=$!
    sleep 1.5
    local got
    got=$(send "$rate")
    sleep 1.5
    kill -INT $pid; wait $pid || true
    local drops
    drops=$(awk '/dropped by kernel/ { d += $1 } /dropped by interface/ { d += $1 } END { print d + 0 }' "$WORK/td.err")
    echo "$got $drops"
}

echo "slice: $FILE ($SLICE packets), ring ${RING_MIB} MiB, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %10s %12s %10s\n' capturer asked reached_pps drops
caps=("tcpdump" "phonehome 1" "phonehome 2")
[[ $STEPS == 0 ]] && caps=()
for cap in "${caps[@]}"; do
    best=0 best_reached=0
    for rate in top $RATES; do
        case $cap in
        tcpdump) read -r got drops < <(run_tcpdump "$rate") ;;
        phonehome*) read -r got drops < <(run_phonehome "${cap#phonehome }" "$rate") ;;
        esac
        printf '%-22s %10s %12s %10s\n' "$cap" "$rate" "${got:-?}" "$drops"
        if [[ $rate != top && $drops == 0 && $rate -gt $best ]]; then best=$rate; fi
        # The sender may fall short of the step asked: what counts is the
        # rate it reached.
        if [[ $drops == 0 && ${got%.*} -gt $best_reached ]]; then best_reached=${got%.*}; fi
    done
    printf '%-22s highest step with zero kernel drops: %s pps asked, highest rate reached with zero drops: %s pps\n' "$cap" "$best" "$best_reached"
done

echo "load after the steps: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "steady run: ${RSS_SECS}s at ${RSS_PPS} pps (tcpreplay --loop), 2 workers ${RSS_ARGS}"
# shellcheck disable=SC2086
ip netns exec $B "$P" live -i $IB --workers 2 --eve "$WORK/rss.json" --stats-interval 60 -q $RSS_ARGS &
pid=$!
sleep 1
ip netns exec $A tcpreplay -q -i $IA --pps "$RSS_PPS" --loop 0 "$FILE" >/dev/null 2>&1 &
rpid=$!
samples=()
for ((t = 0; t < RSS_SECS; t += 10)); do
    sleep 10
    samples+=("$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)")
done
kill $rpid 2>/dev/null || true; wait $rpid 2>/dev/null || true
hwm=$(awk '/VmHWM/ { print $2 }' /proc/$pid/status)
kill -TERM $pid; wait $pid || true
printf '%s\n' "${samples[@]}" | awk -v hwm="$hwm" '
    NR == 1 { first = $1; min = $1; max = $1 }
    { if ($1 < min) min = $1; if ($1 > max) max = $1; last = $1 }
    { s[NR] = $1 }
    END { printf "RSS MiB: first %.1f  min %.1f  max %.1f  last %.1f  peak (VmHWM) %.1f  over %d samples\n",
          first / 1024, min / 1024, max / 1024, last / 1024, hwm / 1024, NR
          printf "RSS MiB each minute:"; for (i = 6; i <= NR; i += 6) printf " %.1f", s[i] / 1024; printf "\n" }'
tail -n 1 "$WORK/rss.json" | python3 -c 'import json,sys; s=json.load(sys.stdin)["stats"]; w=s["phonehome"]["live"]; print("final stats: pkts", s["decoder"]["pkts"], "kernel_drops", s["capture"]["kernel_drops"], "flows", s["flow"]["total"], "worker_queue_full", w["worker_queue_full"], "wait_s", w["worker_queue_wait_seconds"])'
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
