#!/usr/bin/env python3
"""A minimal Redis Cluster stream writer for scripts/cluster-partition.sh (standard library only).

    resp_writer.py write --name NAME --seeds H:P[,H:P...] --key KEY --out FILE
                         [--mode plain|wait] [--interval-ms 5] [--timeout-ms 500]
                         [--wait-timeout-ms 1000] [--max-redirects 5]
    resp_writer.py slot-owner --node H:P --key KEY
    resp_writer.py dump --node H:P --key KEY --out FILE

`write` sends one `XADD KEY * writer NAME seq N` at a time, one every --interval-ms (a write that
took longer delays the next one, nothing is sent in a burst), to the master of the key's slot,
until SIGTERM or SIGINT. With --mode wait the XADD is followed, on the same connection and in
the same round trip, by `WAIT 1 <wait-timeout-ms>`, and the write counts as acknowledged only if
WAIT returned >= 1 (as the framework's PUBLISH_WAIT_REPLICAS=1). `MOVED` is followed (at most
--max-redirects times per write, then the write is a "MOVED loop" error); after a timeout or a
connection error the connection is closed and the slot map is read again (`CLUSTER SLOTS`) from
the first seed that answers within 200 ms, before the next write. Each write is a JSON line on
--out: seq, sent and done (wall clock, ms), node, outcome (ack, error, timeout, conn), id (the
entry id, also for a write whose WAIT returned 0), error (text), wait (WAIT's reply), redirects.

`slot-owner` prints the key's slot as the node computes it (CLUSTER KEYSLOT, checked against this
file's CRC16) and the master serving it in the node's CLUSTER SLOTS: "<slot> <host>:<port>".

`dump` reads the whole stream (XRANGE in pages) from one node and writes one JSON line per entry:
id, writer, seq.
"""
import argparse
import json
import signal
import socket
import sys
import time

CRC16_TABLE = []
for byte in range(256):
    crc = byte << 8
    for _ in range(8):
        crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
    CRC16_TABLE.append(crc & 0xFFFF)


def key_slot(key: bytes) -> int:
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    crc = 0
    for byte in key:
        crc = ((crc << 8) & 0xFFFF) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc % 16384


class RespError(Exception):
    """An error reply (-ERR ...): a value, not a failure of the connection."""


class Timeout(Exception):
    pass


def now_ms() -> float:
    return time.time() * 1000.0


def encode(*args) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Connection:
    def __init__(self, address, timeout_s):
        host, port = address.rsplit(":", 1)
        self.address = address
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes, deadline_ms: float):
        self._timeout(deadline_ms)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise Timeout()

    def _timeout(self, deadline_ms):
        remaining = (deadline_ms - now_ms()) / 1000.0
        if remaining <= 0:
            raise Timeout()
        self.sock.settimeout(remaining)

    def _fill(self, deadline_ms):
        self._timeout(deadline_ms)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buffer += chunk

    def _line(self, deadline_ms):
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
                return line
            self._fill(deadline_ms)

    def read(self, deadline_ms):
        """One reply; an error reply is returned as a RespError instance (not raised)."""
        line = self._line(deadline_ms)
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            if length < 0:
                return None
            while len(self.buffer) < length + 2:
                self._fill(deadline_ms)
            data, self.buffer = self.buffer[:length], self.buffer[length + 2:]
            return data
        if kind == b"*":
            count = int(rest)
            if count < 0:
                return None
            return [self.read(deadline_ms) for _ in range(count)]
        raise ConnectionError("protocol error: %r" % line[:50])


