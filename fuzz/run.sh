#!/usr/bin/env bash
# Run every fuzz target for a while, on stable Rust (no sanitizer), and report executions.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 600 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler for libFuzzer. The targets run
# one after another; set FUZZ_PARALLEL=N to run N at once. Each starts from the checked-in seed
# corpus in fuzz/corpus/<target>/ (read only) and keeps what it finds in fuzz/work/<target>/ (not
# committed); crashes go to fuzz/artifacts/<target>/. A crash fails the script. A summary goes on
# top of fuzz/last-run.md, above the earlier runs.
set -euo pipefail
cd "$(dirname "$0")"

SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then
    mapfile -t TARGETS < <(cargo fuzz list)
fi
PARALLEL=${FUZZ_PARALLEL:-1}

command -v cargo-fuzz >/dev/null 2>&1 || {
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
}

echo "[fuzz] building ${TARGETS[*]}" >&2
for target in "${TARGETS[@]}"; do
    cargo fuzz build -s none --release "$target" >&2
done

mkdir -p logs
run_one() {
    local target=$1
    mkdir -p "corpus/$target" "work/$target" "artifacts/$target"
    echo "[fuzz] $target: ${SECONDS_PER_TARGET}s" >&2
    cargo fuzz run -s none --release "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"logs/$target.log" 2>&1
}

failed=0
pids=()
for target in "${TARGETS[@]}"; do
    run_one "$target" &
    pids+=("$!:$target")
    while (($(jobs -rp | wc -l) >= PARALLEL)); do
        sleep 1
    done
done
status_of=()
for entry in "${pids[@]}"; do
    pid=${entry%%:*}
    target=${entry#*:}
    if wait "$pid"; then
        status_of+=("$target:ok")
    else
        status_of+=("$target:CRASH")
        failed=1
    fi
done

earlier=$(cat last-run.md 2>/dev/null || true)
{
    echo "# Fuzz run $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Command: \`bash fuzz/run.sh $SECONDS_PER_TARGET ${TARGETS[*]}\` (FUZZ_PARALLEL=$PARALLEL), $(nproc) CPUs"
    echo
    echo "| target | result | executions | exec/s | corpus entries | seconds |"
    echo "|---|---|---:|---:|---:|---:|"
    for entry in "${status_of[@]}"; do
        target=${entry%%:*}
        result=${entry#*:}
        log="logs/$target.log"
        runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "?")
        entries=$(find "corpus/$target" "work/$target" -type f | wc -l)
        echo "| $target | $result | $runs | $speed | $entries | $secs |"
    done
} | tee last-run.new
if [ -n "$earlier" ]; then
    printf '\n%s\n' "$earlier" >>last-run.new
fi
mv last-run.new last-run.md

exit "$failed"
