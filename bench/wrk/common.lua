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

return M
