#!/usr/bin/env python3
"""Slow-header (slowloris) and fd-exhaustion probe for `mirra serve`.

Opens N connections that each send half a request head and then nothing, keeps
watching them for --window seconds, and meanwhile sends ordinary requests
(GET /v1/usage, a fresh connection each, 5 s timeout) one after another.
Prints how many slow connections the server still held at the end, how long
it held the ones it closed, and how many ordinary requests were served.

    infra/bench/slow-headers.py --url http://127.0.0.1:4400 --token T -n 3000

For the fd-exhaustion case, start the server with a low open-files limit, e.g.
`(ulimit -n 1024; mirra serve …)`, and open more slow connections than that.
Needs only the Python standard library; raise this shell's `ulimit -n` above N.
"""

import argparse
import selectors
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request


def ordinary_requests(url, token, stop, results):
    while not stop.is_set():
        t0 = time.monotonic()
        req = urllib.request.Request(url + "/v1/usage", headers={"Authorization": "Bearer " + token})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
                ok = r.status == 200
        except (urllib.error.URLError, OSError):
            ok = False
        results.append((ok, time.monotonic() - t0))
        if not ok:
            time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:4400")
    ap.add_argument("--token", required=True)
    ap.add_argument("-n", "--connections", type=int, default=3000)
    ap.add_argument("--window", type=float, default=40.0, help="seconds to watch")
    args = ap.parse_args()
    host, port = args.url.removeprefix("http://").rstrip("/").split(":")

    stop = threading.Event()
    results = []
    worker = threading.Thread(target=ordinary_requests, args=(args.url, args.token, stop, results))

    sel = selectors.DefaultSelector()
    opened, refused = {}, 0
    start = time.monotonic()
    failed_in_a_row = 0
    for i in range(args.connections):
        if failed_in_a_row >= 20:  # the listen backlog is full: stop trying
            refused += args.connections - i
            break
        s = socket.socket()
        s.settimeout(0.5)
        try:
            s.connect((host, int(port)))
            s.sendall(b"GET /v1/usage HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            failed_in_a_row = 0
        except OSError:
            refused += 1
            failed_in_a_row += 1
            s.close()
            continue
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        opened[i] = time.monotonic()
    open_secs = time.monotonic() - start
    worker.start()

    held_for = []
    deadline = start + args.window
    while time.monotonic() < deadline:
        if not opened:
            time.sleep(0.2)
            continue
        for key, _ in sel.select(timeout=0.2):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if not data:  # closed (or reset) by the server
                held_for.append(time.monotonic() - opened.pop(key.data))
                sel.unregister(key.fileobj)
                key.fileobj.close()
    stop.set()
    worker.join()

    ok = [lat for good, lat in results if good]
    print(f"slow connections: {args.connections} tried, {len(opened) + len(held_for)} opened "
          f"in {open_secs:.1f} s, {refused} not connected (connect failed or backlog full)")
    print(f"after {args.window:.0f} s: {len(opened)} still held by the server, {len(held_for)} closed"
          + (f" (held {statistics.median(held_for):.1f} s median, {max(held_for):.1f} s max)"
             if held_for else ""))
    print(f"ordinary requests meanwhile: {len(ok)} served, {len(results) - len(ok)} failed or timed out"
          + (f" (latency median {statistics.median(ok) * 1000:.0f} ms, max {max(ok) * 1000:.0f} ms)"
             if ok else ""))


if __name__ == "__main__":
    main()
