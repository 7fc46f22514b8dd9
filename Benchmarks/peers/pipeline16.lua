-- GET /hello, 16 requests pipelined per write (wrk counts each answer as a request).
init = function(args)
  local batch = {}
  for i = 1, 16 do batch[i] = wrk.format("GET", "/hello") end
  pipelined = table.concat(batch)
end

request = function()
  return pipelined
end
