"""Drives a running `mirra serve` over HTTP and prints its RSS (VmRSS from
/proc/PID/status) at each step. Called by infra/bench/rss; standard library only.

  rss.py scale  URL TOKEN PID   # 0 / 1,000 / 10,000 idle, then 1,000 / 10,000 touched, then all again
  rss.py rounds URL TOKEN PID   # ROUNDS (default 5) rounds of create 1,000 / touch each / delete each

A touch is one Stripe write (create a customer). Each figure is read after a
pause (SETTLE seconds, default 1) so work in flight has finished; the figures
after deleting read after SETTLE_END seconds (default 12), the time an
allocator that returns memory on a decay timer (jemalloc: 10 s) needs.
"""

import http.client
import json
import os
import sys
import time
import urllib.parse

SETTLE = float(os.environ.get("SETTLE", "1"))
SETTLE_END = float(os.environ.get("SETTLE_END", "12"))


class Client:
    """One keep-alive connection to the server."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.token = token

    def call(self, method, path, body=None, auth=None, form=False):
        headers = {"Authorization": f"Bearer {auth or self.token}"}
        if body is not None:
            if form:
                body = urllib.parse.urlencode(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status >= 300:
            sys.exit(f"{method} {path}: {resp.status} {data[:300]!r}")
        return json.loads(data) if data else None

    def create(self):
        s = self.call("POST", "/v1/sessions", {"mirrors": ["stripe"]})
        stripe = s["mirrors"]["stripe"]
        return s["id"], stripe["credentials"]["secret_key"]

    def touch(self, session):
        sid, key = session
        self.call(
            "POST",
            f"/m/{sid}/stripe/v1/customers",
            {"email": "rss@example.com", "name": "RSS Bench"},
            auth=key,
            form=True,
        )

    def delete(self, session):
        self.call("DELETE", f"/v1/sessions/{session[0]}")


def status_mb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} for pid {pid}")


ANON = {}


def report(pid, what, settle=SETTLE):
    """Prints RSS and its anonymous part (heap: what sessions cost); the rest
    is the binary's code and data pages mapped from its file, which grow as
    more code paths run and are shared and reclaimable."""
    time.sleep(settle)
    mb = status_mb(pid, "VmRSS")
    anon = status_mb(pid, "RssAnon")
    ANON[what] = anon
    print(f"{what:<44} {mb:8.1f} MB   (anonymous {anon:6.1f} MB)", flush=True)
    return mb


def scale(c, pid):
    report(pid, "0 sessions")
    sessions = [c.create() for _ in range(1000)]
    report(pid, "1,000 idle sessions")
    sessions += [c.create() for _ in range(9000)]
    report(pid, "10,000 idle sessions")
    t = time.monotonic()
    for s in sessions[:1000]:
        c.touch(s)
    report(pid, "1,000 touched (+ 9,000 idle)")
    for s in sessions[1000:]:
        c.touch(s)
    secs = time.monotonic() - t
    report(pid, "10,000 touched")
    print(f"(touching 10,000 sessions took {secs:.1f} s)")
    # Again, oldest first: the copies that no longer fit the open budget come
    # back (thawed, or rebuilt from storage when they were dropped).
    t = time.monotonic()
    for s in sessions:
        c.touch(s)
    again = time.monotonic() - t
    report(pid, "10,000 touched again")
    print(f"(touching them again took {again:.1f} s)")
    for s in sessions:
        c.delete(s)
    report(pid, "after deleting all 10,000", SETTLE_END)


def rounds(c, pid):
    start = report(pid, "start (0 sessions)")
    # One session through the whole cycle: what the first use costs once
    # (the image built and cached, statements prepared, threads' arenas).
    one = c.create()
    c.touch(one)
    c.delete(one)
    warm = report(pid, "warm (1 session created, touched, deleted)", SETTLE_END)
    peak = start
    n = int(os.environ.get("ROUNDS", "5"))
    for r in range(1, n + 1):
        sessions = [c.create() for _ in range(1000)]
        for s in sessions:
            c.touch(s)
        peak = max(peak, report(pid, f"round {r}: 1,000 created and touched"))
        for s in sessions:
            c.delete(s)
        report(pid, f"round {r}: deleted")
    end = report(pid, f"after {n} rounds", SETTLE_END)
    print(f"start {start:.1f} MB, warm {warm:.1f} MB, peak {peak:.1f} MB, after {end:.1f} MB "
          f"({(end - start) / start * 100:+.0f} % of start, {(end - warm) / warm * 100:+.0f} % of warm)")
    a0, a1 = ANON["start (0 sessions)"], ANON[f"after {n} rounds"]
    print(f"anonymous: start {a0:.1f} MB, after {a1:.1f} MB ({(a1 - a0) / a0 * 100:+.0f} %)")


def main():
    mode, url, token, pid = sys.argv[1:5]
    c = Client(url, token)
    {"scale": scale, "rounds": rounds}[mode](c, int(pid))


if __name__ == "__main__":
    main()
