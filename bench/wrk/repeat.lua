-- wrk script: every request carries the same X-Request-Id, so hookgate's dedup hits every time
-- (after the first request it answers 200 {"status":"duplicate"} without running a handler).
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/repeat.lua URL
--
-- The id comes from a header so the body (and its one signature) stays fixed: signing per
-- request in wrk's Lua would make the load generator the bottleneck. The body and signature are
-- verified by the server on every request either way. bench/load.sh sends this id once before
-- the warm-up, so the measured run sees only duplicates. No request() function: wrk sends one
-- pre-built request, the cheapest way for the load generator.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua").configure()

wrk.headers["X-Request-Id"] = os.getenv("BENCH_REPEAT_ID") or "bench-repeat-constant"
