#!/usr/bin/env bash
# Fuzzing campaign: runs every cargo-fuzz target (fuzz/fuzz_targets) for a
# fixed time, one after the other, and prints executions, coverage and
# crashes per target. Not part of CI: a nightly or bench job.
#
#   bench/fuzz.sh                 # 300 s per target, every target
#   bench/fuzz.sh 60 gunzip dns_message
#
# Needs a nightly toolchain (rustup toolchain install nightly) and
# cargo-fuzz (cargo install cargo-fuzz). Corpora grow in fuzz/corpus/<target>
# (kept between runs, not committed); crashes land in fuzz/artifacts/<target>
# and must become regression tests. Logs and the summary table go to
# bench/out/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-300}
[ $# -gt 0 ] && shift
if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
out=bench/out/fuzz
mkdir -p "$out"

echo "building ${#targets[@]} target(s) (release, debug assertions on)..." >&2
cargo +nightly fuzz build >&2

summary="$out/summary.tsv"
printf 'target\tseconds\texecutions\texec/s\tcoverage (edges)\tfeatures\tcorpus\tresult\n' >"$summary"
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="$out/$t.log"
  echo "fuzzing $t for ${secs}s..." >&2
  result=ok
  if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
      >"$log" 2>&1; then
    result="CRASH (see $log and fuzz/artifacts/$t)"
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: [0-9]+' | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" >>"$summary"
done
column -t -s $'\t' "$summary"
exit $status