def text(value):
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class Writer:
    def __init__(self, args):
        self.args = args
        self.seeds = [s for s in args.seeds.split(",") if s]
        self.key = args.key.encode()
        self.slot = key_slot(self.key)
        self.target = self.seeds[0]
        self.connections = {}
        self.stale = True
        self.stopping = False

    def connection(self, address, deadline_ms):
        conn = self.connections.get(address)
        if conn is None:
            remaining = (deadline_ms - now_ms()) / 1000.0
            if remaining <= 0:
                raise Timeout()
            try:
                conn = Connection(address, remaining)
            except socket.timeout:
                raise Timeout()
            self.connections[address] = conn
        return conn

    def drop(self, address):
        conn = self.connections.pop(address, None)
        if conn is not None:
            conn.close()

    def refresh(self):
        """The slot's master from CLUSTER SLOTS of the first seed that answers (a new connection)."""
        for seed in self.seeds:
            conn = None
            try:
                deadline = now_ms() + 200
                conn = Connection(seed, 0.2)
                conn.send(encode("CLUSTER", "SLOTS"), deadline)
                reply = conn.read(deadline)
                if isinstance(reply, list):
                    for entry in reply:
                        if entry[0] <= self.slot <= entry[1]:
                            master = entry[2]
                            self.target = "%s:%d" % (text(master[0]), master[1])
                            self.stale = False
                            return
            except (OSError, Timeout, ConnectionError, ValueError, IndexError):
                pass
            finally:
                if conn is not None:
                    conn.close()

    def write(self, seq):
        args = self.args
        record = {"seq": seq, "sent": round(now_ms(), 3), "redirects": 0}
        deadline = now_ms() + args.timeout_ms + (args.wait_timeout_ms if args.mode == "wait" else 0)
        payload = encode("XADD", self.key, "*", "writer", args.name, "seq", seq)
        if args.mode == "wait":
            payload += encode("WAIT", 1, args.wait_timeout_ms)
        while True:
            address = self.target
            record["node"] = address
            try:
                conn = self.connection(address, deadline)
                conn.send(payload, deadline)
                reply = conn.read(deadline)
                wait = conn.read(deadline) if args.mode == "wait" else None
            except Timeout:
                self.drop(address)
                self.stale = True
                record.update(outcome="timeout")
                break
            except (OSError, ConnectionError) as error:
                self.drop(address)
                self.stale = True
                record.update(outcome="conn", error=str(error)[:120])
                break
            if isinstance(reply, RespError) and str(reply).startswith("MOVED "):
                record["redirects"] += 1
                self.target = str(reply).split()[2]
                if record["redirects"] > args.max_redirects:
                    record.update(outcome="error", error="MOVED loop: " + str(reply))
                    break
                continue
            if isinstance(reply, RespError):
                record.update(outcome="error", error=str(reply)[:120])
                break
            record["id"] = text(reply)
            if args.mode == "wait":
                record["wait"] = wait if isinstance(wait, int) else str(wait)
                if isinstance(wait, int) and wait >= 1:
                    record["outcome"] = "ack"
                else:
                    record.update(outcome="error", error="WAIT %s" % record["wait"])
            else:
                record["outcome"] = "ack"
            break
        record["done"] = round(now_ms(), 3)
        return record

    def run(self):
        out = open(self.args.out, "w", buffering=1)
        interval = self.args.interval_ms
        seq = 0
        next_at = now_ms()
        while not self.stopping:
            if self.stale:
                self.refresh()
            wait_s = (next_at - now_ms()) / 1000.0
            if wait_s > 0:
                time.sleep(wait_s)
            if self.stopping:
                break
            seq += 1
            record = self.write(seq)
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            next_at = max(next_at + interval, now_ms())
        out.close()


def dump(args):
    deadline = now_ms() + 30000
    conn = Connection(args.node, 5)
    start = "-"
    count = 0
    with open(args.out, "w") as out:
        while True:
            conn.send(encode("XRANGE", args.key, start, "+", "COUNT", 1000), deadline)
            reply = conn.read(deadline)
            if isinstance(reply, RespError):
                sys.exit("dump: %s" % reply)
            for entry_id, fields in reply:
                values = dict(zip(fields[0::2], fields[1::2]))
                out.write(json.dumps({"id": text(entry_id), "writer": text(values.get(b"writer")),
                                      "seq": int(values.get(b"seq", b"0"))}) + "\n")
                count += 1
            if len(reply) < 1000:
                break
            start = "(" + text(reply[-1][0])
    conn.close()
    print(count)


def slot_owner(args):
    deadline = now_ms() + 5000
    conn = Connection(args.node, 5)
    conn.send(encode("CLUSTER", "KEYSLOT", args.key) + encode("CLUSTER", "SLOTS"), deadline)
    slot, slots = conn.read(deadline), conn.read(deadline)
    conn.close()
    if slot != key_slot(args.key.encode()):
        sys.exit("slot-owner: CLUSTER KEYSLOT says %r, CRC16 says %d" % (slot, key_slot(args.key.encode())))
    for entry in slots:
        if entry[0] <= slot <= entry[1]:
            print("%d %s:%d" % (slot, text(entry[2][0]), entry[2][1]))
            return
    sys.exit("slot-owner: slot %d is not served" % slot)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write")
    write.add_argument("--name", required=True)
    write.add_argument("--seeds", required=True)
    write.add_argument("--key", required=True)
    write.add_argument("--out", required=True)
    write.add_argument("--mode", choices=["plain", "wait"], default="plain")
    write.add_argument("--interval-ms", type=float, default=5)
    write.add_argument("--timeout-ms", type=float, default=500)
    write.add_argument("--wait-timeout-ms", type=int, default=1000)
    write.add_argument("--max-redirects", type=int, default=5)
    owner = sub.add_parser("slot-owner")
    owner.add_argument("--node", required=True)
    owner.add_argument("--key", required=True)
    read = sub.add_parser("dump")
    read.add_argument("--node", required=True)
    read.add_argument("--key", required=True)
    read.add_argument("--out", required=True)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args)
        return
    if args.command == "slot-owner":
        slot_owner(args)
        return
    writer = Writer(args)

    def stop(*_):
        writer.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    writer.run()


if __name__ == "__main__":
    main()
