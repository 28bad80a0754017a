#!/usr/bin/env python3
"""The figures of scripts/cluster-partition.sh (standard library only).

    partition_report.py run RUN_DIR      one JSON line for one run (reads RUN_DIR/run.json, the
                                         writers' isolated.jsonl and majority.jsonl, stream.jsonl
                                         and the nodes' logs named in run.json)
    partition_report.py summary FILE     the medians per mode of FILE's JSON lines: a Markdown
                                         table, then one JSON line per mode

Times are milliseconds from the cut (the moment the DROP rules were in place). "isolated" is the
writer in M1's namespace, "majority" the writer in the root namespace. Per side: writes
acknowledged during the cut (sent between cut and heal; in brackets those M1 acknowledged after
the cut), failed writes by kind (CLUSTERDOWN, WAIT<1: applied but WAIT returned 0, MOVED-loop,
timeout, conn), M1's last acknowledgement after the cut, the writer's first failure and the
first acknowledgement of a write sent after it ("acked again"), acknowledged writes missing
from the stream read back after healing (lost), and failed writes found in it anyway.
"""
import json
import re
import statistics
import sys
from collections import Counter, defaultdict
from datetime import datetime

LOG_LINE = re.compile(r"^\d+:[A-Z] (\d+ \w+ \d+ \d+:\d+:\d+\.\d+) . (.*)$")


def log_events(path):
    """(wall clock ms, message) of each line of a redis-server log."""
    events = []
    with open(path, errors="replace") as log:
        for line in log:
            match = LOG_LINE.match(line.rstrip("\n"))
            if match:
                stamp = datetime.strptime(match.group(1), "%d %b %Y %H:%M:%S.%f").timestamp() * 1000
                events.append((stamp, match.group(2)))
    return events


def first(events, needle, after):
    times = [t for t, message in events if needle in message and t >= after]
    return min(times) if times else None


def error_kind(record):
    if record["outcome"] in ("timeout", "conn"):
        return record["outcome"]
    error = record.get("error", "")
    if error.startswith("MOVED loop"):
        return "MOVED-loop"
    if error.startswith("WAIT"):
        return "WAIT<1"
    return error.split(" ", 1)[0] or "error"


def rel(value, origin):
    return None if value is None else round(value - origin, 1)


def side_figures(records, stored, cut, cut_started, heal, m1):
    acked = [r for r in records if r["outcome"] == "ack"]
    during = [r for r in acked if cut <= r["sent"] < heal]
    errors = Counter(error_kind(r) for r in records if r["outcome"] != "ack")
    # The outage of this writer: from its first failed write answered after the cut began
    # (after the rules started to go in) to the first acknowledged write sent after that one.
    failed = [r for r in records if r["outcome"] != "ack" and r["done"] >= cut_started]
    outage_start = min((r["sent"] for r in failed), default=None)
    back = None
    if outage_start is not None:
        back = min((r["done"] for r in acked if r["sent"] > outage_start), default=None)
    lost = [r for r in acked if r["seq"] not in stored]
    unacked_stored = [r for r in records if r["outcome"] != "ack" and r["seq"] in stored]
    return {
        "sent": len(records),
        "acked": len(acked),
        "acked_during_cut": len(during),
        "acked_by_m1_during_cut": sum(1 for r in acked if r["node"] == m1 and r["done"] >= cut and r["sent"] < heal),
        "errors": dict(sorted(errors.items())),
        # The last write the old master M1 acknowledged after the cut (a write sent before the
        # cut and answered after it counts).
        "m1_last_ack_ms": rel(max((r["done"] for r in acked if r["node"] == m1 and r["done"] >= cut
                                   and r["sent"] < heal), default=None), cut),
        "first_failure_ms": rel(outage_start, cut),
        "back_ms": rel(back, cut),
        "first_ack_after_heal_ms": rel(min((r["done"] for r in acked if r["sent"] >= heal), default=None), heal),
        "lost": len(lost),
        "lost_seqs": [r["seq"] for r in lost][:20],
        "unacked_but_stored": len(unacked_stored),
    }


