"""What every SDK script here checks with: `check` records a passed check or
fails the script with its description, `env` reads a variable the Rust test
set, `run` prints the traceback and exits non-zero on the first failure,
`twilio_refused` checks a refusal as twilio-python raises it;
`stripe_error_validator` and `sdk_fields` are what the Stripe scripts check
error bodies and object shapes with.
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


def twilio_refused(code, fn, what, status=None):
    """Calls fn, which must raise twilio-python's TwilioRestException with
    Twilio error `code` and HTTP `status` (any 4xx when not given); answers
    the exception."""
    from twilio.base.exceptions import TwilioRestException

    try:
        fn()
    except TwilioRestException as e:
        check(e.code == code, f"{what}: code {code}, got {e.code} ({e.msg})")
        if status is None:
            check(400 <= e.status < 500, f"{what}: a 4xx, got {e.status}")
        else:
            check(e.status == status, f"{what}: status {status}, got {e.status}")
        return e
    raise CheckFailed(f"{what}: expected TwilioRestException {code}, nothing raised")


def stripe_error_validator():
    """A validator of Stripe's `error` body from its OpenAPI document
    (`$MIRRA_SPECS_DIR/stripe.spec3.json`, by default `../shared/specs` beside
    the checkout)."""
    import json
    import pathlib

    from openapi_schema_validator import OAS30Validator

    specs = os.environ.get("MIRRA_SPECS_DIR") or str(
        pathlib.Path(__file__).resolve().parents[3] / "shared" / "specs"
    )
    path = pathlib.Path(specs) / "stripe.spec3.json"
    if not path.is_file():
        raise CheckFailed(f"no Stripe OpenAPI document at {path} (set MIRRA_SPECS_DIR)")
    components = json.loads(path.read_text())["components"]
    return OAS30Validator({"$ref": "#/components/schemas/error", "components": components})


def sdk_fields(cls):
    """The field names an SDK class annotates: the pinned version's shape."""
    return {k for k in cls.__annotations__ if not k.startswith("_") and k.islower()}
