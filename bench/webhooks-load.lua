-- wrk script: posts pre-signed Twilio webhooks (see webhooks-sign.py), each thread
-- walking its own slice of the file so that no MessageSid is sent twice.
local requests = {}
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local file = os.getenv("WEBHOOKS_SIGNED_FILE")
  local nthreads = tonumber(os.getenv("WEBHOOKS_THREADS") or "1")
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local tab = line:find("\t", 1, true)
      table.insert(requests, { sig = line:sub(1, tab - 1), body = line:sub(tab + 1) })
    end
    i = i + 1
  end
end

function request()
  counter = counter + 1
  local r = requests[((counter - 1) % #requests) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = r.sig,
  }, r.body)
end

function done(summary, latency, requests)
  io.write(string.format("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
