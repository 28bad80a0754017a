#!/usr/bin/env bash
# The stack's memory (BENCHMARKS.md, "Memory"; issue 13 §4): release builds, one fresh stack per
# round on private ports, medians (min-max) over the rounds.
#
#   scripts/memory.sh [--rounds 3] [--duration 10] [--retention-duration 30] [--skip-build]
#                     [--out FILE] [--summary FILE]
#
# Each round: a fresh stack (release; STACK_DIR under $MEMORY_DIR, default /tmp/memory; private
# ports MEMORY_PORT_BASE+0..7, default the first free block from 26100; SKUs load-sku-1..3
# seeded far above any run), then
#   1. RSS (VmRSS, and the peak VmHWM, from /proc/<pid>/status) of the 7 services and
#      redis-server: idle (every /ready answered), sampled every 0.5 s during wrk -t1 -c32 of
#      POST /todos (scripts/wrk-post-todos.lua) for --duration s, after both groups drained,
#      during wrk of POST /orders (scripts/wrk-post-orders.lua), and after every saga ended;
#   2. Redis (the operator user): used_memory at each step (its delta per todo and per saga),
#      every key by family (MEMORY USAGE SAMPLES 0, keys, stream entries, entries-added),
#      the event store's history of a todo with 1, 10 and 100 events and its snapshot (made
#      through the HTTP API), and, in a private empty redis-server (port base+10), up to 10000
#      real entries of todo-events and order-events replayed with XADD: bytes per entry
#      (used_memory delta and MEMORY USAGE / XLEN), then read by a fresh group without XACK:
#      bytes per pending entry.
# Then, once (--retention-duration s of each load, 0: skipped): a stack with STREAM_MAX_LENGTH
# (RETENTION_MAX_LENGTH, default 1000) and STREAM_TRIM_EVERY (RETENTION_TRIM_EVERY, default
# 100), every stream's XLEN watched each second during the loads: what is bounded, and what
# grows with the todos and the sagas.
# One JSON line per measurement goes to --out (default $MEMORY_DIR/memory-<time>.jsonl); the
# tables (median and min-max) are printed at the end (scripts/memory.sh --summary FILE again).
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3 duration=10 retention_duration=30 build=1 out="" summary_only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        --retention-duration) retention_duration="$2"; shift 2 ;;
        --skip-build) build=0; shift ;;
        --out) out="$2"; shift 2 ;;
        --summary) summary_only="$2"; shift 2 ;;
        -h | --help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "memory.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

source scripts/lib/measure.sh
memory_dir="${MEMORY_DIR:-/tmp/memory}"
mkdir -p "$memory_dir"
probe="$memory_dir/memprobe.py"
cat >"$probe" <<'PY'
#!/usr/bin/env python3
"""What scripts/memory.sh asks Redis: a minimal RESP client (no dependency) and the probes.

  memprobe.py info URL                      used_memory, used_memory_rss, ... (one JSON object)
  memprobe.py families URL                  every key by family: keys, MEMORY USAGE (SAMPLES 0),
                                            median per key, stream entries and entries-added
  memprobe.py streams URL [KEY...]          XLEN and entries-added of these streams (default:
                                            every stream; the retention watch)
  memprobe.py histories URL ID1 ID10 ID100  MEMORY USAGE of the event store's history and
                                            snapshot of three todos (1, 10 and 100 events)
  memprobe.py micro LIVE_URL PRIVATE_URL N  bytes per stream entry and per pending entry, with
                                            N real entries of todo-events and order-events
                                            replayed (XADD) into a private, empty Redis

URLs: redis://[user:password@]host:port[/db].
"""
import json
import re
import socket
import statistics
import sys
import time
import urllib.parse


class RedisError(Exception):
    pass


