#!/usr/bin/env python3
"""POST /todos one request at a time, every --interval-ms, for --duration s, on one keep-alive
connection (reopened after an error), and write one line per request: "<unix ms sent> <status>
<ms to the answer>" (status 0: no answer within --timeout s, or the connection failed). Used by
scripts/cluster-failover.sh to see when writes stop and start being accepted."""
import argparse
import http.client
import json
import sys
import time
from urllib.parse import urlparse


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="http://host:port/todos")
    parser.add_argument("--interval-ms", type=float, default=5)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--timeout", type=float, default=30)
    parser.add_argument("--out", required=True)
    options = parser.parse_args()
    url = urlparse(options.url)
    connection = None
    end = time.time() + options.duration
    number = 0
    with open(options.out, "w") as out:
        while time.time() < end:
            started = time.time()
            number += 1
            body = json.dumps({"user_id": f"probe-{number % 97}", "title": f"probe {number}"})
            status = 0
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=options.timeout)
                connection.request("POST", url.path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                if connection is not None:
                    connection.close()
                connection = None
            out.write(f"{int(started * 1000)} {status} {int((time.time() - started) * 1000)}\n")
            pause = options.interval_ms / 1000 - (time.time() - started)
            if pause > 0:
                time.sleep(pause)
    return 0


if __name__ == "__main__":
    sys.exit(main())
