#!/usr/bin/env bash
# A long durable run: hookgate serve with its spool on and one HTTP route, at a fixed share of its
# peak rate, for minutes; then every acknowledged event must have reached the upstream.
#
#   bash bench/longrun.sh [--duration 10m] [--percent 80] [--rate N] [--interval 30s]
#                         [--connections 64] [--drain 120s] [--retention 7d]
#
# What it does (loopback only, bounded; not part of CI):
#   1. builds the release binary and examples/count_upstream.rs, an upstream that answers 200 to
#      every POST and counts them (all, and distinct event ids) at GET /count;
#   2. measures the peak: a fresh durable gateway (bench/hookgate-durable.toml plus an admin
#      listener and one [[route]] to the upstream, so every event is also delivered) under
#      `wrk -t1 -c64 -d10s` with bench/wrk/unique.lua after a 2 s warm-up: its 202s per second
#      (a burst: deliveries may fall behind in it, which a long run at a share of it then shows);
#      --rate N skips this and offers N req/s;
#   3. starts a fresh gateway and upstream and offers --percent (80) of that peak for --duration
#      (10m), with bench/wrk/paced.lua (a fixed rate through wrk's delay() hook, a new event id
#      per request, 202s counted in its response() hook), as consecutive wrk runs of --interval
#      (30 s) each;
#   4. after each interval prints a row: elapsed time, the achieved rate (202s per second, from
#      wrk's count; the offered one is in the report's head), that interval's p50 and p99 (wrk's, from when a request is
#      written), other answers and socket errors, the gateway's RSS (VmRSS), its spool's pending
#      deliveries (hookgate_spool_pending from the admin listener's /metrics), the events the
#      upstream has received and the data directory's size;
#   5. stops the load, waits (at most --drain, 120 s) until the upstream has every event the
#      gateway accepted and nothing is pending (or, once it has them all, until neither its count
#      nor the pending gauge moved for 10 s), and reports the totals: acknowledged (202s wrk
#      read, and hookgate_requests_total{outcome="accepted"}), delivered (distinct event ids the
#      upstream received, and all POSTs: delivery is at least once), the data directory's disk
#      use (du) and bytes written per event, max RSS, and PASS when every acknowledged event was
#      delivered, FAIL otherwise (exit status 1).
#
# The request is bench/load.sh's: one fixed ~1 KB Homa `ticket.created` body signed once
# (BENCH_SECRET, BENCH_SIGNATURE), the event id from the X-Request-Id header. The gateway runs on
# CPU 0 (taskset -c 0), wrk, the upstream and this script on CPU 1, as in bench/load.sh. The
# spool keeps delivered events for its retention (7 days by default), so the data directory grows
# with every event for the whole run (about 0.7 KiB per event on a 2-core test machine, the
# body's padding compressing well: some 3 GB for 10 minutes at 7000 req/s); it lives in a
# temporary directory under $TMPDIR (/tmp by default), checked for room after the peak run, and
# removed at the end. --retention sets spool.retention (e.g. 2m, to exercise the purge too).
#
# Output: a markdown report (machine facts, the command, one row per interval, the totals) on
# standard output and in target/bench-longrun.md; progress goes to standard error. Every process
# the script starts is stopped on exit, including on Ctrl-C and on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=10m
PERCENT=80
RATE=""
INTERVAL=30s
CONNECTIONS=64
DRAIN=120s
RETENTION=""
COMMAND="bash bench/longrun.sh"
for arg in "$@"; do
    COMMAND+=" $(printf '%q' "$arg")"
done

