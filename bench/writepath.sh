#!/usr/bin/env bash
# The durable write path, per accepted event (issue 20, point 1). Not part of CI.
#
#   bash bench/writepath.sh [--duration 30s] [--connections 64] [--routes 0|1]
#
# Runs `hookgate serve --config bench/hookgate-durable.toml` (spool on, fsync before the 202) on
# CPU 0 under `strace -f --seccomp-bpf -c` (only the traced calls stop the process: fsync,
# fdatasync, write, pwrite64, writev, pwritev, rename, unlink, openat), drives it with
# bench/wrk/unique.lua (a new event id per request: every request is an event written) from
# CPU 1 for the duration, then stops it and reports per accepted event:
#
#   * bytes the server caused to be written to storage (/proc/<pid>/io write_bytes), over the
#     whole run (start-up, retention and compaction included);
#   * fsync + fdatasync calls, and write calls of each kind (strace's count);
#   * keys written per event, from what the spool stores per event (the event, its dedup record,
#     and per destination its pending delivery; settling a delivery later removes that key and
#     writes its delivery-log record; the due index is in memory);
#   * CPU microseconds: the whole server, and the spool's writer thread alone
#     (/proc/<pid>/task/<tid>/stat of `hookgate-spool-writer`), over the measured run;
#   * the spool directory's size at the end (du).
#
# `--routes 1` adds one `log` route, so every event also carries one pending delivery (and the
# deliverer runs: it reads, settles and removes what was written). The log destination's lines
# (standard output) go to /dev/null, so that only the spool's writes are counted. strace's own cost lowers
# req/s; this script reports the write path, bench/load.sh the speed.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DURATION=30s CONNECTIONS=64 ROUTES=0
while (($# > 0)); do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --connections) CONNECTIONS=$2; shift 2 ;;
        --routes) ROUTES=$2; shift 2 ;;
        *) echo "usage: bash bench/writepath.sh [--duration 30s] [--connections 64] [--routes 0|1]" >&2; exit 2 ;;
    esac
done
log() { echo "[writepath] $*" >&2; }
command -v wrk >/dev/null || { echo "error: wrk is needed (apt-get install wrk)" >&2; exit 1; }
command -v strace >/dev/null || { echo "error: strace is needed (apt-get install strace)" >&2; exit 1; }

log "building the release binary"
cargo build --release --quiet --bin hookgate
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
BIN=$TARGET/release/hookgate

WORK=$(mktemp -d)
SERVER=""
cleanup() {
    [[ -n $SERVER ]] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export BENCH_SECRET="bench-secret-0123456789abcdef-0123"
body_head='{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":7,"title":"'
body_tail='","status":"new","priority":"medium"}}'
pad=$((1024 - ${#body_head} - ${#body_tail}))
export BENCH_BODY_FILE=$WORK/body.json
printf '%s%s%s' "$body_head" "$(head -c "$pad" /dev/zero | tr '\0' 'x')" "$body_tail" >"$BENCH_BODY_FILE"
BENCH_SIGNATURE=$(python3 -c 'import hashlib,hmac,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest())' "$BENCH_SECRET" "$BENCH_BODY_FILE")
export BENCH_SIGNATURE

config=$WORK/hookgate.toml
cp "$ROOT/bench/hookgate-durable.toml" "$config"
if [[ $ROUTES == 1 ]]; then
    printf '\n[[route]]\nsource = "homa"\nevents = ["*"]\nto = "log"\n' >>"$config"
fi
port=$((20000 + RANDOM % 12000))
mkdir -p "$WORK/run"
(cd "$WORK/run" && exec taskset -c 0 strace -f --seccomp-bpf -c -o "$WORK/strace.txt" \
    -e trace=fsync,fdatasync,write,pwrite64,writev,pwritev,rename,unlink,openat \
    "$BIN" serve --config "$config" --listen "127.0.0.1:$port") >/dev/null 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 300); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/hooks/homa" && break
    sleep 0.1
done
pid=$(pgrep -P "$SERVER" | head -n1) # strace's child: the server
[[ -n $pid ]] || { cat "$WORK/server.log" >&2; echo "error: the server did not start" >&2; exit 1; }
writer=""
for task in /proc/"$pid"/task/*; do
    # Thread names are cut to 15 bytes: "hookgate-spool-writer" reads "hookgate-spool-".
    [[ $(cat "$task/comm") == hookgate-spool* ]] && writer=$task
done

ticks() { local s; s=$(cat "$1/stat"); read -r -a f <<<"${s##*) }"; echo $((f[11] + f[12])); }
written() { awk '/^write_bytes:/ {print $2}' "/proc/$1/io"; }
hz=$(getconf CLK_TCK)

log "load: wrk -t1 -c$CONNECTIONS -d$DURATION, unique ids, routes=$ROUTES"
t0=$(ticks "/proc/$pid"); w0=${writer:+$(ticks "$writer")}; b0=$(written "$pid")
taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$ROOT/bench/wrk/unique.lua" \
    "http://127.0.0.1:$port/hooks/homa" -- "writepath-$$" >"$WORK/wrk.out"
t1=$(ticks "/proc/$pid"); w1=${writer:+$(ticks "$writer")}; b1=$(written "$pid")
sleep 2 # let the deliverer settle what it was given
b2=$(written "$pid")
size=$(du -sk "$WORK/run/hookgate-bench-data" | cut -f1)
kill -TERM "$pid"; wait "$SERVER" 2>/dev/null || true; SERVER="" # strace writes its counts

requests=$(awk '/ requests in / {print $1}' "$WORK/wrk.out")
rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$WORK/wrk.out")
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$WORK/wrk.out")
events=$((requests - ${non2xx:-0}))
calls() { awk -v c="$1" '$NF == c {n = $4} END {print n + 0}' "$WORK/strace.txt"; }
per() { awk -v a="$1" -v n="$events" -v d="${2:-1}" 'BEGIN {printf "%.3f", a / d / n}'; }

echo "Command: \`bash bench/writepath.sh --duration $DURATION --connections $CONNECTIONS --routes $ROUTES\` ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
echo
echo "| per accepted event | value |"
echo "|---|---:|"
echo "| events accepted (202) | $events (at $rps req/s under strace) |"
echo "| bytes written to storage, during the load | $(per $((b1 - b0))) B |"
echo "| bytes written to storage, including 2 s after | $(per $((b2 - b0))) B |"
echo "| fsync + fdatasync | $(per $(($(calls fsync) + $(calls fdatasync)))) |"
echo "| write / pwrite64 / writev calls (sockets and eventfds too: writev is the HTTP answer) | $(per "$(calls write)") / $(per "$(calls pwrite64)") / $(per "$(calls writev)") |"
echo "| keys written | $((2 + 3 * ROUTES)) (event, dedup record$([[ $ROUTES == 1 ]] && echo ", pending delivery; when settled: its removal, its log record")) |"
echo "| server CPU | $(per $(((t1 - t0) * 1000000)) "$hz") us |"
[[ -n $writer ]] && echo "| spool writer thread CPU | $(per $(((w1 - w0) * 1000000)) "$hz") us |"
echo "| spool on disk at the end | $((size / 1024)) MiB ($(per $((size * 1024))) B per event) |"
echo
echo "strace counts over the server's life (start-up included):"
echo
echo '```'
cat "$WORK/strace.txt"
echo '```'