def run(directory):
    meta = json.load(open(f"{directory}/run.json"))
    cut, heal, converged = meta["cut_ms"], meta["heal_ms"], meta["converged_ms"]
    stored = defaultdict(set)
    entries = 0
    for line in open(f"{directory}/stream.jsonl"):
        entry = json.loads(line)
        stored[entry["writer"]].add(entry["seq"])
        entries += 1
    result = {"kind": "partition", "mode": meta["mode"], "round": meta["round"],
              "node_timeout_ms": meta["node_timeout_ms"], "cut_s": meta["cut_s"],
              "cut_method": meta["cut_method"], "stream_entries": entries}
    for side in ("isolated", "majority"):
        records = [json.loads(line) for line in open(f"{directory}/{side}.jsonl") if line.strip()]
        result[side] = side_figures(records, stored[side], cut, meta["cut_started_ms"], heal, meta["m1"])
    m1 = log_events(meta["m1_log"])
    promoted = log_events(meta["replica_log"])
    majority_logs = [log_events(path) for path in meta["majority_logs"]]
    failing = [first(events, "as failing (quorum reached)", cut) for events in majority_logs]
    failing = [t for t in failing if t is not None]
    # The majority side's own cluster_state: fail once M1 is FAIL and its slots have no
    # working master (cluster-require-full-coverage yes), ok again when the replica took them.
    down = [first(events, "Cluster state changed: fail", cut) for events in majority_logs]
    down = [t for t in down if t is not None]
    back = [first(events, "Cluster state changed: ok", min(down)) for events in majority_logs] if down else []
    back = [t for t in back if t is not None]
    result["cluster"] = {
        "m1_state_fail_ms": rel(first(m1, "Cluster state changed: fail", cut), cut),
        "m1_marked_fail_ms": rel(min(failing) if failing else None, cut),
        "majority_fail_ms": rel(min(down) if down else None, cut),
        "majority_ok_ms": rel(max(back) if back else None, cut),
        "promoted_ms": rel(first(promoted, "Failover election won", cut), cut),
        "cut_apply_ms": round(cut - meta["cut_started_ms"], 1),
        "heal_ms": rel(heal, cut),
        "m1_replica_again_ms": rel(first(m1, "Reconfiguring myself as a replica", cut), cut),
        "m1_synced_ms": rel(first(m1, "MASTER <-> REPLICA sync: Finished with success", cut), cut),
        "m1_full_resync": first(m1, "Full resync from master", cut) is not None,
        "converged_ms": rel(converged, cut),
    }
    print(json.dumps(result, separators=(",", ":")))


def median(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    value = statistics.median(values)
    return round(value, 1) if isinstance(value, float) else value


def summary(path):
    runs = [json.loads(line) for line in open(path) if line.strip()]
    runs = [r for r in runs if r.get("kind") == "partition"]
    modes = sorted({r["mode"] for r in runs}, key=lambda m: (m != "plain", m))

    def fmt(value):
        return "-" if value is None else (f"{value:g}" if isinstance(value, (int, float)) else str(value))

    def errors_median(group, side):
        kinds = sorted({k for r in group for k in r[side]["errors"]})
        return {k: median([r[side]["errors"].get(k, 0) for r in group]) for k in kinds}

    print("| mode | side | runs | acked during cut (by M1) | failed writes by kind | M1's last ack after cut (ms) | "
          "first failure (ms) | acked again (ms) | acked writes lost | failed writes stored anyway |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    lines = []
    for mode in modes:
        group = [r for r in runs if r["mode"] == mode]
        cluster = {key: median([r["cluster"][key] for r in group])
                   for key in group[0]["cluster"] if key != "m1_full_resync"}
        cluster["m1_full_resync_runs"] = sum(1 for r in group if r["cluster"]["m1_full_resync"])
        line = {"kind": "partition-summary", "mode": mode, "runs": len(group),
                "node_timeout_ms": group[0]["node_timeout_ms"], "cut_s": group[0]["cut_s"],
                "cut_method": group[0]["cut_method"], "cluster": cluster}
        for side in ("isolated", "majority"):
            figures = {key: median([r[side][key] for r in group])
                       for key in ("sent", "acked", "acked_during_cut", "acked_by_m1_during_cut",
                                   "m1_last_ack_ms", "first_failure_ms", "back_ms",
                                   "first_ack_after_heal_ms", "lost", "unacked_but_stored")}
            figures["errors"] = errors_median(group, side)
            figures["lost_min"] = min(r[side]["lost"] for r in group)
            figures["lost_max"] = max(r[side]["lost"] for r in group)
            line[side] = figures
            errors = ", ".join(f"{k} {fmt(v)}" for k, v in figures["errors"].items()) or "none"
            print(f"| {mode} | {side} | {len(group)} | {fmt(figures['acked_during_cut'])} "
                  f"({fmt(figures['acked_by_m1_during_cut'])}) | {errors} | {fmt(figures['m1_last_ack_ms'])} | "
                  f"{fmt(figures['first_failure_ms'])} | {fmt(figures['back_ms'])} | "
                  f"{fmt(figures['lost'])} ({figures['lost_min']}-{figures['lost_max']}) | "
                  f"{fmt(figures['unacked_but_stored'])} |")
        lines.append(line)
    print()
    print("| mode | runs | M1 sees cluster fail (ms) | M1 marked FAIL by majority (ms) | majority cluster_state fail .. ok (ms) | "
          "replica promoted (ms) | heal (ms) | M1 a replica again (ms) | M1 synced (ms) | converged (ms) | full resyncs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for line in lines:
        c = line["cluster"]
        print(f"| {line['mode']} | {line['runs']} | {fmt(c['m1_state_fail_ms'])} | {fmt(c['m1_marked_fail_ms'])} | "
              f"{fmt(c['majority_fail_ms'])} .. {fmt(c['majority_ok_ms'])} | {fmt(c['promoted_ms'])} | {fmt(c['heal_ms'])} | {fmt(c['m1_replica_again_ms'])} | "
              f"{fmt(c['m1_synced_ms'])} | {fmt(c['converged_ms'])} | {c['m1_full_resync_runs']}/{line['runs']} |")
    print()
    for line in lines:
        print(json.dumps(line, separators=(",", ":")))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("run", "summary"):
        sys.exit(__doc__)
    (run if sys.argv[1] == "run" else summary)(sys.argv[2])


if __name__ == "__main__":
    main()
