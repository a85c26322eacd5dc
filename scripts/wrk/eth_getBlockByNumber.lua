-- eth_getBlockByNumber("latest", false), the same request every call (wrk -s FILE URL)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",false]}'