usage() {
    sed -n '5,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while (($# > 0)); do
    case "$1" in
        --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
        --duration=*) DURATION=${1#*=}; shift ;;
        --percent) PERCENT=${2:?--percent needs a value}; shift 2 ;;
        --percent=*) PERCENT=${1#*=}; shift ;;
        --rate) RATE=${2:?--rate needs a value}; shift 2 ;;
        --rate=*) RATE=${1#*=}; shift ;;
        --interval) INTERVAL=${2:?--interval needs a value}; shift 2 ;;
        --interval=*) INTERVAL=${1#*=}; shift ;;
        --connections) CONNECTIONS=${2:?--connections needs a value}; shift 2 ;;
        --connections=*) CONNECTIONS=${1#*=}; shift ;;
        --drain) DRAIN=${2:?--drain needs a value}; shift 2 ;;
        --drain=*) DRAIN=${1#*=}; shift ;;
        --retention) RETENTION=${2:?--retention needs a value}; shift 2 ;;
        --retention=*) RETENTION=${1#*=}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) printf 'unknown argument: %s\n' "$1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '[longrun] %s\n' "$*" >&2; }
die() {
    printf '[longrun] error: %s\n' "$*" >&2
    exit 1
}

seconds() { # 90, 90s, 10m, 1h -> seconds
    local v=$1
    [[ $v =~ ^([0-9]+)([smh]?)$ ]] || return 1
    case ${BASH_REMATCH[2]} in
        "" | s) echo "${BASH_REMATCH[1]}" ;;
        m) echo $((BASH_REMATCH[1] * 60)) ;;
        h) echo $((BASH_REMATCH[1] * 3600)) ;;
    esac
}
DURATION_S=$(seconds "$DURATION") || die "--duration: expected e.g. 10m or 60s, got $DURATION"
INTERVAL_S=$(seconds "$INTERVAL") || die "--interval: expected e.g. 30s, got $INTERVAL"
DRAIN_S=$(seconds "$DRAIN") || die "--drain: expected e.g. 120s, got $DRAIN"
((DURATION_S >= 1 && INTERVAL_S >= 1)) || die "--duration and --interval must be at least 1s"
[[ $PERCENT =~ ^[1-9][0-9]*$ ]] && ((PERCENT <= 100)) || die "--percent: expected 1..100"
[[ -z $RATE || $RATE =~ ^[1-9][0-9]*$ ]] || die "--rate: expected a positive number"
[[ $CONNECTIONS =~ ^[1-9][0-9]*$ ]] || die "--connections: expected a positive number"
[[ -z $RETENTION || $RETENTION =~ ^[0-9]+(ms|s|m|h|d)$ ]] || die "--retention: expected e.g. 2m or 7d"

for tool in cargo curl wrk taskset du; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

# ---------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup.

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hookgate-longrun.XXXXXX")
PIDS=()
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
STOP_KILLED=0
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NPROC=$(nproc) # before this script pins itself to one CPU
SERVER_PIN=()
CLIENT_PIN=()
if ((NPROC >= 2)); then
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
    PINNING="gateway on CPU 0 (taskset -c 0); wrk, the upstream and this script on CPU 1"
else
    PINNING="none (fewer than 2 CPUs): the load generator and upstream share the gateway's CPU"
    log "warning: $PINNING"
fi



# ---------------------------------------------------------------------------------------------
# Build.

