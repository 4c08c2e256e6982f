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
dofile(dir .. "common.lua").configure()

local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local prefix = ""
local counter = 0

function init(args)
  local tag = args[1] or tostring(os.time())
  prefix = tag .. "-" .. tostring(thread_id or 0) .. "-"
end

function request()
  counter = counter + 1
  wrk.headers["X-Request-Id"] = prefix .. counter
  return wrk.format()
end
