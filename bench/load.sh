#!/usr/bin/env bash
# Load test of hookgate against a bare hyper ceiling and a few other webhook receivers.
#
#   bash bench/load.sh [--duration 10s] [--connections 64] [--rounds 2] [--warmup 2s]
#                      [--servers lib,durable,memory,limited,routed,ordered,webhook,flask,node]
#                      [--before DIR]
#
# --servers runs only those (bare hyper always runs). --before DIR adds, right after each of
# lib, durable and memory, the same server built from an earlier commit (DIR is that build's
# target directory, holding release/hookgate and release/examples/bench_server), so a change is
# measured before and after in one interleaved run:
#   git worktree add /tmp/before <commit> && (cd /tmp/before && cargo build --release --bin \
#     hookgate --example bench_server) && bash bench/load.sh --before /tmp/before/target
#
# Loopback only, bounded: every measurement is one `wrk -t1 -cN -dD --latency` run against a
# server on 127.0.0.1, after a short warm-up. Not part of CI.
#
# What runs (each server started fresh for its slot, pinned to CPU 0; wrk pinned to CPU 1):
#   bare      examples/bare_hyper.rs: hyper 1 reading the body and answering 202, the ceiling
#   lib       examples/bench_server.rs: hookgate as a library, full pipeline, memory dedup,
#             no-op in-process handler
#   durable   hookgate serve --config bench/hookgate-durable.toml (spool on, no route)
#   memory    hookgate serve --config bench/hookgate-memory.toml (spool off, no route)
#   limited   the same with an ingest limit it never reaches (bench/hookgate-limited.toml): what
#             the limit's bookkeeping costs; only when asked for in --servers, no before build
#   routed    durable with one route to an HTTP upstream (bench/hookgate-routed.toml): every
#             event is also delivered, to a bare hyper upstream on CPU 1 (beside wrk); only when
#             asked for, no before build
#   ordered   routed with the route ordered by a key per event and throttled (max_in_flight, a
#             rate never reached; bench/hookgate-ordered.toml): what ordering and destination
#             controls cost beside routed; only when asked for, no before build
#   webhook   adnanh/webhook with a payload-hmac-sha256 rule running /bin/true   (if available)
#   flask     the seeds' Flask receiver under gunicorn -w 2                       (if available)
#   node      a Node `http` receiver (crypto HMAC, timingSafeEqual, JSON.parse)   (if available)
# Missing peers are installed when possible (apt-get install webhook, pip install gunicorn flask)
# and skipped, with a note in the report, when not.
#
# The request: one fixed ~1 KB Homa `ticket.created` body, signed once (HMAC-SHA256, hex, in
# X-Webhook-Signature). Every server verifies that signature on every request. hookgate's
# sources take their event id (dedup key) from the X-Request-Id header, which the wrk scripts
# set: bench/wrk/unique.lua sends a new id per request (dedup misses: 202), bench/wrk/repeat.lua
# one constant id (dedup hits: 200 duplicate). Ids come from a header, not the body, because a
# unique body would need an HMAC per request, and computing it in wrk's Lua would make the load
# generator the bottleneck. bare hyper and the peers ignore the header (they have no dedup), so
# they run unique.lua only.
#
# Order: rounds of  bare X1 bare X2 bare ... Xn bare  (the order of the Xi reversed in every
# other round), so every server's req/s is also given as a ratio to the mean of the two bare
# hyper runs on either side of it, which cancels most of the drift of a noisy machine.
#
# Output: a markdown report (machine facts, the exact command, one row per run, a summary) on
# standard output and in target/bench-load.md. Progress goes to standard error. Every process
# the script starts is stopped on exit, including on Ctrl-C and on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=10s
ONLY=lib,durable,memory,webhook,flask,node
BEFORE=""
CONNECTIONS=64
ROUNDS=2
WARMUP=2s
COMMAND="bash bench/load.sh"
for arg in "$@"; do
    COMMAND+=" $(printf '%q' "$arg")"
done

