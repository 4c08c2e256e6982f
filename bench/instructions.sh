#!/usr/bin/env bash
# Instructions per request, stage by stage and for the whole stack, counted by callgrind: a
# figure the host cannot move (the same binary and inputs give the same count, whatever else the
# machine does). Not part of CI.
#
#   bash bench/instructions.sh [CASE ...]      # default: every case
#
# Each case of tests/cost/mod.rs (verify, parse, validate, dedup, route, library, limited, serve) runs in
# examples/cost_probe.rs, release build, twice: SMALL and LARGE operations, with callgrind
# collecting only inside the probe's `measured` function (--toggle-collect). The difference over
# LARGE - SMALL is the figure: set-up and fixed costs cancel. `library` is the pipeline
# examples/bench_server.rs serves (bench/load.sh's "library" rows); `serve` the stack
# `hookgate serve` builds from bench/hookgate-memory.toml, with the Prometheus recorder and an
# info-level subscriber installed as the binary installs them. tests/alloc.rs counts the
# allocations of the same cases.
#
# Output: a markdown table on standard output; progress on standard error.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SMALL=100
LARGE=1100
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(verify parse validate dedup route library serve)

command -v valgrind >/dev/null 2>&1 || { echo "error: valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
echo "[instructions] building examples/cost_probe (release)" >&2
cargo build --release --quiet --example cost_probe
probe=target/release/examples/cost_probe
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

collected() { # case n
  valgrind --tool=callgrind --callgrind-out-file="$out/cg.$1.$2" --collect-atstart=no \
    --toggle-collect='cost_probe::measured*' "$probe" "$1" "$2" 2>&1 |
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "Command: \`bash bench/instructions.sh\` ($(date -u +%Y-%m-%dT%H:%M:%SZ), $(rustc --version), $(valgrind --version))"
echo
echo "| case | instructions per request |"
echo "|---|---:|"
for case in "${cases[@]}"; do
  echo "[instructions] $case: $SMALL and $LARGE operations" >&2
  small=$(collected "$case" "$SMALL")
  large=$(collected "$case" "$LARGE")
  if [ -z "$small" ] || [ -z "$large" ]; then
    echo "error: callgrind collected nothing for $case" >&2
    exit 1
  fi
  echo "| $case | $(( (large - small) / (LARGE - SMALL) )) |"
done
