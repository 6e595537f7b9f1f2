-- wrk script: POST a JSON body per request, cycling through a file of bodies (one per line).
--   wrk -t2 -c32 -d10s -s post.lua http://127.0.0.1:3000/predict -- bodies.jsonl
-- Prints one JSON line when done: counts, errors by kind and latency quantiles (microseconds).
local bodies = {}
local next_body = 0
local threads = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(args[1]) do
    if #line > 0 then
      bodies[#bodies + 1] = wrk.format("POST", nil, headers, line)
    end
  end
  next_body = offset % #bodies
end

function request()
  next_body = next_body % #bodies + 1
  return bodies[next_body]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