usage() {
    sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($# > 0)); do
    case "$1" in
        --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
        --duration=*) DURATION=${1#*=}; shift ;;
        --connections) CONNECTIONS=${2:?--connections needs a value}; shift 2 ;;
        --connections=*) CONNECTIONS=${1#*=}; shift ;;
        --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        --warmup) WARMUP=${2:?--warmup needs a value}; shift 2 ;;
        --warmup=*) WARMUP=${1#*=}; shift ;;
        --servers) ONLY=${2:?--servers needs a value}; shift 2 ;;
        --servers=*) ONLY=${1#*=}; shift ;;
        --before) BEFORE=${2:?--before needs a value}; shift 2 ;;
        --before=*) BEFORE=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) printf 'unknown argument: %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '[load] %s\n' "$*" >&2; }
die() {
    printf '[load] error: %s\n' "$*" >&2
    exit 1
}

[[ $DURATION =~ ^[0-9]+[smh]?$ ]] || die "--duration: expected e.g. 10s, got $DURATION"
[[ $WARMUP =~ ^[0-9]+[smh]?$ ]] || die "--warmup: expected e.g. 2s, got $WARMUP"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "--connections: expected a positive number"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds: expected a positive number"
((ROUNDS >= 2)) || log "warning: fewer than 2 rounds; the numbers say little about noise"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hookgate-bench.XXXXXX")
PIDS=()
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Tools.

NOTES=()
APT_UPDATED=0
apt_install() {
    local pkg=$1
    command -v apt-get >/dev/null 2>&1 || return 1
    ((EUID == 0)) || return 1
    log "installing $pkg with apt-get"
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >>"$WORK/install.log" 2>&1; then
        return 0
    fi
    if ((APT_UPDATED == 0)); then
        APT_UPDATED=1
        apt-get update -q >>"$WORK/install.log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >>"$WORK/install.log" 2>&1
        return
    fi
    return 1
}

for tool in cargo curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if ! command -v wrk >/dev/null 2>&1; then
    apt_install wrk || die "wrk is required and 'apt-get install -y wrk' failed (see above)"
fi

NPROC=$(nproc) # before this script pins itself to one CPU, which nproc would report
SERVER_PIN=()
CLIENT_PIN=()
if command -v taskset >/dev/null 2>&1 && ((NPROC >= 2)); then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
    PINNING="servers on CPU 0 (taskset -c 0), wrk and this script on CPU 1 (taskset -c 1)"
else
    PINNING="none (taskset missing or fewer than 2 CPUs): numbers are less comparable"
    log "warning: $PINNING"
fi



# ---------------------------------------------------------------------------------------------
# Build.

log "building: cargo build --release --bin hookgate --example bare_hyper --example bench_server"
cargo build --release --bin hookgate --example bare_hyper --example bench_server >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
BIN_HOOKGATE=$TARGET/release/hookgate
BIN_BARE=$TARGET/release/examples/bare_hyper
BIN_LIB=$TARGET/release/examples/bench_server
for bin in "$BIN_HOOKGATE" "$BIN_BARE" "$BIN_LIB"; do
    [[ -x $bin ]] || die "$bin was not built"
done
if [[ -n $BEFORE ]]; then
    BEFORE=$(cd "$BEFORE" && pwd)
    BIN_HOOKGATE_BEFORE=$BEFORE/release/hookgate
    BIN_LIB_BEFORE=$BEFORE/release/examples/bench_server
    for bin in "$BIN_HOOKGATE_BEFORE" "$BIN_LIB_BEFORE"; do
        [[ -x $bin ]] || die "--before: $bin is missing (build it in that checkout first)"
    done
fi
wanted() { [[ ,$ONLY, == *,$1,* ]]; }

