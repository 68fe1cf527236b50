#!/usr/bin/env python3
"""Bookings through the gateway, counted by HTTP status, with an event in the middle.

    compose-load.py --port 8080 --requests 2000 --rate 100 --at 200 -- CMD...

Sends --requests bookings one after another (at most --rate a second), each on a fresh
connection; after --at of them it runs CMD (say `docker stop consul-agent1`) in the background
and goes on. Prints one JSON line: {"counts": {status: n}, "failures": [...], "event_rc": rc,
"seconds": s, "slowest_ms": the slowest booking}. Status 0 is a request that got no answer. Used by deploy/compose-test.sh.
"""
import argparse
import http.client
import json
import subprocess
import sys
import time

BOOKING = b'{"inDate":"2015-04-09","outDate":"2015-04-10"}'


def book(port, timeout):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/hotel/rates", BOOKING,
                     {"Authorization": "Bearer VALID_TOKEN", "Content-Type": "application/json"})
        res = conn.getresponse()
        return res.status, res.read()[:200].decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)
    finally:
        conn.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--requests", type=int, default=2000)
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--at", type=int, default=200)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("event", nargs="*")
    a = p.parse_args()
    counts, failures, slowest = {}, [], 0.0
    event = None
    start = time.monotonic()
    for i in range(a.requests):
        if i == a.at and a.event:
            event = subprocess.Popen(a.event, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t = time.monotonic()
        status, body = book(a.port, a.timeout)
        slowest = max(slowest, time.monotonic() - t)
        counts[status] = counts.get(status, 0) + 1
        if status != 200 and len(failures) < 5:
            failures.append(f"#{i} {status} {body}")
        pause = 1.0 / a.rate - (time.monotonic() - t)
        if pause > 0:
            time.sleep(pause)
    rc = event.wait() if event else None
    print(json.dumps({"counts": counts, "failures": failures, "event_rc": rc,
                      "seconds": round(time.monotonic() - start, 1),
                      "slowest_ms": round(slowest * 1000)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
