-- wrk script: every request carries a new X-Request-Id, so hookgate's dedup misses every time
-- (each request is claimed, handled or spooled, and committed: answer 202).
--
--   wrk -t1 -c64 -d10s --latency -s bench/wrk/unique.lua URL -- RUN_TAG
--
-- Why the id comes from a header rather than from the body: a unique body would need a new
-- HMAC per request, and computing HMAC-SHA256 in wrk's Lua would make the load generator the
-- bottleneck. The body and its signature are still verified by the server on every request.
-- The id is RUN_TAG-<thread>-<counter>; RUN_TAG (wrk's first argument after --) keeps the ids of
-- a warm-up and of the measured run against the same server process apart.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
common.configure()

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  common.start_ids(args[1])
end

request = common.request_with_new_id