# From here on this script (the samplers, curl, ...) stays off the servers' CPU.
if ((${#CLIENT_PIN[@]} > 0)); then
    taskset -cp 1 "$$" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# The request.

export BENCH_SECRET="bench-secret-0123456789abcdef-0123"
printf '%s' "$BENCH_SECRET" >"$WORK/secret"
BODY_FILE=$WORK/body.json
body_head='{"event":"ticket.created","timestamp":"2026-01-01T00:00:00Z","data":{"ticket_id":7,"title":"'
body_tail='","status":"new","priority":"medium"}}'
pad=$((1024 - ${#body_head} - ${#body_tail}))
printf '%s%s%s' "$body_head" "$(head -c "$pad" /dev/zero | tr '\0' 'x')" "$body_tail" >"$BODY_FILE"
BODY_BYTES=$(wc -c <"$BODY_FILE")
export BENCH_BODY_FILE=$BODY_FILE
BENCH_SIGNATURE=$(hmac_hex "$BENCH_SECRET" "$BODY_FILE")
export BENCH_SIGNATURE
export BENCH_REPEAT_ID="bench-repeat-$$"

# ---------------------------------------------------------------------------------------------
# Peers: find or install them; skip (and say so) the ones that cannot be had.

PEERS=()
if ! wanted webhook; then
    :
elif command -v webhook >/dev/null 2>&1 || apt_install webhook; then
    PEERS+=(webhook)
    WEBHOOK_VERSION=$(webhook -version 2>&1 | head -n1)
else
    NOTES+=("adnanh/webhook skipped: not installed and 'apt-get install -y webhook' failed")
fi

PY=""
if ! wanted flask; then
    :
elif command -v python3 >/dev/null 2>&1; then
    PY=$(python3 -c 'import sys; print(sys.executable)')
    if ! "$PY" -c 'import flask, gunicorn' >/dev/null 2>&1; then
        log "installing gunicorn and flask with pip"
        if ! "$PY" -m pip install -q gunicorn flask >>"$WORK/install.log" 2>&1; then
            # An externally managed Python (PEP 668): a virtualenv beside the build instead.
            venv=$TARGET/bench-load-venv
            if "$PY" -m venv "$venv" >>"$WORK/install.log" 2>&1 &&
                "$venv/bin/python" -m pip install -q gunicorn flask >>"$WORK/install.log" 2>&1; then
                PY=$venv/bin/python
            fi
        fi
    fi
    if "$PY" -c 'import flask, gunicorn' >/dev/null 2>&1; then
        PEERS+=(flask)
        FLASK_VERSION="gunicorn $("$PY" -c 'import gunicorn; print(gunicorn.__version__)'), flask $("$PY" -c 'from importlib.metadata import version; print(version("flask"))'), $("$PY" --version 2>&1)"
    else
        NOTES+=("Flask/gunicorn skipped: 'pip install gunicorn flask' failed")
    fi
else
    NOTES+=("Flask/gunicorn skipped: no python3")
fi

if ! wanted node; then
    :
elif command -v node >/dev/null 2>&1 || apt_install nodejs; then
    PEERS+=(node)
    NODE_VERSION=$(node --version)
else
    NOTES+=("Node skipped: node is not installed and 'apt-get install -y nodejs' failed")
fi

SERVERS=()
for name in lib durable memory; do
    wanted "$name" || continue
    SERVERS+=("$name")
    [[ -z $BEFORE ]] || SERVERS+=("$name-before")
done
# Not in the default list; an earlier build may not know their configuration.
[[ ,$ONLY, != *,limited,* ]] || SERVERS+=(limited)
[[ ,$ONLY, != *,routed,* ]] || SERVERS+=(routed)
[[ ,$ONLY, != *,ordered,* ]] || SERVERS+=(ordered)
# routed and ordered deliver to an upstream: a bare hyper on the load generator's CPU, started
# once, their configurations written with its address.
if [[ ,$ONLY, == *,routed,* || ,$ONLY, == *,ordered,* ]]; then
    UPSTREAM_PORT=$(free_port)
    "${CLIENT_PIN[@]}" "$BIN_BARE" "127.0.0.1:$UPSTREAM_PORT" >"$WORK/upstream.log" 2>&1 &
    PIDS+=("$!")
    for name in routed ordered; do
        sed "s|{upstream}|http://127.0.0.1:$UPSTREAM_PORT/hook|" "$ROOT/bench/hookgate-$name.toml" \
            >"$WORK/hookgate-$name.toml"
    done
fi
SERVERS+=("${PEERS[@]}")

server_label() {
    case "$1" in
        bare) echo "bare hyper (ceiling)" ;;
        *-before) echo "$(server_label "${1%-before}") (before: $BEFORE)" ;;
        lib) echo "hookgate library: pipeline + memory dedup + in-process no-op handler" ;;
        durable) echo "hookgate serve, durable spool" ;;
        memory) echo "hookgate serve, memory mode (no spool)" ;;
        limited) echo "hookgate serve, memory mode, with an ingest limit never reached" ;;
        routed) echo "hookgate serve, durable, one route delivering to an HTTP upstream" ;;
        ordered) echo "hookgate serve, durable, that route ordered per event key and throttled" ;;
        webhook) echo "adnanh/webhook (HMAC rule, /bin/true)" ;;
        flask) echo "Flask under gunicorn -w 2" ;;
        node) echo "Node http" ;;
    esac
}

