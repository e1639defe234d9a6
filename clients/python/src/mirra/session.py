"""A Mirra session: its mirrors' URLs, credentials and environment, the
calls that change its state (reset, snapshot, restore, end), and clients of
the official vendor SDKs already pointed at it."""

import json
import os
import pathlib
import re

from .control import MirraError


def parse_timeout(value):
    """Seconds from an int or `90s` / `30m` / `2h` / `1d` (as `mirra up --timeout`)."""
    if value is None or isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", str(value))
    if not m:
        raise MirraError(f"timeout {value!r}: expected seconds or e.g. 90s, 30m, 2h, 1d")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def parse_seeds(seeds):
    """`{"stripe": "default"}` from a dict, or from `"stripe:default"` strings."""
    if not seeds:
        return {}
    if isinstance(seeds, dict):
        return dict(seeds)
    if isinstance(seeds, str):
        seeds = [seeds]
    out = {}
    for s in seeds:
        mirror, sep, name = s.partition(":")
        if not sep or not mirror or not name:
            raise MirraError(f"seed {s!r}: expected mirror:name, e.g. stripe:default")
        out[mirror] = name
    return out


def read_seed_files(files):
    """`{"stripe": {…}}` from `{"stripe": "path.json"}` or `"stripe=path.json"`
    strings; already-parsed seeds pass through."""
    if not files:
        return {}
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, dict):
        pairs = {}
        for f in files:
            mirror, sep, path = f.partition("=")
            if not sep:
                raise MirraError(f"seed file {f!r}: expected mirror=path.json")
            pairs[mirror] = path
        files = pairs
    out = {}
    for mirror, seed in files.items():
        if isinstance(seed, (str, os.PathLike)):
            try:
                seed = json.loads(pathlib.Path(seed).read_text())
            except (OSError, ValueError) as e:
                raise MirraError(f"seed file for {mirror}: {e}") from e
        out[mirror] = seed
    return out


class Session:
    """One session of a Mirra server (see `create` and `attach`)."""

    def __init__(self, control, data, seeds=None, seed_files=None):
        self._control = control
        self.data = data
        self.id = data["id"]
        # What the session started with, so a test that reset to another seed
        # can be followed by one that gets the start back.
        self._start_seeds = dict(seeds or {})
        self._start_files = dict(seed_files or {})
        self._changed = set()
        self._ended = False

    @classmethod
    def create(cls, control, mirrors=("stripe",), seeds=None, seed_files=None,
               timeout=None, persistent=False, name=None, rate_limit=None):
        seeds, files = parse_seeds(seeds), read_seed_files(seed_files)
        body = {"mirrors": list(mirrors), "seeds": seeds, "seed_files": files,
                "persistent": bool(persistent)}
        if name:
            body["name"] = name
        if timeout is not None and not persistent:
            body["timeout_seconds"] = parse_timeout(timeout)
        if rate_limit is not None:
            body["rate_limit"] = int(rate_limit)
        # Never resent: a retry after a lost answer could start a second session.
        data = control.request("POST", "/v1/sessions", body, retry=False)
        return cls(control, data, seeds, files)

    @classmethod
    def attach(cls, control, id_or_name):
        """An existing live session, by id or name."""
        return cls(control, control.request("GET", f"/v1/sessions/{id_or_name}"))

    @property
    def mirrors(self):
        return self.data["mirrors"]

    @property
    def persistent(self):
        return self.data.get("mode") == "persistent"

    @property
    def env(self):
        """The variables `mirra env` prints for this session, plus MIRRA_SESSION."""
        out = {"MIRRA_SESSION": self.id, "MIRRA_API_URL": self._control.url}
        for m in self.mirrors.values():
            out.update(m.get("env", {}))
        return out

    def url(self, mirror):
        return self._mirror(mirror)["url"]

    def credentials(self, mirror):
        return self._mirror(mirror)["credentials"]

    def _mirror(self, mirror):
        try:
            return self.mirrors[mirror]
        except KeyError:
            raise MirraError(f"session {self.id} has no {mirror} mirror") from None

    # -- state ---------------------------------------------------------------

    def reset(self, mirrors=None, seeds=None, seed_files=None):
        """Puts mirrors (default: all) back to their seed, or to new ones;
        one request, whatever the number of mirrors. Returns the server's report."""
        seeds, files = parse_seeds(seeds), read_seed_files(seed_files)
        body = {}
        if mirrors is not None:
            body["mirrors"] = list(mirrors)
        if seeds:
            body["seeds"] = seeds
        if files:
            body["seed_files"] = files
        report = self._control.request("POST", f"/v1/sessions/{self.id}/reset", body)
        for m in list(seeds) + list(files):
            if self._start_seeds.get(m) != seeds.get(m) or self._start_files.get(m) != files.get(m):
                self._changed.add(m)
            else:
                self._changed.discard(m)
        return report

    def reset_to_start(self, mirrors=None, seeds=None, seed_files=None):
        """A reset in which every mirror not given a seed here gets the seed the
        session started with back, even after an earlier test reset it to
        another one."""
        seeds, files = parse_seeds(seeds), read_seed_files(seed_files)
        back = self._changed if mirrors is None else self._changed & set(mirrors)
        for m in back - set(seeds) - set(files):
            if m in self._start_files:
                files[m] = self._start_files[m]
            else:
                seeds[m] = self._start_seeds.get(m, "default")
        return self.reset(mirrors, seeds, files)

    def snapshot(self, keep=False):
        """Saves the session's state; returns the snapshot's `snap_…` id."""
        return self._control.request(
            "POST", f"/v1/sessions/{self.id}/snapshots", {"keep": bool(keep)}
        )["id"]

    def restore(self, snapshot_id):
        return self._control.request(
            "POST", f"/v1/sessions/{self.id}/restore", {"snapshot": snapshot_id}
        )

    def end(self):
        """Ends the session (once); a session that already ended or expired is
        left alone."""
        if self._ended:
            return None
        self._ended = True
        try:
            return self._control.request("DELETE", f"/v1/sessions/{self.id}")
        except MirraError as e:
            if e.status in (404, 410):
                return None
            raise

    # -- official SDK clients ------------------------------------------------

    def stripe(self):
        """A `stripe.StripeClient` for this session's Stripe mirror."""
        import stripe

        return stripe.StripeClient(
            self.credentials("stripe")["secret_key"],
            base_addresses={"api": self.url("stripe")},
        )

    def resend(self):
        """The `resend` module pointed at this session (resend-python keeps its
        key and URL in module globals, so this configures them)."""
        import resend

        resend.api_key = self.credentials("resend")["api_key"]
        resend.api_url = self.url("resend")
        return resend

    def twilio(self):
        """A `twilio.rest.Client` whose every domain (api, verify, messaging)
        is this session's Twilio mirror."""
        from twilio.rest import Client

        c = self.credentials("twilio")
        client = Client(c["account_sid"], c["auth_token"])
        url = self.url("twilio")
        for domain in ("api", "verify", "messaging"):
            getattr(client, domain).base_url = url
        return client
