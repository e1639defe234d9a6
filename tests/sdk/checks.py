"""What every SDK script here checks with: `check` records a passed check or
fails the script with its description, `env` reads a variable the Rust test
set, `run` prints the traceback and exits non-zero on the first failure.
Imported by the scripts beside it (their folder is on `sys.path`)."""

import os
import sys
import traceback

PASSED = []


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)
    PASSED.append(what)


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise CheckFailed(f"environment variable {name} is not set")
    return value


def run(main):
    """Runs `main`; any failure prints its traceback and exits 1."""
    try:
        main()
    except Exception:  # noqa: BLE001 - the test reads the message
        traceback.print_exc()
        sys.exit(1)