is_hookgate() { [[ ${1%-before} == lib || ${1%-before} == durable || ${1%-before} == memory || $1 == limited || $1 == routed || $1 == ordered ]]; }

# ---------------------------------------------------------------------------------------------
# Starting, checking and stopping one server.

SERVER_PID=""
SERVER_PORT=""
SERVER_DIR=""
RUN_SEQ=0

start_server() {
    local name=$1 port dir
    port=$(free_port)
    RUN_SEQ=$((RUN_SEQ + 1))
    dir=$WORK/run-$RUN_SEQ-$name
    mkdir -p "$dir"
    local cmd=()
    case "$name" in
        bare) cmd=("$BIN_BARE" "127.0.0.1:$port") ;;
        lib) cmd=("$BIN_LIB" "127.0.0.1:$port" "$WORK/secret") ;;
        lib-before) cmd=("$BIN_LIB_BEFORE" "127.0.0.1:$port" "$WORK/secret") ;;
        durable | memory | limited)
            # The configuration's data_dir is relative: it lands in this fresh run directory.
            cmd=("$BIN_HOOKGATE" serve --config "$ROOT/bench/hookgate-$name.toml" --listen "127.0.0.1:$port") ;;
        routed | ordered)
            cmd=("$BIN_HOOKGATE" serve --config "$WORK/hookgate-$name.toml" --listen "127.0.0.1:$port") ;;
        durable-before | memory-before)
            cmd=("$BIN_HOOKGATE_BEFORE" serve --config "$ROOT/bench/hookgate-${name%-before}.toml" --listen "127.0.0.1:$port") ;;
        webhook)
            cmd=(webhook -hooks "$ROOT/bench/peers/hooks.json" -template -ip 127.0.0.1 -port "$port" -http-methods POST) ;;
        flask)
            cmd=("$PY" -m gunicorn -w 2 -b "127.0.0.1:$port" --chdir "$ROOT/bench/peers" --log-level warning flask_receiver:app) ;;
        node) cmd=(node "$ROOT/bench/peers/node_receiver.js" "$port") ;;
        *) die "unknown server $name" ;;
    esac
    (cd "$dir" && exec "${SERVER_PIN[@]}" "${cmd[@]}") >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_PORT=$port
    SERVER_DIR=$dir
    local i code
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            tail -n 20 "$dir/server.log" >&2 || true
            die "$name exited at start (log above)"
        fi
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/hooks/homa" || true)
        [[ $code != 000 ]] && return 0
        sleep 0.1
    done
    die "$name did not answer on port $port within 30 s"
}

stop_server() {
    if [[ -n $SERVER_PID ]]; then
        stop_pid "$SERVER_PID"
    fi
    SERVER_PID=""
    rm -rf "$SERVER_DIR"
}

