-- wrk script: a fixed request rate, each request a new X-Request-Id (like unique.lua), counting
-- the 202 answers. For bench/longrun.sh (wrk2's -R is not at hand).
--
--   wrk -t1 -c64 -d30s --latency -s bench/wrk/paced.lua URL -- RATE THREADS RUN_TAG
--
-- RATE is requests per second over the whole run, THREADS the -t value (each thread sends
-- RATE/THREADS). Pacing uses wrk's delay() hook, which wrk calls before each request of each
-- connection: the thread keeps one schedule (request n is due at start + n/rate) and every
-- connection that is free takes the next slot, waiting until it is due (delay() counts whole
-- milliseconds; the schedule itself does not drift). When the server falls behind, the slots that
-- passed are sent as soon as connections free up (no slot is skipped), so the rate stays the
-- offered one for as long as the connections suffice; an interval's req/s below RATE means the
-- server could not keep up even with every connection busy. Latency is wrk's, measured from when a
-- request is written, not from its slot.
--
-- At the end it prints one line per counter for the caller to read:
--   paced accepted <202 answers> other <other answers> duration_us <wrk's run time>
-- The monotonic clock is clock_gettime(CLOCK_MONOTONIC) through LuaJIT's ffi (wrk is built on
-- LuaJIT).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
common.configure()

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
  int clock_gettime(int clk_id, paced_timespec *tp);
]]
local timespec = ffi.new("paced_timespec")
local function now_us()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) * 1000000 + tonumber(timespec.tv_nsec) / 1000
end

-- Main state: the threads, for done().
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

-- Thread state.
local interval_us = 0
local next_us = nil
accepted = 0
other = 0

function init(args)
  local rate = assert(tonumber(args[1]), "paced.lua: RATE (requests per second) is required")
  local nthreads = tonumber(args[2]) or 1
  assert(rate > 0 and nthreads > 0, "paced.lua: RATE and THREADS must be positive")
  interval_us = 1000000 * nthreads / rate
  common.start_ids(args[3])
end

function delay()
  local now = now_us()
  if next_us == nil then
    next_us = now
  end
  local wait = next_us - now
  next_us = next_us + interval_us
  if wait <= 0 then
    return 0
  end
  return math.floor(wait / 1000)
end

request = common.request_with_new_id

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local total_accepted, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_accepted = total_accepted + (thread:get("accepted") or 0)
    total_other = total_other + (thread:get("other") or 0)
  end
  io.write(string.format("paced accepted %d other %d duration_us %d\n",
    total_accepted, total_other, summary.duration))
end