log "building: cargo build --release --bin hookgate --example count_upstream"
cargo build --release --bin hookgate --example count_upstream >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET == /* ]] || TARGET=$ROOT/$TARGET
BIN_HOOKGATE=$TARGET/release/hookgate
BIN_UPSTREAM=$TARGET/release/examples/count_upstream
for bin in "$BIN_HOOKGATE" "$BIN_UPSTREAM"; do
    [[ -x $bin ]] || die "$bin was not built"
done

if ((${#CLIENT_PIN[@]} > 0)); then
    taskset -cp 1 "$$" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# The request (as bench/load.sh makes it).

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
export LONGRUN_ADMIN_TOKEN="longrun-admin-token-$$-0123456789abcdef"

# ---------------------------------------------------------------------------------------------
# One gateway and its upstream.

GW_PID="" GW_PORT="" GW_ADMIN="" GW_DIR="" UP_PID="" UP_PORT="" RUN_SEQ=0

start_stack() {
    RUN_SEQ=$((RUN_SEQ + 1))
    GW_DIR=$WORK/run-$RUN_SEQ
    mkdir -p "$GW_DIR"
    UP_PORT=$(free_port)
    "${CLIENT_PIN[@]}" "$BIN_UPSTREAM" "127.0.0.1:$UP_PORT" >"$GW_DIR/upstream.log" 2>&1 &
    UP_PID=$!
    PIDS+=("$UP_PID")
    GW_PORT=$(free_port)
    GW_ADMIN=$(free_port)
    [[ $GW_ADMIN != "$GW_PORT" && $GW_ADMIN != "$UP_PORT" ]] || GW_ADMIN=$((GW_ADMIN + 1))
    # bench/hookgate-durable.toml (its data_dir is relative: it lands in this run's directory),
    # plus an admin listener for /metrics and one route to the counting upstream.
    {
        cat "$ROOT/bench/hookgate-durable.toml"
        printf '\n[[route]]\nsource = "homa"\nto = "http://127.0.0.1:%s/hook"\n' "$UP_PORT"
        printf '\n[admin]\nlisten = "127.0.0.1:%s"\ntoken = "env:LONGRUN_ADMIN_TOKEN"\n' "$GW_ADMIN"
    } >"$GW_DIR/hookgate.toml"
    if [[ -n $RETENTION ]]; then
        # [spool] is in the copied file: add the key under its header.
        sed -i "s/^\[spool\]\$/[spool]\nretention = \"$RETENTION\"/" "$GW_DIR/hookgate.toml"
    fi
    (cd "$GW_DIR" && exec "${SERVER_PIN[@]}" "$BIN_HOOKGATE" serve --config "$GW_DIR/hookgate.toml" \
        --listen "127.0.0.1:$GW_PORT") >/dev/null 2>"$GW_DIR/server.log" &
    GW_PID=$!
    PIDS+=("$GW_PID")
    local i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$GW_PID" 2>/dev/null || {
            tail -n 20 "$GW_DIR/server.log" >&2 || true
            die "hookgate serve exited at start (log above)"
        }
        kill -0 "$UP_PID" 2>/dev/null || die "count_upstream exited at start: $(cat "$GW_DIR/upstream.log")"
        if curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$GW_PORT/healthz" &&
            curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$UP_PORT/count"; then
            return 0
        fi
        sleep 0.1
    done
    die "the gateway or the upstream did not answer within 30 s"
}

# Stop the gateway (noting how long SIGTERM took, and what was pending then), then the upstream.
stop_stack() {
    local what=$1 pending="unknown" started=$SECONDS
    if [[ -n $GW_PID ]]; then
        metrics 2>/dev/null && pending=$(metric_pending)
        stop_pid "$GW_PID"
        if ((STOP_KILLED == 1)); then
            NOTES+=("$what: the gateway did not exit within 10 s of SIGTERM ($pending deliveries pending then) and was killed")
        elif ((SECONDS - started >= 3)); then
            NOTES+=("$what: the gateway took about $((SECONDS - started)) s to exit on SIGTERM ($pending deliveries pending then)")
        fi
    fi
    [[ -n $UP_PID ]] && stop_pid "$UP_PID"
    GW_PID="" UP_PID=""
    cp "$GW_DIR/server.log" "$WORK/server-last.log" 2>/dev/null || true
    rm -rf "$GW_DIR"
}

# POST the body; print the status code. Args: request id, signature.
post() {
    curl -s -o "$WORK/answer" -w '%{http_code}' --max-time 10 -X POST \
        -H 'Content-Type: application/json' -H "X-Webhook-Signature: $2" -H "X-Request-Id: $1" \
        --data-binary "@$BODY_FILE" "http://127.0.0.1:$GW_PORT/hooks/homa" || true
}

# Before loading it: accepted (202), the same id again a duplicate (200), a wrong signature 401.
check_stack() {
    local bad code
    bad=$(printf '%s' "$BENCH_SIGNATURE" | tr '0-9a-f' '1-9a-f0')
    code=$(post "check-$$-$RUN_SEQ" "$BENCH_SIGNATURE")
    [[ $code == 202 ]] || die "check: expected 202, got $code: $(head -c 300 "$WORK/answer")"
    code=$(post "check-$$-$RUN_SEQ" "$BENCH_SIGNATURE")
    [[ $code == 200 ]] && grep -q '"duplicate"' "$WORK/answer" ||
        die "check: expected 200 duplicate, got $code: $(head -c 300 "$WORK/answer")"
    code=$(post "check-bad-$$-$RUN_SEQ" "$bad")
    [[ $code == 401 ]] || die "check: expected 401 for a wrong signature, got $code"
}

metrics() { # the gateway's /metrics into $WORK/metrics; fails when the admin listener does not answer
    curl -sf --max-time 5 -H "Authorization: Bearer $LONGRUN_ADMIN_TOKEN" \
        "http://127.0.0.1:$GW_ADMIN/metrics" >"$WORK/metrics"
}
metric_accepted() { # hookgate_requests_total{source="homa",outcome="accepted"} (labels in any order)
    awk '/^hookgate_requests_total\{/ && /outcome="accepted"/ && /source="homa"/ {n += $NF} END {printf "%d\n", n}' "$WORK/metrics"
}
metric_pending() {
    awk '$1 == "hookgate_spool_pending" {v = $2} END {printf "%d\n", v}' "$WORK/metrics"
}
upstream_count() { # "<received> <unique>"
    curl -sf --max-time 5 "http://127.0.0.1:$UP_PORT/count" |
        awk '$1 == "received" {r = $2} $1 == "unique" {u = $2} END {print r + 0, u + 0}'
}
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
written_bytes() { awk '/^write_bytes:/ {print $2}' "/proc/$1/io" 2>/dev/null || echo 0; }
du_kib() { du -sk "$1" 2>/dev/null | cut -f1; }

# Max VmRSS (KiB) of a process, sampled every second into $2 until killed.
sample_rss() {
    local pid=$1 out=$2 max=0 now
    echo 0 >"$out"
    while kill -0 "$pid" 2>/dev/null; do
        now=$(rss_kib "$pid")
        if ((now > max)); then
            max=$now
            echo "$max" >"$out"
        fi
        sleep 1
    done
}

# wrk's latency ("327.00us", "1.23ms", "2.00s", "1.00m") in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v == "") { print "n/a"; exit }
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}

URL_PATH=/hooks/homa
STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
NOTES=()

# ---------------------------------------------------------------------------------------------
# 1. The peak.

PEAK="" PEAK_P99="" PEAK_ERRORS="" SPOOL_PER_EVENT=""
if [[ -z $RATE ]]; then
    start_stack
    check_stack
    url="http://127.0.0.1:$GW_PORT$URL_PATH"
    log "peak: wrk -t1 -c$CONNECTIONS, 2 s warm-up, then 10 s, unique ids, one route delivering"
    run_waited "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d2s -s "$ROOT/bench/wrk/unique.lua" "$url" -- "peak-warm-$$" >"$WORK/peak-warm.out" 2>&1 ||
        die "wrk warm-up failed: $(cat "$WORK/peak-warm.out")"
    run_waited "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d10s --latency -s "$ROOT/bench/wrk/unique.lua" "$url" -- "peak-$$" >"$WORK/peak.out" 2>&1 ||
        die "wrk failed: $(cat "$WORK/peak.out")"
    kill -0 "$GW_PID" 2>/dev/null || die "the gateway died during the peak run: $(tail -n 20 "$GW_DIR/server.log")"
    # 202s per second: wrk's requests less its non-2xx answers, over its run time.
    PEAK=$(awk '/ requests in / {n = $1; d = $4; sub(/s,?$/, "", d)} /Non-2xx or 3xx responses:/ {e = $NF}
        END { if (d > 0) printf "%.0f", (n - e) / d }' "$WORK/peak.out")
    PEAK_P99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/peak.out")")
    PEAK_ERRORS=$(awk '/Non-2xx or 3xx responses:/ {e = $NF} /Socket errors:/ {gsub(/,/, ""); s = $4 + $6 + $8 + $10}
        END {printf "%d non-2xx, %d socket errors", e, s}' "$WORK/peak.out")
    [[ -n $PEAK && $PEAK -gt 0 ]] || die "cannot read the peak from wrk's output: $(cat "$WORK/peak.out")"
    metrics || die "the admin listener did not answer /metrics"
    peak_events=$(metric_accepted)
    SPOOL_PER_EVENT=$(awk -v k="$(du_kib "$GW_DIR")" -v n="$peak_events" 'BEGIN { if (n > 0) printf "%.2f", k / n }')
    log "peak: $PEAK req/s (p99 $PEAK_P99 ms; $PEAK_ERRORS); data dir ${SPOOL_PER_EVENT} KiB per event"
    stop_stack "after the peak run"
    RATE=$((PEAK * PERCENT / 100))
    ((RATE > 0)) || die "the peak is too low for $PERCENT%: $PEAK req/s"
else
    NOTES+=("peak not measured: --rate $RATE given")
fi

# Room for the run: the spool keeps delivered events for its retention.
if [[ -n $SPOOL_PER_EVENT && -z $RETENTION ]]; then
    need_kib=$(awk -v r="$RATE" -v s="$DURATION_S" -v p="$SPOOL_PER_EVENT" 'BEGIN {printf "%d", r * s * p * 1.2 + 512 * 1024}')
    avail_kib=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
    ((avail_kib > need_kib)) ||
        die "about $((need_kib / 1024)) MiB needed in $WORK for the spool, $((avail_kib / 1024)) MiB free (set TMPDIR, --duration or --retention)"
fi

# ---------------------------------------------------------------------------------------------
# 2. The long run.

start_stack
check_stack
url="http://127.0.0.1:$GW_PORT$URL_PATH"
sample_rss "$GW_PID" "$WORK/rss-max" &
SAMPLER=$!
PIDS+=("$SAMPLER")
written_start=$(written_bytes "$GW_PID")
offered_from="--rate"
[[ -n $PEAK ]] && offered_from="$PERCENT% of $PEAK"
log "long run: $RATE req/s ($offered_from) for ${DURATION_S}s in intervals of ${INTERVAL_S}s"

R_ELAPSED=() R_RPS=() R_P50=() R_P99=() R_ERRORS=() R_RSS=() R_PENDING=() R_DELIVERED=() R_DISK=()
WRK_ACCEPTED=1 # the check's 202
WRK_OTHER=0
SOCKET_ERRORS=0
elapsed=0
chunk=0
while ((elapsed < DURATION_S)); do
    chunk=$((chunk + 1))
    length=$((DURATION_S - elapsed < INTERVAL_S ? DURATION_S - elapsed : INTERVAL_S))
    out=$WORK/chunk-$chunk.out
    run_waited "${CLIENT_PIN[@]}" wrk -t1 -c"$CONNECTIONS" -d"${length}s" --latency -s "$ROOT/bench/wrk/paced.lua" \
        "$url" -- "$RATE" 1 "long-$$-$chunk" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
    elapsed=$((elapsed + length))
    kill -0 "$GW_PID" 2>/dev/null || die "the gateway died at ${elapsed}s: $(tail -n 20 "$GW_DIR/server.log")"
    read -r _ _ accepted _ other _ duration_us < <(grep '^paced accepted ' "$out") ||
        die "no counts in wrk's output: $(cat "$out")"
    socket=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' "$out")
    WRK_ACCEPTED=$((WRK_ACCEPTED + accepted))
    WRK_OTHER=$((WRK_OTHER + other))
    SOCKET_ERRORS=$((SOCKET_ERRORS + ${socket:-0}))
    metrics || die "the admin listener did not answer /metrics at ${elapsed}s"
    read -r _received unique < <(upstream_count)
    errors=""
    ((other > 0)) && errors+="$other other answers"
    ((${socket:-0} > 0)) && errors+="${errors:+, }$socket socket errors"
    R_ELAPSED+=("$elapsed")
    R_RPS+=("$(awk -v n="$accepted" -v d="$duration_us" 'BEGIN {printf "%.0f", n * 1e6 / d}')")
    R_P50+=("$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")")
    R_P99+=("$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")")
    R_ERRORS+=("${errors:-0}")
    R_RSS+=("$(awk -v k="$(rss_kib "$GW_PID")" 'BEGIN {printf "%.1f", k / 1024}')")
    R_PENDING+=("$(metric_pending)")
    R_DELIVERED+=("$unique")
    R_DISK+=("$(awk -v k="$(du_kib "$GW_DIR")" 'BEGIN {printf "%.0f", k / 1024}')")
    i=$((${#R_RPS[@]} - 1))
    log "$(printf '%5ss  %6s req/s  p50 %6s ms  p99 %7s ms  RSS %6s MiB  pending %7s  delivered %9s  data %6s MiB  errors: %s' \
        "${R_ELAPSED[i]}" "${R_RPS[i]}" "${R_P50[i]}" "${R_P99[i]}" "${R_RSS[i]}" "${R_PENDING[i]}" \
        "${R_DELIVERED[i]}" "${R_DISK[i]}" "${R_ERRORS[i]}")"
done

# ---------------------------------------------------------------------------------------------
# 3. Drain: every accepted event at the upstream, nothing pending.

# The gateway may still finish requests wrk gave up on at the end of an interval (accepted, the
# answer unread), so its count is read again until the drain ends.
# It ends when the upstream has them all and nothing is pending, or when it has them all and
# neither the upstream's count nor the pending gauge moved for 10 s (a gauge that does not reach
# 0 although nothing is left to deliver is noted, not waited for).
log "load stopped: $WRK_ACCEPTED 202s read by wrk; draining (at most ${DRAIN_S}s)"
drain_start=$SECONDS
still_since=$SECONDS
last_seen=""
ALL_DELIVERED_AFTER=""
while true; do
    metrics || die "the admin listener did not answer /metrics while draining"
    pending=$(metric_pending)
    GW_ACCEPTED=$(metric_accepted)
    ACKNOWLEDGED=$((WRK_ACCEPTED > GW_ACCEPTED ? WRK_ACCEPTED : GW_ACCEPTED))
    read -r received unique < <(upstream_count)
    if [[ -z $ALL_DELIVERED_AFTER ]] && ((unique >= ACKNOWLEDGED)); then
        ALL_DELIVERED_AFTER=$((SECONDS - drain_start))
    fi
    if ((unique >= ACKNOWLEDGED && pending == 0)); then
        break
    fi
    if [[ "$received $pending" != "$last_seen" ]]; then
        last_seen="$received $pending"
        still_since=$SECONDS
    elif ((unique >= ACKNOWLEDGED && SECONDS - still_since >= 10)); then
        NOTES+=("hookgate_spool_pending still read $pending after the upstream had received every accepted event and nothing moved for 10 s: the gauge counts deliveries that are not pending")
        break
    fi
    if ((SECONDS - drain_start >= DRAIN_S)); then
        NOTES+=("drain not finished after ${DRAIN_S}s: $pending pending, $unique of $ACKNOWLEDGED delivered")
        break
    fi
    sleep 1
done
DRAIN_TOOK=$((SECONDS - drain_start))
kill -0 "$GW_PID" 2>/dev/null || die "the gateway died while draining: $(tail -n 20 "$GW_DIR/server.log")"
WRITTEN=$(($(written_bytes "$GW_PID") - written_start))
DISK_KIB=$(du_kib "$GW_DIR")
MAX_RSS=$(awk '{printf "%.1f", $1 / 1024}' "$WORK/rss-max")
stop_pid "$SAMPLER"
stop_stack "after the long run"
if ((unique >= ACKNOWLEDGED)); then
    VERDICT=PASS
else
    VERDICT=FAIL
fi
warnings=$(grep -c -E ' (WARN|ERROR) ' "$WORK/server-last.log" || true)
((warnings > 0)) && NOTES+=("the gateway logged $warnings WARN/ERROR lines in the long run; the first: $(grep -m1 -E ' (WARN|ERROR) ' "$WORK/server-last.log" | cut -c1-300)")
((WRK_OTHER > 0)) && NOTES+=("$WRK_OTHER answers other than 202 during the load (503 spool_full or unavailable, most likely)")
behind=0
for rps in "${R_RPS[@]}"; do
    if ((rps * 100 < RATE * 95)); then
        behind=$((behind + 1))
    fi
done
((behind > 0)) && NOTES+=("the gateway answered less than 95% of the offered $RATE req/s in $behind of ${#R_RPS[@]} intervals (every connection busy: it could not keep up)")
if ((${#R_PENDING[@]} >= 2 && R_PENDING[-1] > R_PENDING[0] + RATE)); then
    NOTES+=("deliveries fell behind intake: spool pending grew from ${R_PENDING[0]} to ${R_PENDING[-1]} over the run")
fi
LOAD_AT_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Report.

report() {
    local cpu i
    cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
    echo "# hookgate durable long run"
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
    echo
    echo "\`hookgate serve\` with bench/hookgate-durable.toml (spool on, fsync before each 202) and one" \
        "HTTP route to examples/count_upstream.rs${RETENTION:+, spool.retention = $RETENTION}. Each request: POST of one" \
        "$BODY_BYTES-byte Homa \`ticket.created\` body signed once, a new event id (\`X-Request-Id\`) per" \
        "request. Peak: \`wrk -t1 -c$CONNECTIONS -d10s\` (bench/wrk/unique.lua) after a 2 s warm-up, 202s per" \
        "second. Long run: bench/wrk/paced.lua at a fixed rate with \`-c$CONNECTIONS\`, one wrk run per" \
        "interval; req/s counts 202 answers; p50/p99 are wrk's for the interval (from when a request" \
        "is written); RSS is the gateway's VmRSS at the interval's end; pending is" \
        "\`hookgate_spool_pending\`; delivered is the distinct event ids the upstream has received;" \
        "data is \`du\` of the gateway's data directory."
    echo
    echo "| | |"
    echo "|---|---:|"
    echo "| peak (202/s) | ${PEAK:-not measured} |"
    [[ -n $PEAK_P99 ]] && echo "| peak p99 ms | $PEAK_P99 ($PEAK_ERRORS) |"
    if [[ -n $PEAK ]]; then
        echo "| offered rate | $RATE req/s (${PERCENT}% of the peak) |"
    else
        echo "| offered rate | $RATE req/s (--rate) |"
    fi
    echo "| duration | ${DURATION_S} s in ${#R_RPS[@]} intervals |"
    echo
    echo "| elapsed s | req/s (202) | p50 ms | p99 ms | RSS MiB | spool pending | delivered | data MiB | errors |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for ((i = 0; i < ${#R_RPS[@]}; i++)); do
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "${R_ELAPSED[i]}" "${R_RPS[i]}" \
            "${R_P50[i]}" "${R_P99[i]}" "${R_RSS[i]}" "${R_PENDING[i]}" "${R_DELIVERED[i]}" \
            "${R_DISK[i]}" "${R_ERRORS[i]}"
    done
    echo
    echo "## Totals"
    echo
    echo "| | |"
    echo "|---|---:|"
    echo "| acknowledged (202s read by wrk, the check's included) | $WRK_ACCEPTED |"
    echo "| accepted by the gateway (\`hookgate_requests_total{outcome=\"accepted\"}\`) | $GW_ACCEPTED |"
    echo "| other answers / socket errors | $WRK_OTHER / $SOCKET_ERRORS |"
    echo "| delivered: distinct event ids at the upstream | $unique |"
    echo "| delivered: POSTs at the upstream (at least once) | $received |"
    echo "| every accepted event at the upstream | ${ALL_DELIVERED_AFTER:-not within ${DRAIN_S}} s after the load stopped |"
    echo "| spool pending at the end (gauge) | $pending, $DRAIN_TOOK s after the load stopped |"
    echo "| data directory (du) | $((DISK_KIB / 1024)) MiB ($(awk -v k="$DISK_KIB" -v n="$GW_ACCEPTED" 'BEGIN { if (n > 0) printf "%.2f", k / n; else print "n/a" }') KiB per event) |"
    echo "| written to storage by the gateway (/proc/<pid>/io) | $((WRITTEN / 1048576)) MiB ($(awk -v b="$WRITTEN" -v n="$GW_ACCEPTED" 'BEGIN { if (n > 0) printf "%.2f", b / 1024 / n; else print "n/a" }') KiB per event) |"
    echo "| max RSS (sampled every second) | $MAX_RSS MiB |"
    echo "| every acknowledged event delivered | **$VERDICT** ($unique of $ACKNOWLEDGED) |"
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

mkdir -p "$ROOT/target"
report | tee "$ROOT/target/bench-longrun.md"
log "report written to target/bench-longrun.md"
[[ $VERDICT == PASS ]]
