-- wrk script: PUT /todos/{id}/title on existing todos, round robin over the ids in the file
-- named by WRK_TODO_IDS (one per line), a new title each time. Each change loads the todo and
-- writes it back (an append checked by expected version, since the event store). Prints the
-- same summary line as wrk-post-todos.lua.
--
--   WRK_TODO_IDS=/tmp/ids wrk -t1 -c32 -d10s -s scripts/wrk-put-titles.lua http://127.0.0.1:8081
local ids = {}
local counter = 0
local headers = { ["Content-Type"] = "application/json" }

function init(args)
    for line in io.lines(os.getenv("WRK_TODO_IDS")) do
        if #line > 0 then ids[#ids + 1] = line end
    end
end

function request()
    counter = counter + 1
    local id = ids[counter % #ids + 1]
    return wrk.format("PUT", "/todos/" .. id .. "/title", headers, '{"title":"title ' .. counter .. '"}')
end

function done(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        "wrk-summary requests=%d duration_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, errors.status, errors.connect, errors.read, errors.write, errors.timeout))
end