class Redis:
    def __init__(self, url):
        parts = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port or 6379))
        self.file = self.sock.makefile("rb")
        if parts.password:
            self.call("AUTH", urllib.parse.unquote(parts.username or "default"), urllib.parse.unquote(parts.password))
        db = (parts.path or "/0").lstrip("/") or "0"
        if db != "0":
            self.call("SELECT", db)

    @staticmethod
    def encode(args):
        out = [b"*%d\r\n" % len(args)]
        for arg in args:
            if not isinstance(arg, bytes):
                arg = str(arg).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        return b"".join(out)

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self.read() for _ in range(size)]
        raise RedisError("unexpected reply %r" % line)

    def pipeline(self, commands, chunk=500):
        replies = []
        for start in range(0, len(commands), chunk):
            part = commands[start:start + chunk]
            self.sock.sendall(b"".join(self.encode(command) for command in part))
            replies += [self.read() for _ in part]
        return replies

    def call(self, *args):
        reply = self.pipeline([args])[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def info(self, section="memory"):
        text = self.call("INFO", section).decode()
        return {key: value for key, _, value in (line.partition(":") for line in text.splitlines() if ":" in line)}

    def used_memory(self):
        return int(self.info()["used_memory"])

    def scan(self, match="*"):
        cursor = b"0"
        while True:
            cursor, keys = self.call("SCAN", cursor, "MATCH", match, "COUNT", 1000)
            yield from keys
            if cursor == b"0":
                return


def text(value):
    return value.decode() if isinstance(value, bytes) else value


# Key families, first match wins; a stream not matched is its own family (its name).
FAMILIES = [
    ("dead letters (<stream>:dlq:<group>)", r":dlq:"),
    ("es history (es:{todo-events}:<id>)", r"^es:\{todo-events\}:[^:]+$"),
    ("es snapshot (es:{todo-events}:<id>:snapshot)", r"^es:\{todo-events\}:[^:]+:snapshot$"),
    ("es user index (es:{todo-events}:user:<id>)", r"^es:\{todo-events\}:user:"),
    ("notifications:user:<id> lists", r"^notifications:user:"),
    ("notification-service:processed:<event>", r"^notification-service:processed:"),
    ("analytics-service:processed:<event>", r"^analytics-service:processed:"),
    ("other processed markers", r":processed:"),
    ("analytics:* read model", r"^analytics:"),
    ("saga status sets (saga:{order}:status:*)", r"^saga:\{order\}:status:"),
    ("saga deadlines (saga:{order}:deadlines)", r"^saga:\{order\}:deadlines$"),
    ("saga history (saga:{order}:history)", r"^saga:\{order\}:history$"),
    ("saga state (saga:{order}:<id>)", r"^saga:\{order\}:"),
    ("order idempotency keys", r"^order:idempotency:"),
    ("orders (order:<id>)", r"^order:"),
    ("inventory stock", r"^inventory:stock:"),
    ("inventory reservations (inventory:reservation:<order>)", r"^inventory:reservation:"),
    ("payments (payment:<order>)", r"^payment:"),
    ("projection state", r"^projection:"),
]


def family_of(key, kind):
    for name, pattern in FAMILIES:
        if re.search(pattern, key):
            return name
    return key if kind == "stream" else "other (" + kind + ")"


def stream_info(redis, keys):
    out = {}
    replies = redis.pipeline([("XINFO", "STREAM", key) for key in keys])
    for key, reply in zip(keys, replies):
        if isinstance(reply, RedisError) or reply is None:
            continue
        fields = {text(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}
        out[key] = {"length": fields.get("length", 0), "entries_added": fields.get("entries-added", 0),
                    "groups": fields.get("groups", 0)}
    return out


def families(url):
    redis = Redis(url)
    keys = [text(key) for key in redis.scan()]
    types = [text(reply) for reply in redis.pipeline([("TYPE", key) for key in keys])]
    sizes = redis.pipeline([("MEMORY", "USAGE", key, "SAMPLES", 0) for key in keys])
    ttls = redis.pipeline([("PTTL", key) for key in keys])
    streams = stream_info(redis, [key for key, kind in zip(keys, types) if kind == "stream"])
    groups = {}
    for key, kind, size, ttl in zip(keys, types, sizes, ttls):
        name = family_of(key, kind)
        group = groups.setdefault(name, {"type": kind, "keys": 0, "bytes": 0, "sizes": [], "with_ttl": 0,
                                         "entries": 0, "entries_added": 0})
        group["keys"] += 1
        group["bytes"] += size if isinstance(size, int) else 0
        group["sizes"].append(size if isinstance(size, int) else 0)
        group["with_ttl"] += 1 if isinstance(ttl, int) and ttl >= 0 else 0
        if key in streams:
            group["entries"] += streams[key]["length"]
            group["entries_added"] += streams[key]["entries_added"]
    for group in groups.values():
        group["median_bytes_per_key"] = statistics.median(group.pop("sizes"))
    memory = redis.info()
    print(json.dumps({"used_memory": int(memory["used_memory"]), "used_memory_dataset": int(memory["used_memory_dataset"]),
                      "keys": len(keys), "families": groups}))


def streams(url, *keys):
    redis = Redis(url)
    if not keys:
        keys = [text(key) for key in redis.scan()]
        types = [text(reply) for reply in redis.pipeline([("TYPE", key) for key in keys])]
        keys = [key for key, kind in zip(keys, types) if kind == "stream"]
    print(json.dumps({"t": round(time.time(), 2), "streams": stream_info(redis, list(keys))}))


def histories(url, *ids):
    redis = Redis(url)
    out = {}
    for events, todo in zip((1, 10, 100), ids):
        history = "es:{todo-events}:" + todo
        snapshot = history + ":snapshot"
        length = redis.call("XLEN", history)
        size = redis.call("MEMORY", "USAGE", history, "SAMPLES", 0)
        out["history_%d_events" % events] = length
        out["history_%d_bytes" % events] = size
        out["history_%d_bytes_per_event" % events] = round(size / max(length, 1), 1)
        if redis.call("EXISTS", snapshot):
            out["snapshot_%d_bytes" % events] = redis.call("MEMORY", "USAGE", snapshot, "SAMPLES", 0)
    print(json.dumps(out))


def micro(live_url, private_url, count):
    """Real entries of the stack's streams, replayed into an empty Redis: bytes per entry (used_memory
    delta and MEMORY USAGE / XLEN), then a fresh group reads them all without XACK: bytes per pending
    entry (both ways again)."""
    count = int(count)
    live, private = Redis(live_url), Redis(private_url)
    out = {}
    for stream in ("todo-events", "order-events"):
        short = stream.split("-")[0]
        entries = live.call("XRANGE", stream, "-", "+", "COUNT", count)
        if not entries:
            continue
        copy = "copy:" + stream
        private.call("DEL", copy)
        # One empty stream first: the key and its first node are not part of the per-entry figure.
        before = private.used_memory()
        private.pipeline([("XADD", copy, "*", *fields) for _, fields in entries])
        after = private.used_memory()
        length = private.call("XLEN", copy)
        usage = private.call("MEMORY", "USAGE", copy, "SAMPLES", 0)
        out[short + "_entries"] = length
        out[short + "_field_bytes_per_entry"] = round(sum(len(v) for _, fields in entries for v in fields) / max(length, 1), 1)
        out[short + "_used_memory_per_entry"] = round((after - before) / max(length, 1), 1)
        out[short + "_memory_usage_per_entry"] = round(usage / max(length, 1), 1)
        private.call("XGROUP", "CREATE", copy, "probe", "0")
        before, usage_before = private.used_memory(), private.call("MEMORY", "USAGE", copy, "SAMPLES", 0)
        read = private.call("XREADGROUP", "GROUP", "probe", "probe-1", "COUNT", length, "STREAMS", copy, ">")
        del read
        after, usage_after = private.used_memory(), private.call("MEMORY", "USAGE", copy, "SAMPLES", 0)
        pending = private.call("XPENDING", copy, "probe")[0]
        out[short + "_pending"] = pending
        out[short + "_used_memory_per_pending"] = round((after - before) / max(pending, 1), 1)
        out[short + "_memory_usage_per_pending"] = round((usage_after - usage_before) / max(pending, 1), 1)
        private.call("DEL", copy)
        # A stream of one entry (a todo's history after its first event): the first node's
        # listpack is preallocated (up to 4096 bytes, or stream-node-max-bytes when smaller).
        default = text(private.call("CONFIG", "GET", "stream-node-max-bytes")[1])
        for setting in (default, "1024", "512"):
            private.call("CONFIG", "SET", "stream-node-max-bytes", setting)
            private.call("XADD", "one:" + stream, "0-1", *entries[0][1])
            out["%s_one_entry_stream_bytes_node_max_%s" % (short, setting)] = private.call("MEMORY", "USAGE", "one:" + stream, "SAMPLES", 0)
            private.call("DEL", "one:" + stream)
        private.call("CONFIG", "SET", "stream-node-max-bytes", default)
    print(json.dumps(out))


if __name__ == "__main__":
    {"info": lambda url: print(json.dumps(Redis(url).info())), "families": families, "streams": streams,
     "histories": histories, "micro": micro}[sys.argv[1]](*sys.argv[2:])
PY

# The tables of file $1: medians (min-max) over the rounds.
memory_tables() {
    python3 - "$1" <<'PY'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
def kind(name): return [r for r in runs if r.get("kind") == name]
def fmt(values, scale=1.0, digits=1):
    values = [v / scale for v in values if v is not None]
    if not values: return "–"
    med = statistics.median(values)
    f = lambda x: f"{x:,.{digits}f}"
    if len(values) == 1 or min(values) == max(values): return f(med)
    return f"{f(med)} ({f(min(values))}–{f(max(values))})"
def col(items, key, scale=1.0, digits=1): return fmt([r.get(key) for r in items], scale, digits)

# The processes measured: every name recorded in the rounds (services and redis), first-seen order.
processes = list(dict.fromkeys(key[:-len("_rss_kb")] for r in kind("rss_idle") for key in r if key.endswith("_rss_kb")))
idle, tl, td, ol, dr = (kind(k) for k in ("rss_idle", "rss_todos_load", "rss_todos_drained", "rss_orders_load", "rss_drained"))
rounds = len(idle)
print(f"### RSS per process (MB; median (min–max) of {rounds} rounds; VmRSS, VmHWM, from /proc/<pid>/status every 0.5 s)\n")
print("| process | idle | POST /todos: peak | POST /orders: peak | after the drain | VmHWM at the end |")
print("|---|---:|---:|---:|---:|---:|")
M = 1024.0
for p in processes:
    print(f"| {p} | {col(idle, p + '_rss_kb', M)} | {col(tl, p + '_peak_kb', M)} | {col(ol, p + '_peak_kb', M)} | "
          f"{col(dr, p + '_rss_kb', M)} | {col(dr, p + '_hwm_kb', M)} |")
tot = lambda items, suffix: [sum(r.get(p + suffix, 0) for p in processes) for r in items]
print(f"| **all {len(processes)}** | {fmt(tot(idle, '_rss_kb'), M)} | {fmt(tot(tl, '_peak_kb'), M)} | {fmt(tot(ol, '_peak_kb'), M)} | "
      f"{fmt(tot(dr, '_rss_kb'), M)} | {fmt(tot(dr, '_hwm_kb'), M)} |")
print(f"\n#### The same, at the end of each load and while its consumers drained (MB)\n")
print("| process | POST /todos: end of the load | peak while draining | drained | POST /orders: end of the load | peak while draining |")
print("|---|---:|---:|---:|---:|---:|")
for p in processes:
    print(f"| {p} | {col(tl, p + '_end_kb', M)} | {col(tl, p + '_drain_peak_kb', M)} | {col(td, p + '_rss_kb', M)} | "
          f"{col(ol, p + '_end_kb', M)} | {col(ol, p + '_drain_peak_kb', M)} |")
um = kind("redis_used_memory")
print(f"\nLoads per round (wrk -t1 -c32): {col(um, 'todos', 1, 0)} todos (drained {col(um, 'todos_drain_s')} s after the load), "
      f"{col(um, 'sagas', 1, 0)} orders (every saga ended {col(um, 'sagas_drain_s')} s after the load; "
      f"{col(um, 'sagas_compensated', 1, 0)} compensated, {col(um, 'sagas_unfinished', 1, 0)} unfinished).")

fam = kind("families")
ent = kind("entries")
es = kind("event_store")
def famv(r, name, field):
    f = r["families"].get(name)
    return f.get(field) if f else None
def fam_per(name, field, per):
    return [ (famv(r, name, field) / max(famv(r, per[0], "keys") or 1, 1)) if famv(r, name, field) is not None else None for r in fam ] if per else None
def per_entry(name):
    return [famv(r, name, "bytes") / max(famv(r, name, "entries") or 1, 1) if famv(r, name, "bytes") else None for r in fam]
sagas = lambda r: (famv(r, "saga state (saga:{order}:<id>)", "keys") or 1)
todos = lambda r: (famv(r, "es history (es:{todo-events}:<id>)", "keys") or 1)
def share(name, per):
    return [ (famv(r, name, "bytes") or 0) / per(r) for r in fam]

todo_side = ["todo-events", "es history (es:{todo-events}:<id>)", "es snapshot (es:{todo-events}:<id>:snapshot)",
             "es user index (es:{todo-events}:user:<id>)", "notifications", "notifications:user:<id> lists",
             "notification-service:processed:<event>", "analytics-service:processed:<event>", "analytics:* read model"]
print(f"\n### Redis bytes (median (min–max) of {rounds} rounds)\n")
print("| what | bytes | how |")
print("|---|---:|---|")
print(f"| a todo, all its keys (POST /todos, both groups done) | {col(um, 'bytes_per_todo')} | used_memory delta over the run / todos created |")
print(f"| a todo, all its keys, by MEMORY USAGE | {fmt([sum((famv(r, n, 'bytes') or 0) for n in todo_side) / todos(r) for r in fam])} | the todo families of the table below / todos |")
print(f"| a saga, all its keys (POST /orders, saga ended) | {col(um, 'bytes_per_saga')} | used_memory delta over the run / sagas |")
for stream, short in (("todo-events", "todo"), ("order-events", "order")):
    print(f"| one {stream} entry, in the stack | {fmt(per_entry(stream))} | MEMORY USAGE {stream} SAMPLES 0 / XLEN, after the run |")
    print(f"| one {stream} entry, replayed into an empty Redis | {col(ent, short + '_used_memory_per_entry')} / {col(ent, short + '_memory_usage_per_entry')} | used_memory delta / MEMORY USAGE, over {col(ent, short + '_entries', 1, 0)} entries (field and value bytes: {col(ent, short + '_field_bytes_per_entry')}) |")
    print(f"| a pending entry of {stream} (read, not acknowledged) | {col(ent, short + '_used_memory_per_pending')} / {col(ent, short + '_memory_usage_per_pending')} | used_memory delta / MEMORY USAGE delta, a fresh group reading all of them |")
for stream in ("inventory-events", "payment-events", "order-commands", "inventory-commands", "payment-commands", "saga:{order}:history", "notifications"):
    name = "saga history (saga:{order}:history)" if stream == "saga:{order}:history" else stream
    print(f"| one {stream} entry, in the stack | {fmt(per_entry(name))} | MEMORY USAGE / XLEN |")
print(f"| a saga's state hash `saga:{{order}}:<id>` | {fmt([famv(r, 'saga state (saga:{order}:<id>)', 'median_bytes_per_key') for r in fam])} | MEMORY USAGE, median over the round's sagas |")
print(f"| its share of the status sets | {fmt(share('saga status sets (saga:{order}:status:*)', sagas))} | MEMORY USAGE of the 5 sets / sagas |")
print(f"| its share of the history stream | {fmt(share('saga history (saga:{order}:history)', sagas))} | MEMORY USAGE / sagas (nothing trimmed yet) |")
saga_total = [ (famv(r, 'saga state (saga:{order}:<id>)', 'bytes') + (famv(r, 'saga status sets (saga:{order}:status:*)', 'bytes') or 0) + (famv(r, 'saga history (saga:{order}:history)', 'bytes') or 0)) / sagas(r) for r in fam]
print(f"| **a saga in SagaStore** (state + status sets + history) | {fmt(saga_total)} | |")
others = ["orders (order:<id>)", "inventory reservations (inventory:reservation:<order>)", "payments (payment:<order>)"]
streams6 = ["order-events", "inventory-events", "payment-events", "order-commands", "inventory-commands", "payment-commands"]
for name in others:
    print(f"| {name}, one per order | {fmt([famv(r, name, 'median_bytes_per_key') for r in fam])} | MEMORY USAGE, median |")
print(f"| the 6 event and command streams, per saga | {fmt([sum(famv(r, s, 'bytes') or 0 for s in streams6) / sagas(r) for r in fam])} | MEMORY USAGE / sagas |")
print(f"| **an order, every key it leaves** | {fmt([saga_total[i] + sum((famv(r, n, 'bytes') or 0) for n in others + streams6) / sagas(r) for i, r in enumerate(fam)])} | the rows above summed |")
for n in (1, 10, 100):
    print(f"| a todo's history of {n} event{'s' if n > 1 else ''} `es:{{todo-events}}:<id>` | {col(es, f'history_{n}_bytes')} | MEMORY USAGE; {col(es, f'history_{n}_bytes_per_event')} per event |")
print(f"| a stream of one todo-events entry, replayed: stream-node-max-bytes 4096 (default) / 1024 / 512 | "
      f"{col(ent, 'todo_one_entry_stream_bytes_node_max_4096', 1, 0)} / {col(ent, 'todo_one_entry_stream_bytes_node_max_1024', 1, 0)} / "
      f"{col(ent, 'todo_one_entry_stream_bytes_node_max_512', 1, 0)} | MEMORY USAGE: what the first node's preallocation costs |")
for n in (10, 100):
    print(f"| its snapshot after {n} events `…:snapshot` | {col(es, f'snapshot_{n}_bytes')} | MEMORY USAGE (TODO_SNAPSHOT_EVERY=10) |")
print(f"| a todo's share of its user's index `es:{{todo-events}}:user:<id>` | {fmt(share('es user index (es:{todo-events}:user:<id>)', todos))} | MEMORY USAGE of the sets / todos |")

print(f"\n### Every key after one round, by family (median of {rounds} rounds; MEMORY USAGE SAMPLES 0 of every key)\n")
print("| family | type | keys | entries | MB | bytes per todo / per saga |")
print("|---|---|---:|---:|---:|---:|")
names = sorted({n for r in fam for n in r["families"]}, key=lambda n: -statistics.median([famv(r, n, "bytes") or 0 for r in fam]))
for name in names:
    t = next(r["families"][name]["type"] for r in fam if name in r["families"])
    per, unit = (todos, "todo") if name in todo_side else ((sagas, "saga") if name.startswith(("saga", "order", "inventory", "payment")) else (None, ""))
    per_text = (fmt(share(name, per)) + " / " + unit) if per and not name.startswith("inventory stock") else ""
    entries = fmt([famv(r, name, "entries") for r in fam], 1, 0) if t == "stream" else ""
    print(f"| {name} | {t} | {fmt([famv(r, name, 'keys') for r in fam], 1, 0)} | {entries} | {fmt([famv(r, name, 'bytes') for r in fam], 1e6, 2)} | {per_text} |")
print(f"| **all keys** | | {fmt([r['keys'] for r in fam], 1, 0)} | | {fmt([sum(f['bytes'] for f in r['families'].values()) for r in fam], 1e6, 2)} | used_memory {fmt([r['used_memory'] for r in fam], 1e6, 2)} MB |")

POLICY = {
    "todo-events": ("todo-service trims it safely: STREAM_MAX_LENGTH (default 100000), every STREAM_TRIM_EVERY (default 1000) publishes", "yes"),
    "order-events": ("order-service, likewise", "yes"),
    "inventory-events": ("inventory-service, likewise", "yes"),
    "payment-events": ("payment-service, likewise", "yes"),
    "order-commands": ("saga-coordinator trims each command stream it writes, likewise (since 4ca5198/be743cb)", "yes"),
    "inventory-commands": ("saga-coordinator, likewise", "yes"),
    "payment-commands": ("saga-coordinator, likewise", "yes"),
    "saga history (saga:{order}:history)": ("XADD MAXLEN ~ 100000 in the commit script (SagaStore.historyMaxLength)", "yes"),
    "notifications": ("XADD MAXLEN ~ 100000 (NotificationSender)", "yes"),
    "receipts": ("XADD MAXLEN ~ 1000000, only with RECEIPTS_STREAM (load tests)", "yes"),
    "dead letters (<stream>:dlq:<group>)": ("none: XADD without MAXLEN; an operator removes them (streamsctl)", "**no** (grows with failures only)"),
    "notifications:user:<id> lists": ("LTRIM 0 99: the newest 100 per user", "per user; keys grow with users"),
    "notification-service:processed:<event>": ("TTL 7 days (processedMarkerTTL)", "by time: 7 days of events"),
    "analytics-service:processed:<event>": ("TTL 7 days (processedMarkerTTL)", "by time: 7 days of events"),
    "analytics:* read model": ("none: hashes per user and per day, sets of users and days", "**no** (grows with users and days, not events)"),
    "es history (es:{todo-events}:<id>)": ("none by design: the todo's source of truth, never trimmed", "**no** (grows with todos × changes)"),
    "es snapshot (es:{todo-events}:<id>:snapshot)": ("one per todo with ≥ TODO_SNAPSHOT_EVERY events, overwritten", "**no** (one per todo)"),
    "es user index (es:{todo-events}:user:<id>)": ("one member per live todo of the user (ZREM on delete)", "**no** (grows with live todos)"),
    "saga state (saga:{order}:<id>)": ("none: never deleted, not even once ended", "**no** (grows with sagas)"),
    "saga status sets (saga:{order}:status:*)": ("none: every saga ever stays in its last status set", "**no** (grows with sagas)"),
    "saga deadlines (saga:{order}:deadlines)": ("a member per saga waiting for a reply, removed at its next transition", "yes (sagas in flight)"),
    "orders (order:<id>)": ("none: never deleted", "**no** (grows with orders)"),
    "order idempotency keys": ("EXPIRE 24 h (only with an Idempotency-Key header)", "by time"),
    "inventory reservations (inventory:reservation:<order>)": ("none: kept as the per-order idempotency record", "**no** (grows with orders)"),
    "payments (payment:<order>)": ("none: kept as the per-order idempotency record", "**no** (grows with orders)"),
    "inventory stock": ("one hash per SKU", "yes (SKUs)"),
    "projection state": ("one hash per projection", "yes"),
}
ret = kind("retention")
if ret:
    r = ret[-1]
    print(f"\n### Retention: every key family, with STREAM_MAX_LENGTH={r['max_length']} STREAM_TRIM_EVERY={r['trim_every']} "
          f"({r['todos']:,} todos, drained {r['todos_drain_s']} s after the load, then {r['sagas']:,} orders, every saga ended "
          f"{r['sagas_drain_s']} s after the load, {r['sagas_compensated']:,} compensated; wrk -t1 -c32; XLEN watched every second, "
          f"{r['watch_samples']} samples)\n")
    print(f"| key family | declared retention | bounded | entries added | peak XLEN under load | XLEN after the drain | XLEN after {r['settle_publishes']} more todos and orders | keys | MB at the end |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    names = list(POLICY) + [n for n in r["families"] if n not in POLICY]
    for name in names:
        f = r["families"].get(name)
        policy, bounded = POLICY.get(name, ("?", "?"))
        if f is None:
            print(f"| {name} | {policy} | {bounded} | | | | | 0 | |")
            continue
        stream = f["type"] == "stream"
        key = "saga:{order}:history" if name.startswith("saga history") else name
        peak = r["peak_length"].get(key, "") if stream else ""
        settled = r["settled"].get(key, {}).get("length", "") if stream else ""
        drained = r["end"].get(key, {}).get("length", f["entries"]) if stream else ""
        added = f"{f['entries_added']:,}" if stream else ""
        print(f"| {name} | {policy} | {bounded} | {added} | {peak if peak == '' else f'{peak:,}'} | {drained if drained == '' else f'{drained:,}'} | {settled if settled == '' else f'{settled:,}'} | {f['keys']:,} | {f['bytes'] / 1e6:,.2f} |")
PY
}

if [ -n "$summary_only" ]; then memory_tables "$summary_only"; exit 0; fi

source scripts/lib/deps.sh
# shellcheck disable=SC2119
ensure_dependencies
if ! command -v wrk >/dev/null 2>&1; then
    sudo=""; if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi

# Eleven consecutive free ports (the stack's 8, a gap, the private redis at +10).
port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ -z "${MEMORY_PORT_BASE:-}" ]; then
    for candidate in $(seq 26100 20 26900); do
        free=1
        for offset in $(seq 0 10); do
            if ! port_is_free $((candidate + offset)); then free=0; break; fi
        done
        if [ "$free" = 1 ]; then MEMORY_PORT_BASE=$candidate; break; fi
    done
fi
CAPACITY_PORT_BASE="$MEMORY_PORT_BASE"
export_stack_ports "$MEMORY_PORT_BASE"
private_redis_port=$((base + 10))
export INVENTORY_SEED="load-sku-1=1000000000,load-sku-2=1000000000,load-sku-3=1000000000"
out="${out:-$memory_dir/memory-$(date -u +%Y%m%dT%H%M%S).jsonl}"
bin=.build/release
if [ "$build" = 1 ]; then build_stack_release; fi
todo="http://127.0.0.1:$TODO_SERVICE_PORT"
orders="http://127.0.0.1:$ORDER_SERVICE_PORT"

stack_dir="" sampler_pid="" private_redis_pid=""
cleanup() {
    if [ -n "$sampler_pid" ]; then kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; fi
    sampler_pid=""
    if [ -n "$private_redis_pid" ]; then kill "$private_redis_pid" 2>/dev/null || true; wait "$private_redis_pid" 2>/dev/null || true; fi
    private_redis_pid=""
    stop_stack
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# "name rss_kb hwm_kb" of each process of the stack.
rss_now() {
    local file pid
    for file in "$stack_dir"/pids/*.pid; do
        pid="$(cut -d' ' -f1 "$file")"
        [ -r "/proc/$pid/status" ] || continue
        echo "$(basename "$file" .pid) $(awk '/^VmRSS:/ { rss = $2 } /^VmHWM:/ { hwm = $2 } END { print rss + 0, hwm + 0 }' "/proc/$pid/status")"
    done
}

# Samples rss_now every 0.5 s into file $1 ("<time> name rss hwm") until stopped.
start_sampler() {
    : >"$1"
    ( while true; do rss_now | sed "s/^/$(date +%s.%N) /" >>"$1"; sleep 0.5; done ) &
    sampler_pid=$!
}
stop_sampler() {
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
}

# One JSON line of kind $1 from the rss_now lines $2 (a single sample: rss and hwm per process).
record_rss_now() {
    record "$(python3 - "$1" "$round" "$2" <<'PY'
import json, sys
run = {"kind": sys.argv[1], "round": int(sys.argv[2])}
for line in sys.argv[3].splitlines():
    name, rss, hwm = line.split()
    run[name + "_rss_kb"], run[name + "_hwm_kb"] = int(rss), int(hwm)
print(json.dumps(run, sort_keys=True))
PY
)"
}

# One JSON line of kind $1 from the sampler's file $2, the load having ended at time $3: per
# process the peak and the last RSS of the samples under load, the peak while draining, and the
# last VmHWM.
record_rss_samples() {
    record "$(python3 - "$1" "$round" "$2" "$3" <<'PY'
import json, sys
run = {"kind": sys.argv[1], "round": int(sys.argv[2])}
cutoff = float(sys.argv[4])
samples = {}
for line in open(sys.argv[3]):
    parts = line.split()
    if len(parts) != 4:
        continue
    samples.setdefault(parts[1], []).append((float(parts[0]), int(parts[2]), int(parts[3])))
for name, values in samples.items():
    values.sort()
    loaded = [v for v in values if v[0] <= cutoff] or values[:1]
    draining = [v for v in values if v[0] > cutoff] or values[-1:]
    run[name + "_peak_kb"] = max(v[1] for v in loaded)
    run[name + "_end_kb"] = loaded[-1][1]
    run[name + "_drain_peak_kb"] = max(v[1] for v in draining)
    run[name + "_hwm_kb"] = values[-1][2]
run["samples"] = max((len(v) for v in samples.values()), default=0)
print(json.dumps(run, sort_keys=True))
PY
)"
}

cli() { redis-cli -u "$redis_url" --no-auth-warning "$@"; }
used_memory() { python3 "$probe" info "$redis_url" | python3 -c 'import json, sys; print(json.load(sys.stdin)["used_memory"])'; }

# Sagas ended (completed, compensated or failed) so far.
ended_sagas() {
    cli EVAL "return redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) + redis.call('ZCARD', KEYS[3])" 3 \
        'saga:{order}:status:completed' 'saga:{order}:status:compensated' 'saga:{order}:status:failed' 2>/dev/null || echo 0
}

# wrk POST /todos for $1 s, then the wait until both groups have handled everything.
load_todos() {
    wrk -t1 -c32 -d"$1s" -s scripts/wrk-post-todos.lua "$todo" >"$memory_dir/wrk-todos.out"
    load_ended=$(date +%s.%N)
    todos_created=$(wrk_created "$memory_dir/wrk-todos.out")
    for _ in $(seq 1 3000); do
        if [ "$(todo_backlog)" = 0 ]; then break; fi
        sleep 0.1
    done
    todos_drain_s=$(python3 -c "import time; print(round(time.time() - $load_ended, 1))")
}
# wrk POST /orders for $1 s, then the wait until every accepted order's saga has ended.
load_orders() {
    local ended_before
    ended_before="$(ended_sagas)"
    wrk -t1 -c32 -d"$1s" -s scripts/wrk-post-orders.lua "$orders" >"$memory_dir/wrk-orders.out"
    load_ended=$(date +%s.%N)
    orders_created=$(wrk_created "$memory_dir/wrk-orders.out")
    for _ in $(seq 1 3000); do
        if [ "$(($(ended_sagas) - ended_before))" -ge "$orders_created" ]; then break; fi
        sleep 0.1
    done
    orders_drain_s=$(python3 -c "import time; print(round(time.time() - $load_ended, 1))")
    orders_ended=$(($(ended_sagas) - ended_before))
    sagas_unfinished=$((orders_created > orders_ended ? orders_created - orders_ended : 0))
    sagas_compensated="$(cli ZCARD 'saga:{order}:status:compensated')"
}

# A todo with $1 events in its history (created, then title changes); prints its id.
todo_with_events() {
    local id i
    id="$(curl -fsS -XPOST "$todo/todos" -H 'Content-Type: application/json' \
        -d '{"user_id":"memory-probe","title":"memory probe with a title of ordinary length","priority":"medium"}' |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
    for i in $(seq 2 "$1"); do
        curl -fsS -o /dev/null -XPUT "$todo/todos/$id/title" -H 'Content-Type: application/json' \
            -d "{\"title\":\"memory probe, title number $i of ordinary length\"}"
    done
    echo "$id"
}

start_stack() {
    stack_dir="$memory_dir/stack-$1-$$"
    rm -rf "$stack_dir"
    STACK_DIR="$stack_dir" "$bin/streams-stack" up >&2
    redis_url="$(STACK_DIR="$stack_dir" "$bin/streams-stack" redis-url operator)"
}

echo "== memory.sh: ports $base-$((base + 10)), out $out" >&2
for round in $(seq 1 "$rounds"); do
    echo "== round $round/$rounds  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    start_stack "$round"
    sleep 3
    record_rss_now rss_idle "$(rss_now)"
    memory_idle="$(used_memory)"

    start_sampler "$memory_dir/samples-todos"
    load_todos "$duration"
    stop_sampler
    record_rss_samples rss_todos_load "$memory_dir/samples-todos" "$load_ended"
    record_rss_now rss_todos_drained "$(rss_now)"
    memory_todos="$(used_memory)"
    todos_total="$todos_created"

    start_sampler "$memory_dir/samples-orders"
    load_orders "$duration"
    stop_sampler
    record_rss_samples rss_orders_load "$memory_dir/samples-orders" "$load_ended"
    sleep 2
    record_rss_now rss_drained "$(rss_now)"
    memory_orders="$(used_memory)"
    record "$(python3 -c '
import json, sys
idle, todos, orders, n_todos, n_orders, rnd = map(int, sys.argv[1:7])
print(json.dumps({"kind": "redis_used_memory", "round": rnd, "idle_bytes": idle, "after_todos_bytes": todos,
  "after_orders_bytes": orders, "todos": n_todos, "sagas": n_orders, "todos_drain_s": float(sys.argv[7]),
  "sagas_drain_s": float(sys.argv[8]), "sagas_unfinished": int(sys.argv[9]), "sagas_compensated": int(sys.argv[10]),
  "bytes_per_todo": round((todos - idle) / max(n_todos, 1), 1), "bytes_per_saga": round((orders - todos) / max(n_orders, 1), 1)}))' \
        "$memory_idle" "$memory_todos" "$memory_orders" "$todos_total" "$orders_ended" "$round" \
        "$todos_drain_s" "$orders_drain_s" "$sagas_unfinished" "$sagas_compensated")"

    # Every key by family, after the loads.
    record "$(python3 "$probe" families "$redis_url" | python3 -c '
import json, sys
r = json.load(sys.stdin); r.update({"kind": "families", "round": int(sys.argv[1])}); print(json.dumps(r))' "$round")"

    # The event store: histories of 1, 10 and 100 events, and their snapshots.
    record "$(python3 "$probe" histories "$redis_url" "$(todo_with_events 1)" "$(todo_with_events 10)" "$(todo_with_events 100)" |
        python3 -c 'import json, sys; r = json.load(sys.stdin); r.update({"kind": "event_store", "round": int(sys.argv[1])}); print(json.dumps(r))' "$round")"

    # Stream entries and pending entries, in a private empty redis-server.
    redis-server --port "$private_redis_port" --bind 127.0.0.1 --save '' --appendonly no \
        --logfile "$memory_dir/private-redis.log" &
    private_redis_pid=$!
    for _ in $(seq 1 100); do
        if redis-cli -p "$private_redis_port" PING >/dev/null 2>&1; then break; fi
        sleep 0.05
    done
    record "$(python3 "$probe" micro "$redis_url" "redis://127.0.0.1:$private_redis_port" 10000 |
        python3 -c 'import json, sys; r = json.load(sys.stdin); r.update({"kind": "entries", "round": int(sys.argv[1])}); print(json.dumps(r))' "$round")"
    kill "$private_redis_pid"; wait "$private_redis_pid" 2>/dev/null || true
    private_redis_pid=""
    stop_stack
done

if [ "$retention_duration" -gt 0 ]; then
    max_length="${RETENTION_MAX_LENGTH:-1000}" trim_every="${RETENTION_TRIM_EVERY:-100}"
    echo "== retention: STREAM_MAX_LENGTH=$max_length STREAM_TRIM_EVERY=$trim_every, ${retention_duration}s of each load  $(date -u +%T)  load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    round=0
    STREAM_MAX_LENGTH="$max_length" STREAM_TRIM_EVERY="$trim_every" start_stack retention
    watch_file="$memory_dir/retention-watch"
    : >"$watch_file"
    watched=(todo-events order-events inventory-events payment-events order-commands inventory-commands payment-commands
        'saga:{order}:history' notifications receipts)
    ( while true; do python3 "$probe" streams "$redis_url" "${watched[@]}" >>"$watch_file" 2>/dev/null || true; sleep 1; done ) &
    sampler_pid=$!
    load_todos "$retention_duration"
    load_orders "$retention_duration"
    sleep 2
    stop_sampler
    python3 "$probe" streams "$redis_url" "${watched[@]}" >>"$watch_file"
    # A stream is trimmed when its publisher publishes, and one approximate trim (XTRIM MINID ~)
    # removes at most 10000 entries (Redis's default LIMIT, 100 nodes of 100): after the
    # bursts, more todos and orders one at a time (every group keeps up) until each event and
    # command stream is back within STREAM_MAX_LENGTH + STREAM_TRIM_EVERY + one node (100).
    settle_publishes=0
    while [ "$settle_publishes" -lt 5000 ]; do
        for _ in $(seq 1 50); do
            curl -fsS -o /dev/null -XPOST "$todo/todos" -H 'Content-Type: application/json' \
                -d '{"user_id":"memory-settle","title":"after the burst","priority":"low"}'
            curl -fsS -o /dev/null -XPOST "$orders/orders" -H 'Content-Type: application/json' \
                -d '{"user_id":"memory-settle","items":[{"sku":"load-sku-1","quantity":1}],"amount_cents":500,"card":"4242424242424242"}'
        done
        settle_publishes=$((settle_publishes + 50))
        sleep 1
        longest=0
        for stream in todo-events order-events inventory-events payment-events order-commands inventory-commands payment-commands; do
            length="$(cli XLEN "$stream")"
            if [ "$length" -gt "$longest" ]; then longest=$length; fi
        done
        if [ "$longest" -le $((max_length + trim_every + 100)) ]; then break; fi
    done
    sleep 2
    python3 "$probe" streams "$redis_url" "${watched[@]}" >"$memory_dir/retention-settled"
    record "$(python3 "$probe" families "$redis_url" | python3 -c '
import json, sys
r = json.load(sys.stdin)
watch = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
settled = json.load(open(sys.argv[9]))["streams"]
peak = {}
for sample in watch:
    for stream, info in sample["streams"].items():
        peak[stream] = max(peak.get(stream, 0), info["length"])
r.update({"kind": "retention", "round": 0, "max_length": int(sys.argv[2]), "trim_every": int(sys.argv[3]),
  "todos": int(sys.argv[4]), "sagas": int(sys.argv[5]), "todos_drain_s": float(sys.argv[6]),
  "sagas_drain_s": float(sys.argv[7]), "sagas_compensated": int(sys.argv[8]), "settle_publishes": int(sys.argv[10]), "watch_samples": len(watch), "peak_length": peak,
  "end": watch[-1]["streams"] if watch else {}, "settled": settled})
print(json.dumps(r))' "$watch_file" "$max_length" "$trim_every" "$todos_created" "$orders_ended" \
        "$todos_drain_s" "$orders_drain_s" "$sagas_compensated" "$memory_dir/retention-settled" "$settle_publishes")"
    stop_stack
fi
echo "== tables ($out)" >&2
memory_tables "$out"