# POST the body; print the status code. Args: request id, signature.
post() {
    curl -s -o "$WORK/answer" -w '%{http_code}' --max-time 10 -X POST \
        -H 'Content-Type: application/json' -H "X-Webhook-Signature: $2" -H "X-Request-Id: $1" \
        --data-binary "@$BODY_FILE" "http://127.0.0.1:$SERVER_PORT/hooks/homa" || true
}

expect() { # what, wanted status, got status
    [[ $2 == "$3" ]] && return 0
    log "check failed: $1: expected $2, got $3: $(head -c 300 "$WORK/answer" 2>/dev/null || true)"
    return 1
}

# Before measuring: the body is accepted (202), a repeat is a duplicate (hookgate: 200), a
# wrong signature is refused (401). Also sends the repeat scenario's id once, so its measured
# run sees only duplicates.
check_server() {
    local name=$1 bad_signature
    bad_signature=$(printf '%s' "$BENCH_SIGNATURE" | tr '0-9a-f' '1-9a-f0')
    expect "$name: signed request" 202 "$(post "check-$$-$RUN_SEQ" "$BENCH_SIGNATURE")" || return 1
    [[ $name == bare ]] && return 0
    local code
    code=$(post "check-bad-$$-$RUN_SEQ" "$bad_signature")
    if is_hookgate "$name"; then
        expect "$name: wrong signature" 401 "$code" || return 1
    elif [[ $code == 000 || $code == 2* ]]; then
        # Peers only need to refuse: adnanh/webhook answers a bad HMAC with 500 ("Error
        # occurred while evaluating hook rules"), the others with 401.
        log "check failed: $name accepted a wrong signature ($code)"
        return 1
    fi
    if is_hookgate "$name"; then
        expect "$name: same id again" 200 "$(post "check-$$-$RUN_SEQ" "$BENCH_SIGNATURE")" || return 1
        grep -q '"duplicate"' "$WORK/answer" || {
            log "check failed: $name: no \"duplicate\" in $(cat "$WORK/answer")"
            return 1
        }
        expect "$name: first repeat-scenario request" 202 "$(post "$BENCH_REPEAT_ID" "$BENCH_SIGNATURE")" || return 1
    fi
}

# ---------------------------------------------------------------------------------------------
# Measuring.

