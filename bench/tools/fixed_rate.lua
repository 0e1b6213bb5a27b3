-- wrk script: each connection waits CK_DELAY_MS between requests, so that
-- connections x (1000 / CK_DELAY_MS) is the offered rate (plain wrk has no -R).
-- Sends Authorization: Bearer $CK_TOKEN; done() writes a JSON summary to $CK_WRK_JSON.
local delay_ms = tonumber(os.getenv("CK_DELAY_MS") or "10")
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("CK_TOKEN") or "")

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local e = summary.errors
  local f = assert(io.open(os.getenv("CK_WRK_JSON"), "w"))
  f:write(string.format(
    '{"requests": %d, "duration_s": %.3f, "errors": %d, "non_2xx": %d, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "p999_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency:percentile(99.9) / 1e3, latency.max / 1e3, latency.mean / 1e3))
  f:close()
end
