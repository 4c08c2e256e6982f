-- Shared by unique.lua and repeat.lua (loaded with dofile; wrk runs the script in every thread).
--
-- The request: POST of one fixed ~1 KB Homa `ticket.created` body read from $BENCH_BODY_FILE,
-- signed once by bench/load.sh (HMAC-SHA256, hex) into $BENCH_SIGNATURE, with
-- Content-Type: application/json. Every server under test verifies that signature on every
-- request; the per-request X-Request-Id header only steers hookgate's dedup (peers ignore it).

local M = {}

function M.configure()
  local path = assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE is not set")
  local signature = assert(os.getenv("BENCH_SIGNATURE"), "BENCH_SIGNATURE is not set")
  local file = assert(io.open(path, "rb"))
  local body = file:read("*a")
  file:close()
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Webhook-Signature"] = signature
end

-- New event ids for unique.lua and paced.lua: RUN_TAG-<thread>-<counter>. RUN_TAG keeps the ids
-- of a warm-up and of the measured run against the same server process apart; thread_id is the
-- global each script's setup() gives its thread.
local prefix = ""
local counter = 0

function M.start_ids(tag)
  prefix = (tag or tostring(os.time())) .. "-" .. tostring(thread_id or 0) .. "-"
end

-- wrk's request(): the signed request with the next id.
function M.request_with_new_id()
  counter = counter + 1
  wrk.headers["X-Request-Id"] = prefix .. counter
  return wrk.format()
end

return M
