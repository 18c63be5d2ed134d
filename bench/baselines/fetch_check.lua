-- wrk script for bench/fetch: checks every response (status 200 and a body of EXPECT bytes,
-- default 1024) and prints `result <name> <value>` lines for the C++ benchmark to read.
-- usage: wrk -t1 -c64 -d5s -s fetch_check.lua URL -- [EXPECT]

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  expect = tonumber(args[1] or "1024")
  checked = 0
  errors = 0
  first_error = ""
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or #body ~= expect then
    errors = errors + 1
    if first_error == "" then
      first_error = "status " .. status .. ", " .. #body .. " body bytes"
    end
  end
end

function done(summary, latency, requests)
  local checked_all, errors_all = 0, 0
  for _, t in ipairs(threads) do
    checked_all = checked_all + t:get("checked")
    errors_all = errors_all + t:get("errors")
    local first = t:get("first_error")
    if first ~= "" then
      io.write("first error: " .. first .. "\n")
    end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  io.write(string.format("result requests %d\n", summary.requests))
  io.write(string.format("result checked %d\n", checked_all))
  io.write(string.format("result errors %d\n", errors_all + socket_errors))
  io.write(string.format("result req_per_s %.1f\n", summary.requests / (summary.duration / 1e6)))
end
