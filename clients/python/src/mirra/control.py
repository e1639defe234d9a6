"""Mirra's control plane over HTTP, on one kept-alive connection.

The per-test path (a reset before each test) is one small request; a new TCP
connection for each would cost more than the reset itself, so a `Control`
keeps its connection open and reconnects only when the server has closed it.
"""

import http.client
import json
import time
import urllib.parse

# The server closes idle connections (`mirra serve --idle-timeout`, 60 s by
# default, and its header timeout); a connection idle for longer than this is
# replaced before use rather than found closed.
_STALE_AFTER_S = 5.0


class MirraError(Exception):
    """The control plane refused a request (`status`, `type`, `code`) or could
    not be reached (`status` 0)."""

    def __init__(self, message, status=0, type=None, code=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code


class Control:
    """A client of one Mirra server: `url` (http://host:port) and its
    workspace `token`."""

    def __init__(self, url, token, timeout=30.0):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise MirraError(f"not an http:// or https:// URL: {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname
        self._port = parsed.port or (443 if self._https else 80)
        self._timeout = timeout
        self._conn = None
        self._used_at = 0.0

    def _connection(self):
        now = time.monotonic()
        if self._conn is not None and now - self._used_at > _STALE_AFTER_S:
            self.close()
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
        self._used_at = now
        return self._conn

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, retry=True):
        """Sends one request and returns its JSON answer; raises `MirraError`
        with the server's message for a 4xx/5xx. `retry` resends once on a
        fresh connection when the kept-alive one turns out closed (only for
        requests that are safe to repeat)."""
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError) as e:
                self.close()
                if attempt == 0 and retry and not isinstance(e, TimeoutError):
                    continue
                raise MirraError(f"Mirra at {self.url} could not be reached: {e}") from e
        self._used_at = time.monotonic()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {"error": {"message": raw.decode(errors="replace")}}
        if resp.status >= 400:
            err = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise MirraError(
                f"{method} {path}: {resp.status} {err.get('message', raw[:200])}",
                status=resp.status,
                type=err.get("type"),
                code=err.get("code"),
            )
        return answer

    def answers(self):
        """True when a Mirra server answers at this URL with this token."""
        try:
            self.request("GET", "/v1/usage")
            return True
        except MirraError:
            return False
