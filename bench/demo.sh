#!/usr/bin/env bash
# Wall time of `localcloud demo` at scale (goal: 10,000 orders in at most 10 s on the 2-core
# machine): with faults and its story told, without faults and quiet, and with its record and
# page written (`--record`, `--html`). SIZE sets the demo's `--size` (ORDERS, its old name,
# still works).
set -euo pipefail
cd "$(dirname "$0")/.."
size="${SIZE:-${ORDERS:-10000}}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --quiet --profile tools -p localcloud
run() {
  local start end
  start=$(date +%s%N)
  "$target/tools/localcloud" demo --size "$size" --seed 1 "$@" > /tmp/localcloud-demo-bench.txt
  end=$(date +%s%N)
  grep -q "Invariants hold" /tmp/localcloud-demo-bench.txt
  printf '%-40s %6d ms (%s lines of output)\n' "demo --size $size $*" "$(( (end - start) / 1000000 ))" \
    "$(wc -l < /tmp/localcloud-demo-bench.txt)"
}
run
run --no-faults --quiet
# What keeping the run costs: its record and its page (time, and each file's size).
out=/tmp/localcloud-demo-bench
run --record "$out.jsonl" --html "$out.html"
printf '%-40s record %s, page %s\n' "" "$(du -h "$out.jsonl" | cut -f1)" "$(du -h "$out.html" | cut -f1)"
rm -f "$out.jsonl" "$out.html"
