#!/bin/sh
# Times `phonehome report --inventory` over a 4-week inventory of N hosts
# (default 10 000): writes the inventory, then builds the report (release build).
set -eu
cd "$(dirname "$0")/.."
exec cargo run --release --quiet --example inventory_report_bench -- "${1:-10000}"
