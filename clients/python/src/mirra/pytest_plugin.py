"""pytest plugin: one Mirra session per test run (per xdist worker), reset to
its seed before each test that asks for the `mirra` fixture.

Fixtures:
  mirra_session  session-scoped `mirra.Session`; its variables (`mirra env`)
                 are in os.environ while it lives; ended after the run
                 (persistent ones are kept).
  mirra          function-scoped: the same session, reset before the test
                 (one request) and its variables set for the test.
  mirra_stripe / mirra_resend / mirra_twilio
                 the official SDK's client pointed at the session.

Marker: @pytest.mark.mirra(seed="stripe:default", seeds=[…], seed_files={…},
mirrors=[…], reset=False) on a test, class or module: reset those mirrors to
that seed for this test (the next test gets the starting seeds back), or
skip the reset. Options: --mirra-mirrors, --mirra-seed, --mirra-seed-file,
--mirra-timeout, --mirra-no-reset, and the ini keys of the same names
(mirra_mirrors, mirra_seeds, mirra_seed_files, mirra_timeout, mirra_reset,
mirra_persistent, mirra_name).
"""

import os

import pytest

from .control import MirraError
from .server import _truthy, find_server, start_server
from .session import Session

_WORKER_SERVER = "mirra_server"


def pytest_addoption(parser):
    group = parser.getgroup("mirra", "Mirra mirrors (Stripe, Resend, Twilio)")
    group.addoption("--mirra-mirrors", help="mirrors of the run's session, e.g. stripe,resend")
    group.addoption("--mirra-seed", action="append", default=[], help="mirror:seed (repeatable)")
    group.addoption("--mirra-seed-file", action="append", default=[],
                    help="mirror=path.json (repeatable)")
    group.addoption("--mirra-timeout", help="session timeout (backstop for a killed run), e.g. 30m")
    group.addoption("--mirra-no-reset", action="store_true", default=None,
                    help="do not reset before each test using the `mirra` fixture")
    parser.addini("mirra_mirrors", "mirrors of the run's session", default="stripe")
    parser.addini("mirra_seeds", "mirror:seed lines", type="linelist", default=[])
    parser.addini("mirra_seed_files", "mirror=path.json lines", type="linelist", default=[])
    parser.addini("mirra_timeout", "session timeout", default="30m")
    parser.addini("mirra_reset", "reset before each test", type="bool", default=True)
    parser.addini("mirra_persistent", "use a persistent session (kept after the run)",
                  type="bool", default=False)
    parser.addini("mirra_name", "the session's name (persistent sessions are found by it)",
                  default="")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "mirra(seed=None, seeds=None, seed_files=None, mirrors=None, reset=True): "
        "the Mirra state this test starts from",
    )
    # Under xdist with MIRRA_AUTOSTART, the controller starts the one server
    # every worker uses (each worker still has its own session).
    if (not hasattr(config, "workerinput") and _xdist_active(config)
            and _truthy(os.environ.get("MIRRA_AUTOSTART", ""))):
        control = find_server()
        config._mirra_server = (control.url, control.token)


def _xdist_active(config):
    return bool(getattr(config.option, "numprocesses", None)) or bool(
        getattr(config.option, "dist", "no") not in (None, "no"))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    server = getattr(node.config, "_mirra_server", None)
    if server is not None:
        node.workerinput[_WORKER_SERVER] = server


def _control(config):
    server = getattr(config, "workerinput", {}).get(_WORKER_SERVER)
    if server is not None:
        os.environ.setdefault("MIRRA_API_URL", server[0])
        os.environ.setdefault("MIRRA_TOKEN", server[1])
    return find_server()


def _split(value):
    return [m for m in value.replace(",", " ").split() if m]


def _settings(config):
    opt = config.option
    mirrors = _split(opt.mirra_mirrors or config.getini("mirra_mirrors"))
    seeds = opt.mirra_seed or config.getini("mirra_seeds")
    files = opt.mirra_seed_file or config.getini("mirra_seed_files")
    timeout = opt.mirra_timeout or config.getini("mirra_timeout")
    reset = not opt.mirra_no_reset and config.getini("mirra_reset")
    return mirrors, seeds, files, timeout, reset


@pytest.fixture(scope="session")
def mirra_session(request):
    config = request.config
    mirrors, seeds, files, timeout, _ = _settings(config)
    control = _control(config)
    persistent = config.getini("mirra_persistent")
    name = config.getini("mirra_name") or None
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if name and worker:
        name = f"{name}-{worker}"  # names are unique, and workers never share state
    session = None
    if persistent and name:
        try:
            session = Session.attach(control, name)
        except MirraError as e:
            if e.status not in (404, 410):
                raise
    if session is None:
        session = Session.create(control, mirrors, seeds, files, timeout=timeout,
                                 persistent=persistent, name=name)
    saved = {k: os.environ.get(k) for k in session.env}
    os.environ.update(session.env)
    try:
        yield session
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if not session.persistent:
            session.end()
        control.close()


@pytest.fixture
def mirra(mirra_session, request, monkeypatch):
    marker = request.node.get_closest_marker("mirra")
    opts = dict(marker.kwargs) if marker else {}
    unknown = set(opts) - {"seed", "seeds", "seed_files", "mirrors", "reset"}
    if unknown:
        raise pytest.UsageError(f"@pytest.mark.mirra: unknown argument(s) {sorted(unknown)}")
    seeds = opts.get("seeds") or opts.get("seed")
    files = opts.get("seed_files")
    mirrors = opts.get("mirrors")
    reset = opts.get("reset", _settings(request.config)[4])
    if reset or seeds or files:
        mirra_session.reset_to_start(mirrors, seeds, files)
    for k, v in mirra_session.env.items():
        monkeypatch.setenv(k, v)
    return mirra_session


@pytest.fixture
def mirra_stripe(mirra):
    return mirra.stripe()


@pytest.fixture
def mirra_resend(mirra):
    return mirra.resend()


@pytest.fixture
def mirra_twilio(mirra):
    return mirra.twilio()


__all__ = ["mirra", "mirra_session", "mirra_stripe", "mirra_resend", "mirra_twilio",
           "start_server"]
