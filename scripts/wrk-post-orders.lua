-- wrk script: POST /orders, one load SKU in turn, a unique X-Correlation-ID per request (the
-- order ids are made by the service), as the load generator's --flow orders does. Prints one
-- summary line with the number of non-2xx answers for scripts/saga-capacity.sh.
--
--   wrk -t1 -c32 -d10s -s scripts/wrk-post-orders.lua http://127.0.0.1:8084
local threads = 0
local run = string.format("%x", os.time())

function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
    thread:set("run", run)
end

local counter = 0
local prefix
local headers = { ["Content-Type"] = "application/json" }

function init(args)
    prefix = "wrk-" .. (run or "0") .. "-" .. (thread_number or 1) .. "-"
end

function request()
    counter = counter + 1
    headers["X-Correlation-ID"] = prefix .. counter
    local body = '{"user_id":"wrk-user-' .. (counter % 100) .. '","items":[{"sku":"load-sku-' .. (counter % 3 + 1)
        .. '","quantity":1}],"amount_cents":' .. (100 + counter % 900) .. ',"card":"4242424242424242"}'
    return wrk.format("POST", "/orders", headers, body)
end

function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        "wrk-summary requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