# A process and its descendants (gunicorn's workers), one pid per line.
process_tree() {
    local tree=("$1") queue=("$1") children
    while ((${#queue[@]} > 0)); do
        mapfile -t children < <(pgrep -P "${queue[0]}" || true)
        queue=("${queue[@]:1}" "${children[@]}")
        tree+=("${children[@]}")
    done
    printf '%s\n' "${tree[@]}"
}

# Max over the run of the summed VmRSS (KiB) of the server and its children (gunicorn's
# workers), sampled every 200 ms into $2 until killed.
sample_rss() {
    local root=$1 out=$2 max=0 total pid key value _rest tree
    mapfile -t tree < <(process_tree "$root")
    echo 0 >"$out"
    while true; do
        total=0
        for pid in "${tree[@]}"; do
            while read -r key value _rest; do
                if [[ $key == VmRSS: ]]; then
                    total=$((total + value))
                    break
                fi
            done <"/proc/$pid/status" 2>/dev/null || true
        done
        if ((total > max)); then
            max=$total
            echo "$max" >"$out"
        fi
        sleep 0.2
    done
}

# User + system CPU time (clock ticks) of a process and its children (gunicorn's workers), from
# /proc/<pid>/stat fields 14 and 15 (counted after the ')' that ends the command name), and the
# bytes they caused to be written to storage (/proc/<pid>/io write_bytes): "ticks bytes".
proc_totals() {
    local root=$1 total=0 written=0 pid stat fields key value tree
    mapfile -t tree < <(process_tree "$root")
    for pid in "${tree[@]}"; do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        read -r -a fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
        while read -r key value; do
            [[ $key == write_bytes: ]] && written=$((written + value))
        done <"/proc/$pid/io" 2>/dev/null || true
    done
    echo "$total $written"
}
CLK_TCK=$(getconf CLK_TCK)

# wrk's latency ("327.00us", "1.23ms", "2.00s", "1.00m") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}

R_ROUND=() R_SLOT=() R_SERVER=() R_SCENARIO=() R_RPS=() R_P50=() R_P99=() R_RSS=() R_ERRORS=() R_RATIO=() R_CPU=() R_DISK=()
PENDING=()    # indexes of runs waiting for the next bare hyper run to get their ratio
LAST_BARE=""  # req/s of the latest bare hyper run

# One measured wrk run against the running server. Args: round, slot, name, scenario.
measure() {
    local round=$1 slot=$2 name=$3 scenario=$4 tag out sampler
    local script=$ROOT/bench/wrk/$scenario.lua url="http://127.0.0.1:$SERVER_PORT/hooks/homa"
    tag="r$round-s$slot-$name-$$"
    log "round $round: $name, $scenario: warm-up $WARMUP, then $DURATION"
    run_waited "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s "$script" "$url" -- "$tag-warm" >"$WORK/warmup.out" 2>&1 ||
        die "wrk warm-up failed: $(cat "$WORK/warmup.out")"
    out=$WORK/wrk-$round-$slot-$name-$scenario.out
    sample_rss "$SERVER_PID" "$WORK/rss" &
    local sampler=$!
    PIDS+=("$sampler")
    local before after
    before=$(proc_totals "$SERVER_PID")
    run_waited "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$script" "$url" -- "$tag" >"$out" 2>&1 ||
        die "wrk failed: $(cat "$out")"
    after=$(proc_totals "$SERVER_PID")
    stop_pid "$sampler"
    kill -0 "$SERVER_PID" 2>/dev/null || {
        tail -n 20 "$SERVER_DIR/server.log" >&2 || true
        die "$name died during the run (log above)"
    }
    local rps p50 p99 non2xx socket rss requests cpu disk
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
    requests=$(awk '/ requests in / {print $1}' "$out")
    # Server CPU per request: the server's user + system time over the measured run, over the
    # requests wrk completed (the warm-up is outside both).
    cpu=$(awk -v t="$((${after% *} - ${before% *}))" -v hz="$CLK_TCK" -v n="${requests:-0}" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "n/a" }')
    # Bytes the server caused to be written to disk per request (its spool: journal, tables,
    # compaction), over the same run.
    disk=$(awk -v b="$((${after#* } - ${before#* }))" -v n="${requests:-0}" \
        'BEGIN { if (n > 0) printf "%.2f", b / 1024 / n; else print "n/a" }')
    p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
    p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")
    socket=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
    rss=$(awk '{printf "%.1f", $1 / 1024}' "$WORK/rss")
    [[ -n $rps ]] || die "cannot read wrk's output: $(cat "$out")"
    local errors=""
    ((${non2xx:-0} > 0)) && errors+="${non2xx} non-2xx"
    ((${socket:-0} > 0)) && errors+="${errors:+, }${socket} socket errors"
    local i=${#R_RPS[@]}
    R_ROUND+=("$round") R_SLOT+=("$slot") R_SERVER+=("$name") R_SCENARIO+=("$scenario")
    R_RPS+=("$rps") R_P50+=("$p50") R_P99+=("$p99") R_RSS+=("$rss") R_ERRORS+=("${errors:-0}") R_RATIO+=("") R_CPU+=("$cpu") R_DISK+=("$disk")
    log "  $rps req/s, p50 ${p50} ms, p99 ${p99} ms, max RSS ${rss} MiB, server CPU ${cpu} us/request, disk ${disk} KiB/request, errors: ${errors:-none}"
    if [[ $name == bare ]]; then
        local j mean
        for j in "${PENDING[@]}"; do
            mean=$(awk -v a="$LAST_BARE" -v b="$rps" 'BEGIN {print (a + b) / 2}')
            R_RATIO[j]=$(awk -v r="${R_RPS[j]}" -v m="$mean" 'BEGIN {printf "%.2f", r / m}')
        done
        PENDING=()
        LAST_BARE=$rps
    else
        PENDING+=("$i")
    fi
}

SLOT_RAN=0
run_slot() { # round, slot, server name; sets SLOT_RAN to 1 if the server was measured
    local round=$1 slot=$2 name=$3 scenarios=(unique)
    SLOT_RAN=0
    if is_hookgate "$name"; then
        scenarios=(unique repeat)
    fi
    start_server "$name"
    if ! check_server "$name"; then
        if is_hookgate "$name" || [[ $name == bare ]]; then
            die "$name failed its pre-check; its log: $(tail -n 5 "$SERVER_DIR/server.log")"
        fi
        NOTES+=("$(server_label "$name") skipped in round $round: it failed its pre-check (see the progress log)")
        stop_server
        return 0
    fi
    local scenario
    for scenario in "${scenarios[@]}"; do
        measure "$round" "$slot" "$name" "$scenario"
    done
    stop_server
    SLOT_RAN=1
}

# ---------------------------------------------------------------------------------------------
# The rounds: bare X1 bare X2 ... bare, reversed every other round.

STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "servers: bare ${SERVERS[*]}; $ROUNDS rounds; wrk -t1 -c$CONNECTIONS -d$DURATION (warm-up $WARMUP)"
for ((round = 1; round <= ROUNDS; round++)); do
    order=("${SERVERS[@]}")
    if ((round % 2 == 0)); then
        order=()
        for ((k = ${#SERVERS[@]} - 1; k >= 0; k--)); do
            order+=("${SERVERS[k]}")
        done
    fi
    slot=1
    run_slot "$round" "$slot" bare
    for name in "${order[@]}"; do
        slot=$((slot + 1))
        run_slot "$round" "$slot" "$name"
        # A peer that failed its pre-check was not measured: no bare run needed after it.
        ((SLOT_RAN == 1)) || continue
        slot=$((slot + 1))
        run_slot "$round" "$slot" bare
    done
done
LOAD_AT_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Report.

report() {
    local cpu
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    echo "# hookgate load test"
    echo
    echo "Command: \`$COMMAND\` (started $STARTED)"
    echo
    echo "| machine | |"
    echo "|---|---|"
    echo "| nproc | $NPROC |"
    echo "| CPU | ${cpu:-unknown} |"
    echo "| kernel | $(uname -srm) |"
    echo "| rustc | $(rustc --version 2>/dev/null || echo unknown) |"
    echo "| wrk | $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-3) |"
    echo "| pinning | $PINNING |"
    echo "| load average (1/5/15 min) | $LOAD_AT_START at start, $LOAD_AT_END at end |"
    [[ -n ${WEBHOOK_VERSION:-} ]] && echo "| adnanh/webhook | $WEBHOOK_VERSION |"
    [[ -n ${FLASK_VERSION:-} ]] && echo "| Flask peer | $FLASK_VERSION |"
    [[ -n ${NODE_VERSION:-} ]] && echo "| Node peer | node $NODE_VERSION |"
    echo
    echo "Each run: \`wrk -t1 -c$CONNECTIONS -d$DURATION --latency\` after a $WARMUP warm-up, POST of one" \
        "$BODY_BYTES-byte Homa \`ticket.created\` body signed once (HMAC-SHA256 hex in \`X-Webhook-Signature\`)," \
        "verified by every server on every request. *unique*: a new \`X-Request-Id\` (hookgate's event id)" \
        "per request, dedup misses, 202; *repeat*: one id, dedup hits, 200 duplicate. bare hyper and the" \
        "peers have no dedup and ignore the id. *vs bare* is req/s over the mean of the bare hyper runs" \
        "just before and after (for bare hyper itself: over the mean of its round's bare runs). Max RSS" \
        "is sampled every 200 ms (server plus children: gunicorn's workers are summed). Server CPU is" \
        "the server's (and its children's) user + system time over the measured run, from" \
        "\`/proc/<pid>/stat\`, over the requests completed: a figure less moved by the load generator" \
        "than req/s, though still by the host. Disk is the bytes the server caused to be written to" \
        "storage (\`/proc/<pid>/io\` write_bytes) over the same run, per request."
    echo
    echo "| round | server | scenario | req/s | p50 ms | p99 ms | max RSS MiB | server CPU us/req | disk KiB/req | vs bare | errors |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    local i n=${#R_RPS[@]} ratio
    for ((i = 0; i < n; i++)); do
        ratio=${R_RATIO[i]}
        if [[ ${R_SERVER[i]} == bare ]]; then
            ratio=$(bare_ratio "$i")
        fi
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${R_ROUND[i]}" \
            "$(server_label "${R_SERVER[i]}")" "${R_SCENARIO[i]}" "${R_RPS[i]}" "${R_P50[i]}" \
            "${R_P99[i]}" "${R_RSS[i]}" "${R_CPU[i]}" "${R_DISK[i]}" "${ratio:-n/a}" "${R_ERRORS[i]}"
    done
    echo
    echo "## Summary (mean over the rounds)"
    echo
    echo "| server | scenario | runs | req/s | vs bare | p50 ms | p99 ms | max RSS MiB | server CPU us/req | disk KiB/req |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    local key name scenario
    for key in bare:unique lib:unique lib-before:unique lib:repeat lib-before:repeat \
        durable:unique durable-before:unique durable:repeat durable-before:repeat \
        memory:unique memory-before:unique memory:repeat memory-before:repeat \
        limited:unique limited:repeat routed:unique ordered:unique \
        webhook:unique flask:unique node:unique; do
        name=${key%%:*} scenario=${key#*:}
        summary_row "$name" "$scenario"
    done
    if ((${#NOTES[@]} > 0)); then
        echo
        echo "## Notes"
        echo
        local note
        for note in "${NOTES[@]}"; do
            echo "- $note"
        done
    fi
}

bare_ratio() { # index of a bare run -> its req/s over the mean of its round's bare runs
    local i=$1 j sum=0 count=0
    for ((j = 0; j < ${#R_RPS[@]}; j++)); do
        if [[ ${R_SERVER[j]} == bare && ${R_ROUND[j]} == "${R_ROUND[i]}" ]]; then
            sum=$((sum + R_RPS[j]))
            count=$((count + 1))
        fi
    done
    awk -v r="${R_RPS[i]}" -v s="$sum" -v c="$count" 'BEGIN {printf "%.2f", r / (s / c)}'
}

summary_row() { # server, scenario
    local name=$1 scenario=$2 i rows=""
    for ((i = 0; i < ${#R_RPS[@]}; i++)); do
        if [[ ${R_SERVER[i]} == "$name" && ${R_SCENARIO[i]} == "$scenario" ]]; then
            local ratio=${R_RATIO[i]}
            [[ $name == bare ]] && ratio=1
            rows+="${R_RPS[i]} ${ratio:-NaN} ${R_P50[i]} ${R_P99[i]} ${R_RSS[i]} ${R_CPU[i]} ${R_DISK[i]}"$'\n'
        fi
    done
    [[ -n $rows ]] || return 0
    printf '%s' "$rows" | awk -v label="$(server_label "$name")" -v scenario="$scenario" '
        { n++; rps += $1; if ($2 != "NaN") { rn++; ratio += $2 }; p50 += $3; p99 += $4; if ($5 > rss) rss = $5
          if ($6 != "n/a") { cn++; cpu += $6 }; if ($7 != "n/a") { dn++; disk += $7 } }
        END {
            r = (rn > 0) ? sprintf("%.2f", ratio / rn) : "n/a"
            c = (cn > 0) ? sprintf("%.1f", cpu / cn) : "n/a"
            d = (dn > 0) ? sprintf("%.2f", disk / dn) : "n/a"
            printf "| %s | %s | %d | %.0f | %s | %.2f | %.2f | %.1f | %s | %s |\n", label, scenario, n, rps / n, r, p50 / n, p99 / n, rss, c, d
        }'
}

mkdir -p "$ROOT/target"
report | tee "$ROOT/target/bench-load.md"
log "report written to target/bench-load.md"
