-- wrk script for make soak: a mix of endpoints, each request tagged with its kind in
-- X-Request-ID (the server echoes it), so every response is checked against its request.
-- Every 50th request asks for Connection: close, so connections churn.
local counter = 0
-- Globals, so that done() can read each thread's counts with thread:get().
bad = 0
checked = 0
local threads = {}
local kinds = {"hello", "echo", "work", "fail", "gated", "json", "hello", "echo"}
local body = string.rep("sluice-soak-", 85) -- 1020 bytes

request = function()
  counter = counter + 1
  local kind = kinds[(counter % #kinds) + 1]
  local headers = { ["X-Request-ID"] = kind .. "-" .. counter }
  if counter % 50 == 0 then headers["Connection"] = "close" end
  if kind == "echo" then
    headers["Content-Type"] = "text/plain"
    return wrk.format("POST", "/echo", headers, body)
  elseif kind == "work" then
    return wrk.format("GET", "/work?ms=1&id=" .. counter, headers)
  elseif kind == "gated" then
    return wrk.format("GET", "/gated?ms=1", headers)
  end
  return wrk.format("GET", "/" .. kind, headers)
end

response = function(status, headers, body_text)
  checked = checked + 1
  local id = headers["X-Request-ID"] or ""
  local kind = id:match("^(%a+)-")
  local ok
  if kind == "hello" then ok = status == 200 and body_text == "Hello, World!"
  elseif kind == "json" then ok = status == 200 and body_text == '{"message":"Hello, World!"}'
  elseif kind == "echo" then ok = status == 200 and body_text == body
  elseif kind == "work" then ok = status == 200 and body_text:find('"request_id":"' .. id .. '"', 1, true) ~= nil
  elseif kind == "gated" then ok = status == 200 and body_text:find('"in_flight":', 1, true) ~= nil
  elseif kind == "fail" then ok = status == 500 and body_text:find('"request_id":"' .. id .. '"', 1, true) ~= nil
  else ok = false end
  if not ok then
    bad = bad + 1
    if bad <= 5 then io.stderr:write("bad response: " .. status .. " " .. id .. " " .. body_text:sub(1, 80) .. "\n") end
  end
end

function setup(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local total_bad, total_checked = 0, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + thread:get("bad")
    total_checked = total_checked + thread:get("checked")
  end
  io.write(string.format("soak: checked %d bad %d\n", total_checked, total_bad))
end
