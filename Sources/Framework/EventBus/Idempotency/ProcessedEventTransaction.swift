import RedisClient

/// The atomic step of a transactional handler: its writes, the processed-event marker and
/// the `XACK`, in one Lua script that is all or nothing.
///
/// The script checks the marker first: when it exists (the event was already applied by an
/// earlier delivery), the writes are skipped and the entry is only acknowledged. So the
/// writes happen exactly once per event id while the marker lives, whatever the number of
/// deliveries and wherever a consumer dies (before the script nothing happened; after it,
/// everything did).
///
/// Redis does not roll a script back, so before its first write the script checks
/// everything Redis could refuse: each write must be one of `supportedWrites`, with the
/// right number of arguments, on a key of the right type (or none), with numbers where
/// numbers are due (an increment's argument and the value it adds to). A failed check
/// answers an error and writes nothing. A script that writes is refused as a whole under
/// `maxmemory` (the `#!lua` flags make Redis check memory before it starts, not at each
/// write).
///
/// Ownership: in a consumer the script first checks that the entry is still pending to
/// this consumer (`XPENDING <stream> <group> <id> <id> 1 <consumer>`). When it is not (another
/// consumer claimed it while this one stalled, or it was dead-lettered or acknowledged
/// meanwhile) the script writes nothing and acknowledges nothing: the delivery is
/// superseded, and whoever holds the entry now settles it. So an event is never both applied
/// by one delivery and dead-lettered by another.
enum ProcessedEventTransaction {
    /// What a commit did.
    enum Result: Sendable, Equatable {
        /// The writes and the marker were written, and the entry acknowledged.
        case applied
        /// The marker was there (an earlier delivery applied the event): acknowledged only.
        case alreadyApplied
        /// The entry is no longer pending to this consumer: nothing written, nothing acknowledged.
        case superseded
    }

    /// `<group>:processed:<event_id>`.
    static func markerKey(group: String, eventID: String) -> String {
        "\(group):processed:\(eventID)"
    }

    /// The commands a transactional handler may return (their key is their first argument).
    static let supportedWrites = [
        "HSET", "HDEL", "HINCRBY", "HINCRBYFLOAT", "SET", "DEL", "INCR", "INCRBY", "DECR", "DECRBY", "INCRBYFLOAT",
        "SADD", "SREM", "ZADD", "ZREM", "ZINCRBY", "LPUSH", "RPUSH", "LTRIM", "XADD", "EXPIRE", "PEXPIRE",
    ]

    /// Lua shared by the transactional scripts: `isInteger(s)` (an integer Redis can
    /// increment: at most 18 characters), `isNumber(s)` (what a float increment accepts), and
    /// `xaddProblem(i, n)`: why the write at `ARGV[i]` (its argument count `n`, then `XADD`,
    /// the key, ...) is not `XADD key [MAXLEN ~ count] * field value ...`, or nil.
    static let writeChecks = """
        local function isInteger(s)
          return s ~= nil and string.match(s, '^-?%d+$') ~= nil and #s <= 18
        end
        local function isNumber(s)
          return s ~= nil and tonumber(s) ~= nil and string.match(s, '^%s') == nil and string.lower(s) ~= 'nan'
        end
        local function xaddProblem(i, n)
          local star = i + 3
          if string.upper(ARGV[star] or '') == 'MAXLEN' then
            if ARGV[star + 1] ~= '~' or not isInteger(ARGV[star + 2]) then return 'XADD takes MAXLEN ~ <count> only' end
            star = star + 3
          end
          local fields = i + n - star
          if ARGV[star] ~= '*' or fields < 2 or fields % 2 ~= 0 then
            return 'XADD must be XADD key [MAXLEN ~ count] * field value ...'
          end
          return nil
        end
        """

