-- eth_getBalance of random addresses at "latest", one JSON-RPC request per call (wrk -s FILE URL)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())
request = function()
  local addr = string.format("0x%08x%08x%08x%08x%08x", math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
  local body = '{"jsonrpc":"2.0","id":1,"method":"eth_getBalance","params":["' .. addr .. '","latest"]}'
  return wrk.format(nil, nil, nil, body)
end
