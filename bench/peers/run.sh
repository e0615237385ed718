#!/usr/bin/env bash
# The kit's batch path next to its peer, one after the other on this machine: a 10-record SQS
# batch of EventBridge-carried envelopes through decode, idempotency (in memory), a trivial
# handler and one batched publish; Powertools for AWS Lambda (Python) doing the same work.
# Prints both figures and their ratio. `make bench-peers` runs it; SECONDS_EACH sets how long
# the Python side measures (default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${VENV:-.venv}"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/peers/requirements.txt

python_rate=$("$venv/bin/python" bench/peers/powertools_batch.py "${SECONDS_EACH:-5}" | awk '/^powertools/ {print $2}')

# Criterion's bencher format: `test <name> ... bench: <ns per batch of 10> ns/iter (+/- ...)`.
rust_ns=$(cargo bench --quiet -p handler-kit --bench batch -- --output-format bencher 'batch-of-10/' 2>/dev/null \
  | sed -n 's|^test batch-of-10/.* bench: *\([0-9,]*\) ns/iter.*|\1|p' | tr -d ,)
if [ -z "$rust_ns" ] || [ -z "$python_rate" ]; then
  echo "bench-peers: a side did not report (rust: '$rust_ns' ns per batch, python: '$python_rate' records/s)" >&2
  exit 1
fi
rust_rate=$(awk -v ns="$rust_ns" 'BEGIN { printf "%.0f", 10 * 1e9 / ns }')
printf '%-52s %8s records/s\n' "handler-kit (cargo bench --bench batch)" "$rust_rate"
printf '%-52s %8s records/s\n' "Powertools 3.37 (bench/peers/powertools_batch.py)" "$python_rate"
awk -v r="$rust_rate" -v p="$python_rate" 'BEGIN { printf "ratio: %.1fx (goal of issue 15: 30x)\n", r / p }'
