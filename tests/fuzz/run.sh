#!/usr/bin/env bash
# `make fuzz`: every fuzz target under AFL++ (cargo-afl, on the stable toolchain) for
# FUZZ_SECONDS each (default 60), from seed corpora made of events/ and the template.
# Fails on any crash or hang; prints each target's executions. A 1 GB memory limit turns an
# unbounded allocation into a crash.
set -euo pipefail
cd "$(dirname "$0")"
venv="${VENV:-../../.venv}"
seconds="${FUZZ_SECONDS:-60}"
command -v cargo-afl >/dev/null || cargo install --quiet --locked cargo-afl --version 0.18.2
# Builds AFL++ once per toolchain; a second time it says so and stops.
if ! built=$(cargo afl config --build 2>&1) && ! grep -q "already built" <<<"$built"; then
  echo "$built" >&2
  exit 1
fi
# Its own target directory: instrumented builds of the project's crates must not replace the
# plain ones (FUZZ_TARGET_DIR lets CI keep it between runs).
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$PWD/target}"
cargo afl build --quiet --release
rm -rf seeds out && mkdir out
"$venv/bin/python" seeds.py seeds
export AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_QUIET=1
status=0
for target in decode pattern template api_bodies; do
  cargo afl fuzz -i "seeds/$target" -o "out/$target" -V "$seconds" -m 1024 -t 2000 \
    "$CARGO_TARGET_DIR/release/$target" > "out-$target.log" 2>&1 || {
    echo "fuzz: $target did not run:" >&2; tail -20 "out-$target.log" >&2; exit 1; }
  stats="out/$target/default/fuzzer_stats"
  value() { awk -F: -v k="$1" '$1 ~ "^"k" *$" {gsub(/ /, "", $2); print $2}' "$stats"; }
  printf '%-11s %10s executions, %s crashes, %s hangs, %s paths\n' "$target" \
    "$(value execs_done)" "$(value saved_crashes)" "$(value saved_hangs)" "$(value corpus_count)"
  if [ "$(value saved_crashes)" != 0 ] || [ "$(value saved_hangs)" != 0 ]; then
    echo "fuzz: $target found inputs that crash or hang: tests/fuzz/out/$target/default/{crashes,hangs}" >&2
    status=1
  fi
done
exit $status
