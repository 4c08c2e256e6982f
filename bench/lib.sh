# Shared by bench/load.sh and bench/longrun.sh (sourced, not run): starting, stopping and
# cleaning up the processes a benchmark starts, and the request's tools. The sourcing script
# defines log() and sets WORK (its temporary directory, removed by cleanup) and PIDS=() first,
# then installs the traps:  trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

# Stop one process we started: TERM, up to 10 s of grace, then KILL (STOP_KILLED=1 then).
stop_pid() {
    local pid=$1 i
    STOP_KILLED=0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "process $pid did not stop on TERM within 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        STOP_KILLED=1
    fi
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

forget_pid() {
    local kept=() p
    for p in "${PIDS[@]}"; do
        [[ $p == "$1" ]] || kept+=("$p")
    done
    PIDS=("${kept[@]}")
}

# Run a command in the background and wait for it, so that Ctrl-C or TERM stops the run at once
# (bash runs a trap only after the foreground command; `wait` returns on a signal).
run_waited() {
    "$@" &
    local pid=$! status=0
    PIDS+=("$pid")
    wait "$pid" || status=$?
    forget_pid "$pid"
    return "$status"
}

cleanup() {
    local status=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    rm -rf "$WORK"
    exit "$status"
}

hmac_hex() { # secret file -> lowercase hex HMAC-SHA256 of the file's bytes
    if command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -hmac "$1" -r "$2" | cut -d' ' -f1
    else
        python3 -c 'import hashlib,hmac,sys; print(hmac.new(sys.argv[1].encode(), open(sys.argv[2],"rb").read(), hashlib.sha256).hexdigest())' "$1" "$2"
    fi
}

free_port() {
    local port
    for ((port = 20000 + RANDOM % 12000; ; port++)); do
        # A port nothing listens on: the connection is refused at once.
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return
        fi
    done
}
