-- status_counts.lua: shared by the roombook wrk scripts (loaded with dofile from the script's folder).
-- Counts response statuses per thread (wrk gives each thread its own Lua state) and, in `done`,
-- prints one JSON line with the totals, wrk's summary and its latency percentiles (microseconds),
-- which bench/run.ts parses. A script may set `result_extra(threads)` to add fields of its own.

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local function to_json(value)
  local kind = type(value)
  if kind == "table" then
    local parts = {}
    for key, item in pairs(value) do
      table.insert(parts, string.format("%q:%s", tostring(key), to_json(item)))
    end
    table.sort(parts)
    return "{" .. table.concat(parts, ",") .. "}"
  elseif kind == "string" then
    return string.format("%q", value)
  elseif kind == "number" then
    return string.format("%.17g", value)
  end
  return tostring(value)
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      local key = tostring(status)
      totals[key] = (totals[key] or 0) + count
    end
  end
  local result = {
    kind = "wrk-result",
    threads = #threads,
    requests = summary.requests,
    duration_us = summary.duration,
    bytes = summary.bytes,
    errors = summary.errors,
    statuses = totals,
    latency_us = {
      min = latency.min, mean = latency.mean, stdev = latency.stdev, max = latency.max,
      p50 = latency:percentile(50), p90 = latency:percentile(90),
      p99 = latency:percentile(99), p999 = latency:percentile(99.9),
    },
  }
  if result_extra then
    for key, value in pairs(result_extra(threads)) do result[key] = value end
  end
  io.write(to_json(result), "\n")
end
