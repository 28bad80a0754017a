-- wrk script: POST /todos with a unique title and X-Correlation-ID per request (the todo ids
-- are made by the service), as the load generator's http target does. Prints one summary line
-- with the number of 201s' complement (non-2xx/3xx answers) for scripts/capacity.sh.
--
--   wrk -t1 -c32 -d10s -s scripts/wrk-post-todos.lua http://127.0.0.1:8081
local threads = 0
local run = string.format("%x", os.time())

function setup(thread)
    threads = threads + 1
    thread:set("thread_number", threads)
    thread:set("run", run)
end

local counter = 0
local prefix
local priorities = { "low", "medium", "high", "urgent" }
local headers = { ["Content-Type"] = "application/json" }

function init(args)
    prefix = "wrk-" .. (run or "0") .. "-" .. (thread_number or 1) .. "-"
end

function request()
    counter = counter + 1
    local id = prefix .. counter
    headers["X-Correlation-ID"] = id
    local body = '{"user_id":"wrk-user-' .. (counter % 100) .. '","title":"wrk todo ' .. id
        .. '","priority":"' .. priorities[counter % 4 + 1] .. '"}'
    return wrk.format("POST", "/todos", headers, body)
end

function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        "wrk-summary requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
