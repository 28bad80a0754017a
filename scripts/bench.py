#!/usr/bin/env python3
"""Benchmark orchestration: streams-bench (ours, Swift) vs. hb (hiredis C reference).

Starts a private redis-server on a unix socket, builds the C reference client
../shared/anchors/hb.c into .bench/hb, then runs interleaved rounds of:

  publish   pub -n N                          -> events/s, client CPU us/event
  consume   pub -n N (prefill, untimed), then consume -n N -> events/s, CPU us/event
  e2e       e2e -n N -r 0                     -> e2e_rate events/s, CPU us/event
  latency   e2e -n L -r 10000                 -> p50 / p99 / p99.9 us

hb gets "-A multi" (one XACK per batch) for consume and e2e; ours gets no -A.
Prints one JSON line per measurement on stdout (progress on stderr) and rewrites the
generated section of BENCHMARKS.md (between <!-- bench:begin --> and <!-- bench:end -->).

Normally run through scripts/bench.sh, which installs dependencies and builds
streams-bench in release mode first. Python 3.11 standard library only.
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

GROUPS = ["publish", "consume", "e2e", "latency"]
GROUP_METRICS = {
    "publish": ["publish", "cpu_publish"],
    "consume": ["consume", "cpu_consume"],
    "e2e": ["e2e", "cpu_e2e"],
    "latency": ["latency_p50", "latency_p99", "latency_p999"],
}
ORDER = ["publish", "consume", "e2e", "latency_p50", "latency_p99", "latency_p999",
         "cpu_publish", "cpu_consume", "cpu_e2e"]
UNITS = {
    "publish": "events/s", "consume": "events/s", "e2e": "events/s",
    "latency_p50": "us", "latency_p99": "us", "latency_p999": "us",
    "cpu_publish": "us/event", "cpu_consume": "us/event", "cpu_e2e": "us/event",
}
# (comparison, threshold) on the ratio ours/reference: issue 13's (e2e, consume, p99, client
# CPU per event), issue 4's for the rest
TARGETS = {
    "publish": (">=", 0.8), "consume": (">=", 0.95), "e2e": (">=", 0.9),
    "latency_p50": ("<=", 1.3), "latency_p99": ("<=", 1.2),
    "cpu_publish": ("<=", 1.5), "cpu_consume": ("<=", 1.5), "cpu_e2e": ("<=", 1.5),
}
DESCRIPTIONS = {
    "publish": "publish, batches of 100 (events/s)",
    "consume": "consume + ack, prefilled stream (events/s)",
    "e2e": "publish + consume concurrently, max rate (events/s)",
    "latency_p50": "latency p50 @10k events/s (µs)",
    "latency_p99": "latency p99 @10k events/s (µs)",
    "latency_p999": "latency p99.9 @10k events/s (µs)",
    "cpu_publish": "client CPU, publish (µs/event)",
    "cpu_consume": "client CPU, consume (µs/event)",
    "cpu_e2e": "client CPU, e2e max rate (µs/event)",
}
CLIENTS = ("hb", "ours")
STREAM_KEYS = {"hb": "hb-s", "ours": "ours-s", "before": "before-s"}


class BenchError(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def child_env() -> dict:
    env = dict(os.environ)
    env.pop("POSIXLY_CORRECT", None)  # hb relies on GNU getopt permuting "MODE -n N"
    return env


def _die_with_parent() -> None:
    """preexec_fn: SIGTERM the child if this script dies without cleaning up (e.g. SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


# --------------------------------------------------------------------------- redis-server

class RedisServer:
    def __init__(self) -> None:
        self.dir: str | None = None
        self.sock = ""
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if not exe:
            raise BenchError("redis-server is not on PATH (scripts/bench.sh installs it)")
        self.dir = tempfile.mkdtemp(prefix="streams-bench-")
        self.sock = os.path.join(self.dir, "redis.sock")
        logf = open(os.path.join(self.dir, "redis.log"), "wb")
        try:
            self.proc = subprocess.Popen(
                [exe, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", self.dir, "--daemonize", "no"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            logf.close()
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"redis-server exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                r = subprocess.run(["redis-cli", "-s", self.sock, "PING"], capture_output=True,
                                   text=True, timeout=5)
                if r.returncode == 0 and r.stdout.strip() == "PONG":
                    return
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"redis-server did not answer PING within 15 s:\n{self.log_text()}")
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            return Path(self.dir, "redis.log").read_text(errors="replace")[-4000:]
        except (OSError, TypeError):
            return ""

    def cli(self, *args: str) -> str:
        r = subprocess.run(["redis-cli", "-s", self.sock, *args], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0 or r.stdout.startswith("(error)") or r.stdout.startswith("ERR"):
            raise BenchError(f"redis-cli {shlex.join(args)} failed: {r.stdout}{r.stderr}")
        return r.stdout.strip()

    def stop(self) -> None:
        p, self.proc = self.proc, None
        if p is not None:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        d, self.dir = self.dir, None
        if d:
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- clients

def build_hb(anchors: Path) -> Path:
    src = anchors / "hb.c"
    if not src.is_file():
        raise BenchError(f"C reference client not found: {src} (use --anchors DIR)")
    out_dir = REPO / ".bench"
    out_dir.mkdir(exist_ok=True)
    binary = out_dir / "hb"
    if binary.exists() and binary.stat().st_mtime >= src.stat().st_mtime:
        return binary
    pc = subprocess.run(["pkg-config", "--cflags", "--libs", "hiredis"], capture_output=True, text=True)
    if pc.returncode != 0:
        raise BenchError(f"pkg-config hiredis failed: {pc.stderr.strip()}")
    cmd = ["gcc", "-O2", "-o", str(binary), str(src), *shlex.split(pc.stdout), "-lpthread"]
    log(f"building reference client: {shlex.join(cmd)}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"building hb failed:\n{r.stdout}{r.stderr}")
    return binary


def swift_compiler_procs() -> int:
    n = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() == "swift-frontend":
                n += 1
        except OSError:
            pass
    return n


class Runner:
    def __init__(self, redis: RedisServer, binaries: dict[str, Path], timeout: float) -> None:
        self.redis = redis
        self.binaries = binaries
        self.timeout = timeout
        self.env = child_env()
        self.loads: list[float] = []
        self.max_swift = 0

    def command(self, client: str, mode: str, n: int, rate: float | None = None) -> list[str]:
        cmd = [str(self.binaries[client]), mode, "-s", self.redis.sock, "-k", STREAM_KEYS[client],
               "-n", str(n)]
        if rate is not None:
            cmd += ["-r", f"{rate:g}"]
        if client == "hb" and mode in ("consume", "e2e"):
            cmd += ["-A", "multi"]
        return cmd

    def execute(self, cmd: list[str]) -> tuple[int, str, str, float]:
        """Runs cmd; returns (exit code, stdout, stderr, child user+sys CPU seconds)."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                 env=self.env, cwd=REPO, start_new_session=True)
            lock = threading.Lock()
            state = {"reaped": False, "timed_out": False}

            def on_timeout() -> None:
                with lock:
                    if not state["reaped"]:
                        state["timed_out"] = True
                        try:
                            os.killpg(p.pid, signal.SIGKILL)  # own session: wrapper + children
                        except ProcessLookupError:
                            pass

            timer = threading.Timer(self.timeout, on_timeout)
            timer.daemon = True
            timer.start()
            try:
                _, status, ru = os.wait4(p.pid, 0)
                with lock:
                    state["reaped"] = True
            finally:
                timer.cancel()
                if not state["reaped"]:  # interrupted (Ctrl-C, SIGTERM): do not leave it running
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                        os.waitpid(p.pid, 0)
                    except (ProcessLookupError, ChildProcessError):
                        pass
                    p.returncode = -9
            p.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            if state["timed_out"]:
                stderr += f"\n[bench] killed after the {self.timeout:g} s timeout"
            return p.returncode, stdout, stderr, ru.ru_utime + ru.ru_stime

    def run(self, client: str, mode: str, n: int, rate: float | None = None,
            record_load: bool = True) -> tuple[dict, float]:
        cmd = self.command(client, mode, n, rate)
        load1 = os.getloadavg()[0]
        swift = swift_compiler_procs()
        if record_load:
            self.loads.append(load1)
            self.max_swift = max(self.max_swift, swift)
        if swift:
            log(f"WARNING: {swift} swift-frontend process(es) running (load1 {load1:.2f}); "
                f"figures will be noisy")
        rc, stdout, stderr, cpu = self.execute(cmd)

        def fail(why: str) -> BenchError:
            return BenchError(f"{why}\ncommand: {shlex.join(cmd)}\nexit code: {rc}\n"
                              f"stdout:\n{stdout.rstrip()}\nstderr:\n{stderr.rstrip()}")

        if rc != 0:
            raise fail(f"{client} {mode} failed")
        lines = [ln for ln in stdout.splitlines() if ln.strip().startswith("{")]
        if not lines:
            raise fail(f"{client} {mode}: no JSON line on stdout")
        try:
            data = json.loads(lines[-1])
        except json.JSONDecodeError as e:
            raise fail(f"{client} {mode}: bad JSON ({e})")
        if not isinstance(data, dict):
            raise fail(f"{client} {mode}: JSON line is not an object")
        required = {
            "pub": ["n", "secs", "rate", "xlen"],
            "consume": ["n", "secs", "rate", "pending_after"],
            "e2e": ["n", "offered_rate", "pub_rate", "e2e_rate", "p50_us", "p90_us", "p99_us",
                    "p999_us", "max_us"],
        }[mode]
        missing = [k for k in required if not isinstance(data.get(k), (int, float))]
        if data.get("mode") != mode or missing:
            raise fail(f"{client} {mode}: unexpected output (mode {data.get('mode')!r}, "
                       f"missing/non-numeric {missing})")
        if data["n"] != n:
            raise fail(f"{client} {mode}: handled n={data['n']}, expected {n}")
        if mode == "pub" and data["xlen"] != n:
            raise fail(f"{client} pub: xlen={data['xlen']}, expected {n}")
        if mode == "consume" and data["pending_after"] != 0:
            raise fail(f"{client} consume: pending_after={data['pending_after']}, expected 0")
        if mode == "e2e" and data.get("bad", 0):
            raise fail(f"{client} e2e: {data['bad']} events without a send timestamp")
        rate_key = "e2e_rate" if mode == "e2e" else "rate"
        if data[rate_key] <= 0:
            raise fail(f"{client} {mode}: non-positive {rate_key}")
        return data, cpu

    def del_streams(self) -> None:
        self.redis.cli("DEL", *STREAM_KEYS.values())


def run_group(runner: Runner, group: str, client: str, n: int, lat_n: int) -> dict[str, float]:
    runner.del_streams()
    if group == "publish":
        d, cpu = runner.run(client, "pub", n)
        return {"publish": d["rate"], "cpu_publish": cpu * 1e6 / n}
    if group == "consume":
        runner.run(client, "pub", n, record_load=False)  # prefill, not timed
        d, cpu = runner.run(client, "consume", n)
        return {"consume": d["rate"], "cpu_consume": cpu * 1e6 / n}
    if group == "e2e":
        d, cpu = runner.run(client, "e2e", n, rate=0)
        return {"e2e": d["e2e_rate"], "cpu_e2e": cpu * 1e6 / n}
    if group == "latency":
        d, _ = runner.run(client, "e2e", lat_n, rate=10000)
        return {"latency_p50": d["p50_us"], "latency_p99": d["p99_us"], "latency_p999": d["p999_us"]}
    raise ValueError(group)


# --------------------------------------------------------------------------- reporting

def fmt(name: str, v: float | None) -> str:
    if v is None:
        return "—"
    unit = UNITS[name]
    if unit == "events/s":
        return f"{v:,.0f}"
    if unit == "us":
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def rnd(name: str, v: float) -> float:
    return round(v, {"events/s": 1, "us": 1, "us/event": 3}[UNITS[name]])


def summarize(values: dict[str, dict[str, list[float]]], runs: int) -> list[dict]:
    out = []
    for name in ORDER:
        if name not in values:
            continue
        o, r = values[name]["ours"], values[name]["hb"]
        mo, mr = statistics.median(o), statistics.median(r)
        b = values[name].get("before") or []
        extra = {}
        if b:
            mb = statistics.median(b)
            extra = {"before": rnd(name, mb), "before_ratio": round(mb / mr, 3) if mr else None}
        out.append({
            **extra,
            "name": name,
            "ours": rnd(name, mo),
            "reference": rnd(name, mr),
            "ratio": round(mo / mr, 3) if mr else None,
            "unit": UNITS[name],
            "runs": runs,
            "ours_min": rnd(name, min(o)), "ours_max": rnd(name, max(o)),
            "reference_min": rnd(name, min(r)), "reference_max": rnd(name, max(r)),
        })
    return out


def first_line(cmd: list[str]) -> str:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    for ln in (r.stdout + "\n" + r.stderr).splitlines():
        if ln.strip():
            return ln.strip()
    return "unavailable"


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    return {
        "nproc": str(nproc),
        "cpu": cpu,
        "kernel": f"{platform.system()} {platform.release()}",
        "redis": first_line(["redis-server", "--version"]),
        "hiredis": first_line(["pkg-config", "--modversion", "hiredis"]),
        "swift": first_line(["swift", "--version"]),
        "gcc": first_line(["gcc", "--version"]),
    }


def render_markdown(summary: list[dict], args, command: str, loads: list[float], max_swift: int,
                    machine: dict[str, str], started: datetime.datetime) -> str:
    L: list[str] = []
    L.append(f"Generated by `{command}` on {started.strftime('%Y-%m-%d %H:%M UTC')}.")
    L.append("")
    L.append(f"- Machine: {machine['nproc']} CPUs ({machine['cpu']}), kernel {machine['kernel']}")
    L.append(f"- redis-server: {machine['redis']} (private instance, unix socket, "
             f"`--save '' --appendonly no`)")
    L.append(f"- hiredis {machine['hiredis']}; reference client `hb.c` built with "
             f"`gcc -O2` ({machine['gcc']})")
    L.append(f"- Swift: {machine['swift']}; ours = `{machine['ours']}`")
    L.append(f"- N = {args.n:,} events (publish, consume, e2e), L = {args.latency_n:,} events "
             f"(latency, offered 10,000 events/s), R = {args.runs} rounds, interleaved "
             f"(hb first on even rounds, ours first on odd rounds)")
    if loads:
        L.append(f"- 1-minute load average before each run: median {statistics.median(loads):.2f} "
                 f"(min {min(loads):.2f}, max {max(loads):.2f}); swift-frontend processes seen: "
                 f"max {max_swift}")
    L.append("- hb runs consume and e2e with `-A multi` (one XACK per batch); client CPU is the "
             "client process's user+sys time divided by the events it handled (consume excludes "
             "the prefill)")
    L.append("")
    L.append("Ratio = ours / hb. Throughput: higher is better; latency and CPU: lower is better.")
    L.append("")
    L.append("| measurement | ours (median) | hiredis hb (median) | ratio ours/hb | target | met |")
    L.append("|---|---:|---:|---:|---|---|")
    for s in summary:
        name = s["name"]
        tgt = TARGETS.get(name)
        ratio = s["ratio"]
        if tgt is None:
            target, met = "—", "—"
        else:
            op, thr = tgt
            target = f"{'≥' if op == '>=' else '≤'} {thr}"
            if ratio is None:
                met = "—"
            else:
                met = "yes" if (ratio >= thr if op == ">=" else ratio <= thr) else "**no**"
        rs = "—" if ratio is None else f"{ratio:.3f}"
        L.append(f"| {DESCRIPTIONS[name]} | {fmt(name, s['ours'])} | {fmt(name, s['reference'])} "
                 f"| {rs} | {target} | {met} |")
    L.append("")
    L.append(f"All runs, min / median / max over {args.runs} rounds:")
    L.append("")
    L.append("| measurement | ours min / median / max | hiredis hb min / median / max |")
    L.append("|---|---:|---:|")
    for s in summary:
        n = s["name"]
        L.append(f"| {DESCRIPTIONS[n]} | {fmt(n, s['ours_min'])} / {fmt(n, s['ours'])} / "
                 f"{fmt(n, s['ours_max'])} | {fmt(n, s['reference_min'])} / "
                 f"{fmt(n, s['reference'])} / {fmt(n, s['reference_max'])} |")
    if any("before" in s for s in summary):
        L.append("")
        L.append(f"Before/after, in the same interleaved rounds: `before` is streams-bench built from "
                 f"{args.baseline_label}. Change = (ratio after − ratio before) / ratio before; for "
                 f"throughput negative is a cost, for latency and CPU positive is a cost.")
        L.append("")
        L.append("| measurement | before (median) | ratio before/hb | after (median) | ratio after/hb | change |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for s in summary:
            if "before" not in s:
                continue
            n = s["name"]
            rb, ra = s["before_ratio"], s["ratio"]
            change = "—" if not rb or ra is None else f"{(ra - rb) / rb * 100:+.1f}%"
            L.append(f"| {DESCRIPTIONS[n]} | {fmt(n, s['before'])} | {rb:.3f} | {fmt(n, s['ours'])} "
                     f"| {ra:.3f} | {change} |")
    return "\n".join(L)


def write_markdown(path: Path, generated: str) -> None:
    block = f"{BEGIN}\n{generated}\n{END}"
    if path.exists():
        text = path.read_text()
        b = text.find(BEGIN)
        e = text.find(END, b + len(BEGIN)) if b >= 0 else -1
        if b >= 0 and e >= 0:
            text = text[:b] + block + text[e + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = ("# Benchmarks\n\n"
                "streams-bench (this package) against the hiredis C reference client, "
                "regenerated by `scripts/bench.sh`.\n\n" + block + "\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- main

def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="scripts/bench.sh",
        description="Benchmark streams-bench against the hiredis C reference client (hb) on a "
                    "private redis-server. Prints one JSON line per measurement on stdout.")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds (default 5, min 3)")
    ap.add_argument("--n", type=int, default=200000,
                    help="events per publish/consume/e2e run (default 200000)")
    ap.add_argument("--latency-n", type=int, default=50000,
                    help="events per latency run at 10k events/s (default 50000)")
    ap.add_argument("--only", default=",".join(GROUPS),
                    help="comma-separated measurements to run: publish,consume,e2e,latency "
                         "(default all)")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument("--output", default=None,
                    help="markdown file to update (default BENCHMARKS.md at the repo root)")
    ap.add_argument("--anchors", default=None,
                    help="directory holding hb.c (default ../shared/anchors from the repo root)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="kill a client run after this many seconds (default 600)")
    ap.add_argument("--ours", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--baseline", default=None,
                    help="another streams-bench binary (e.g. built from an earlier commit) to run "
                         "in the same rounds, reported as before/after")
    ap.add_argument("--baseline-label", default="an earlier commit", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.runs < 3:
        ap.error("--runs must be at least 3")
    if a.n < 1 or a.latency_n < 1:
        ap.error("--n and --latency-n must be positive")
    groups = [g.strip() for g in a.only.split(",") if g.strip()]
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        ap.error(f"--only: unknown measurement(s) {bad}; choose from {','.join(GROUPS)}")
    a.groups = [g for g in GROUPS if g in groups]
    return a


def _on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    command = os.environ.get("BENCH_COMMAND") or " ".join(
        [os.environ.get("BENCH_ENTRY", "python3 scripts/bench.py"), *(shlex.quote(x) for x in argv)]).strip()
    anchors = Path(args.anchors) if args.anchors else REPO.parent / "shared" / "anchors"
    ours = Path(args.ours) if args.ours else REPO / ".build" / "release" / "streams-bench"
    if not (ours.is_file() and os.access(ours, os.X_OK)):
        raise BenchError(f"{ours} not found or not executable; build it with "
                         f"`swift build -c release --product streams-bench` (scripts/bench.sh does)")
    output = Path(args.output) if args.output else REPO / "BENCHMARKS.md"

    hb = build_hb(anchors)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    redis = RedisServer()
    try:
        redis.start()
        log(f"redis-server pid {redis.proc.pid} on {redis.sock}")
        binaries = {"hb": hb.resolve(), "ours": ours.resolve()}
        clients = CLIENTS
        if args.baseline:
            binaries["before"] = Path(args.baseline).resolve()
            clients = ("hb", "before", "ours")
        runner = Runner(redis, binaries, args.timeout)
        metrics = [m for g in args.groups for m in GROUP_METRICS[g]]
        values = {m: {c: [] for c in clients} for m in metrics}
        for r in range(args.runs):
            order = clients if r % 2 == 0 else tuple(reversed(clients))
            for g in args.groups:
                for client in order:
                    res = run_group(runner, g, client, args.n, args.latency_n)
                    for k, v in res.items():
                        values[k][client].append(float(v))
                    shown = "  ".join(f"{k}={fmt(k, v)}" for k, v in res.items())
                    log(f"[round {r + 1}/{args.runs}] {g:<8} {client:<6} {shown}  "
                        f"load1={runner.loads[-1]:.2f}")
        runner.del_streams()
    finally:
        redis.stop()

    summary = summarize(values, args.runs)
    for s in summary:
        print(json.dumps(s), flush=True)
    if not args.no_write:
        machine = machine_info()
        try:
            machine["ours"] = str(ours.resolve().relative_to(REPO))
        except ValueError:
            machine["ours"] = str(ours)
        md = render_markdown(summary, args, command, runner.loads, runner.max_swift, machine,
                             started)
        write_markdown(output, md)
        log(f"wrote {output}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as e:
        log(f"bench: error: {e}")
        sys.exit(1)
    except KeyboardInterrupt:
        log("bench: interrupted")
        sys.exit(130)