    static let script = RedisScript(
        """
        #!lua
        -- KEYS[1] stream, KEYS[2] marker; ARGV[1] group, ARGV[2] entry id, ARGV[3] marker TTL (ms),
        -- ARGV[4] consumer ('': no ownership check), then the writes, each as its argument count
        -- followed by its arguments. Replies 1 (applied), 0 (already applied), -1 (the entry is
        -- not pending to ARGV[4]: nothing written, nothing acknowledged).
        local function fail(message) return redis.error_reply('ERR transactional write refused, nothing written: ' .. message) end
        \(writeChecks)
        -- command -> { key type, minimum arguments after the key, pairs after the key? }
        local shapes = {
          hset = {'hash', 2, 2}, hdel = {'hash', 1, 1}, hincrby = {'hash', 2, 0}, hincrbyfloat = {'hash', 2, 0},
          set = {'any', 1, 0}, del = {'any', 0, 1}, incr = {'string', 0, 0}, incrby = {'string', 1, 0},
          decr = {'string', 0, 0}, decrby = {'string', 1, 0}, incrbyfloat = {'string', 1, 0},
          sadd = {'set', 1, 1}, srem = {'set', 1, 1}, zadd = {'zset', 2, 2}, zrem = {'zset', 1, 1},
          zincrby = {'zset', 2, 0}, lpush = {'list', 1, 1}, rpush = {'list', 1, 1}, ltrim = {'list', 2, 0},
          xadd = {'stream', 3, 0}, expire = {'any', 1, 0}, pexpire = {'any', 1, 0},
        }
        local t = redis.call('TYPE', KEYS[1]).ok
        if t ~= 'none' and t ~= 'stream' then return fail(KEYS[1] .. ' is a ' .. t .. ', not a stream') end
        if ARGV[4] ~= '' and #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[4]) == 0 then
          return -1
        end
        local applied = 0
        if redis.call('EXISTS', KEYS[2]) == 0 then
          -- Check every write before the first one.
          local i = 5
          while i <= #ARGV do
            local n = tonumber(ARGV[i])
            local name = string.lower(ARGV[i + 1] or '')
            local shape = shapes[name]
            if shape == nil then return fail(name .. ' is not a supported transactional write') end
            local key = ARGV[i + 2]
            local rest = n - 2
            if key == nil or rest < shape[2] or (shape[3] > 0 and rest % shape[3] ~= 0) then
              return fail(name .. ' has the wrong number of arguments')
            end
            if shape[1] ~= 'any' then
              local kt = redis.call('TYPE', key).ok
              if kt ~= 'none' and kt ~= shape[1] then
                return fail(name .. ' on ' .. key .. ', which is a ' .. kt .. ', not a ' .. shape[1])
              end
            end
            local a1, a2 = ARGV[i + 3], ARGV[i + 4]
            if name == 'hincrby' then
              if not isInteger(a2) then return fail('HINCRBY increment ' .. tostring(a2) .. ' is not an integer') end
              local v = redis.call('HGET', key, a1)
              if v and not isInteger(v) then return fail(key .. ' ' .. a1 .. ' holds ' .. v .. ', not an integer') end
            elseif name == 'hincrbyfloat' then
              if not isNumber(a2) then return fail('HINCRBYFLOAT increment ' .. tostring(a2) .. ' is not a number') end
              local v = redis.call('HGET', key, a1)
              if v and not isNumber(v) then return fail(key .. ' ' .. a1 .. ' holds ' .. v .. ', not a number') end
            elseif name == 'incr' or name == 'decr' or name == 'incrby' or name == 'decrby' or name == 'incrbyfloat' then
              if name ~= 'incr' and name ~= 'decr' then
                local ok = (name == 'incrbyfloat') and isNumber(a1) or isInteger(a1)
                if not ok then return fail(string.upper(name) .. ' argument ' .. tostring(a1) .. ' is not a number') end
              end
              local v = redis.call('GET', key)
              local ok = v == false or ((name == 'incrbyfloat') and isNumber(v) or isInteger(v))
              if not ok then return fail(key .. ' holds ' .. tostring(v) .. ', not a number') end
            elseif name == 'zincrby' then
              if not isNumber(a1) then return fail('ZINCRBY increment ' .. tostring(a1) .. ' is not a number') end
            elseif name == 'zadd' then
              for j = i + 3, i + n, 2 do
                if not isNumber(ARGV[j]) then return fail('ZADD score ' .. tostring(ARGV[j]) .. ' is not a number') end
              end
            elseif name == 'ltrim' then
              if not (isInteger(a1) and isInteger(a2)) then return fail('LTRIM takes two integers') end
            elseif name == 'expire' or name == 'pexpire' then
              if not isInteger(a1) then return fail(string.upper(name) .. ' takes an integer') end
            elseif name == 'xadd' then
              local problem = xaddProblem(i, n)
              if problem then return fail(problem) end
            elseif name == 'set' then
              if n ~= 3 then return fail('SET takes a key and a value only (use PEXPIRE for a lifetime)') end
            end
            i = i + n + 1
          end
          i = 5
          while i <= #ARGV do
            local n = tonumber(ARGV[i])
            redis.call(unpack(ARGV, i + 1, i + n))
            i = i + n + 1
          end
          redis.call('SET', KEYS[2], 'done', 'PX', ARGV[3])
          applied = 1
        end
        redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        return applied
        """)

    /// Applies `writes` once for `raw`'s event and acknowledges it (see `Result`). Throws,
    /// having written nothing, when a write would fail (see the type's comment).
    @discardableResult
    static func commit(_ writes: [RedisCommand], for raw: RawEvent, context: HandlingContext) async throws -> Result {
        try await EventSpans.run(
            "apply once", ofKind: .client,
            describe: { span in
                span.attributes["db.system.name"] = "redis"
                span.attributes["db.operation.name"] = "EVALSHA"
                span.attributes["db.operation.batch.size"] = writes.count
            }
        ) {
            try await runScript(writes, for: raw, context: context)
        }
    }

    /// The script without a span (the batch path: it runs after the events' own spans ended).
    static func runScript(_ writes: [RedisCommand], for raw: RawEvent, context: HandlingContext) async throws -> Result {
        let marker = markerKey(group: context.group, eventID: raw.envelope.eventID)
        let reply = try await context.client.run(script, keys: [raw.stream, marker]) { command in
            command.append(context.group)
            command.append(raw.entryID)
            command.append(Int(context.processedMarkerTTL.nanoseconds / 1_000_000))
            command.append(context.consumer ?? "")
            for write in writes { command.append(countedArgumentsOf: write) }
        }
        switch reply.int {
        case 1: return .applied
        case 0: return .alreadyApplied
        case -1: return .superseded
        default: throw EventBusError(.unexpectedReply, "unexpected transaction reply \(reply)")
        }
    }
}
