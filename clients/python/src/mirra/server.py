"""Finding a Mirra server, as the `mirra` CLI does, or starting one.

Order: `MIRRA_API_URL` (token from `MIRRA_TOKEN`, else the record `mirra
serve` left for that URL, else `<MIRRA_DATA_DIR or ./.mirra>/token`); else
`http://127.0.0.1:4400` with the same token lookup; else, when
`MIRRA_AUTOSTART` is set, a `mirra serve` of our own on a free port and a
temporary data dir, stopped when the process exits.
"""

import atexit
import json
import os
import pathlib
import secrets
import shutil
import subprocess
import tempfile
import threading

from .control import Control, MirraError

DEFAULT_URL = "http://127.0.0.1:4400"


def _truthy(v):
    return bool(v) and v.strip().lower() not in ("0", "false", "no", "off")


def state_dir():
    """Mirra's per-user state dir (as the CLI): `MIRRA_STATE_DIR`, else
    `$XDG_STATE_HOME/mirra`, else `~/.local/state/mirra`."""
    if os.environ.get("MIRRA_STATE_DIR"):
        return pathlib.Path(os.environ["MIRRA_STATE_DIR"])
    if os.environ.get("XDG_STATE_HOME"):
        return pathlib.Path(os.environ["XDG_STATE_HOME"]) / "mirra"
    if os.environ.get("HOME"):
        return pathlib.Path(os.environ["HOME"]) / ".local/state/mirra"
    return None


def _record_file(url):
    """The file `mirra serve` records `url`'s token in (the CLI's naming)."""
    rest = url.split("://", 1)[-1]
    stem = "".join(c if c.isascii() and (c.isalnum() or c in ".-") else "_" for c in rest)
    d = state_dir()
    return None if d is None else d / "servers" / f"{stem}.json"


def _token_for(url):
    if os.environ.get("MIRRA_TOKEN"):
        return os.environ["MIRRA_TOKEN"]
    rec = _record_file(url)
    if rec is not None and rec.is_file():
        try:
            return json.loads(rec.read_text())["token"]
        except (ValueError, KeyError, OSError):
            pass
    token_file = pathlib.Path(os.environ.get("MIRRA_DATA_DIR", ".mirra")) / "token"
    if token_file.is_file():
        return token_file.read_text().strip()
    return None


_started = None
_lock = threading.Lock()


def find_server(autostart=None):
    """A `Control` for the Mirra server this environment names, starting one
    when none answers and `autostart` (default: `MIRRA_AUTOSTART`) allows it."""
    explicit = os.environ.get("MIRRA_API_URL")
    url = (explicit or DEFAULT_URL).rstrip("/")
    token = _token_for(url)
    if token is not None:
        control = Control(url, token)
        if control.answers():
            return control
    if autostart is None:
        autostart = _truthy(os.environ.get("MIRRA_AUTOSTART", ""))
    if autostart:
        return start_server()
    why = "no token for it (set MIRRA_TOKEN)" if token is None else "nothing answered"
    raise MirraError(
        f"no Mirra server at {url}: {why}. Start one with `mirra serve`, point "
        "MIRRA_API_URL/MIRRA_TOKEN at one, or set MIRRA_AUTOSTART=1 to start one per run."
    )


def start_server():
    """Starts (once per process) `mirra serve` on a free loopback port with a
    temporary data dir and a random token; stopped at exit. The binary is
    `MIRRA_BIN`, else `mirra` on PATH."""
    global _started
    with _lock:
        if _started is not None:
            return Control(_started["url"], _started["token"])
        binary = os.environ.get("MIRRA_BIN") or shutil.which("mirra")
        if not binary:
            raise MirraError("MIRRA_AUTOSTART: no `mirra` on PATH (or set MIRRA_BIN)")
        data = tempfile.mkdtemp(prefix="mirra-autostart-")
        token = secrets.token_urlsafe(24)
        env = dict(os.environ, MIRRA_TOKEN=token, MIRRA_STATE_DIR=os.path.join(data, "state"))
        proc = subprocess.Popen(
            [binary, "serve", "--host", "127.0.0.1", "--port", "0", "--data-dir",
             os.path.join(data, "data"), "--quiet", "--stop-with-stdin"],
            env=env,
            # The server stops when this pipe closes: at our exit, or when this
            # process is killed and the kernel closes it.
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        first = proc.stdout.readline()
        url = next((w for w in first.split() if w.startswith("http://")), None)
        if url is None:
            proc.kill()
            raise MirraError(f"MIRRA_AUTOSTART: `{binary} serve` printed no URL: {first!r}")
        # Keep reading so the server never blocks on a full pipe.
        threading.Thread(target=proc.stdout.read, daemon=True).start()

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(data, ignore_errors=True)

        atexit.register(stop)
        _started = {"url": url, "token": token, "process": proc}
        return Control(url, token)
