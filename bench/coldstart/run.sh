#!/usr/bin/env bash
# `run.sh cold`: cold starts of every function next to a hello-world lambda_runtime function,
# side by side in one run; `run.sh calls`: AWS calls and time per batch with a fixed latency on
# every call (bench/coldstart/run.py says what is measured). Builds every binary for this
# machine with the release profile the zips use, then plays the Runtime API to each, on moto.
# `make bench-cold` and `make bench-calls` run them; COLD_STARTS (default 10) and WARM (default
# 5), and LATENCY_MS (default 20) set the counts.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${VENV:-.venv}"
packages=(-p hello-world)
for manifest in functions/*/Cargo.toml; do packages+=(-p "$(basename "$(dirname "$manifest")")"); done
# Built as Lambda builds are: for a named target triple (cargo-lambda passes one), with the
# static relocation model .cargo/config.toml gives the Lambda target, here given to this
# machine's; naming the triple keeps it off the build scripts and proc macros.
host=$(rustc -vV | sed -n 's/^host: //p')
export "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$host")_RUSTFLAGS=-C relocation-model=static"
cargo build --quiet --release --target "$host" "${packages[@]}"
# The samples' sensors are loaded with the project's own tool.
cargo build --quiet --release --target "$host" -p sensor-stores --features dynamodb --bin sensor-catalogue
bin_dir="${CARGO_TARGET_DIR:-target}/$host/release"
case "${1:-cold}" in
  cold) "$venv/bin/python" bench/coldstart/run.py cold "$bin_dir" "${COLD_STARTS:-10}" "${WARM:-5}" ;;
  calls) "$venv/bin/python" bench/coldstart/run.py calls "$bin_dir" "${LATENCY_MS:-20}" ;;
  *) echo "usage: $0 cold|calls" >&2; exit 2 ;;
esac
