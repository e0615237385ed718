#!/usr/bin/env bash
# The kit's batch path next to its peer, one after the other on this machine: a 10-record SQS
# batch of EventBridge-carried envelopes through decode, idempotency (in memory), a trivial
# handler and one batched publish; Powertools for AWS Lambda (Python) doing the same work.
# Prints both figures, the path's floor, and their ratios. `make bench-peers` runs it; SECONDS_EACH sets how long
# the Python side measures (default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${VENV:-.venv}"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/peers/requirements.txt

python_rate=$("$venv/bin/python" bench/peers/powertools_batch.py "${SECONDS_EACH:-5}" | awk '/^powertools/ {print $2}')

# Criterion's bencher format: `test <name> ... bench: <ns per batch of 10> ns/iter (+/- ...)`.
# The path and its floor (each body read into its envelope and its payload hashed, nothing
# else) in one run.
criterion=$(cargo bench --quiet -p handler-kit --bench batch -- --output-format bencher 'batch-of-10/|floor-of-10/' 2>/dev/null)
ns_of() { sed -n "s|^test $1/.* bench: *\([0-9,]*\) ns/iter.*|\1|p" <<<"$criterion" | tr -d ,; }
rust_ns=$(ns_of batch-of-10)
floor_ns=$(ns_of floor-of-10)
if [ -z "$rust_ns" ] || [ -z "$floor_ns" ] || [ -z "$python_rate" ]; then
  echo "bench-peers: a side did not report (rust: '$rust_ns' ns per batch, floor: '$floor_ns', python: '$python_rate' records/s)" >&2
  exit 1
fi
rate_of() { awk -v ns="$1" 'BEGIN { printf "%.0f", 10 * 1e9 / ns }'; }
rust_rate=$(rate_of "$rust_ns")
floor_rate=$(rate_of "$floor_ns")
printf '%-52s %8s records/s\n' "handler-kit (cargo bench --bench batch)" "$rust_rate"
printf '%-52s %8s records/s\n' "its floor: decode + payload hash (floor-of-10)" "$floor_rate"
printf '%-52s %8s records/s\n' "Powertools 3.37 (bench/peers/powertools_batch.py)" "$python_rate"
awk -v r="$rust_rate" -v f="$floor_rate" -v p="$python_rate" 'BEGIN {
  printf "ratio: %.1fx Powertools (goal: 30x); the path is %.2fx its floor; the floor is %.1fx Powertools\n", r / p, f / r, f / p
}'
