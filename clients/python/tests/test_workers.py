"""Parallel workers never see each other's state: each worker has its own
session, and what a test creates is visible to it alone. Each test records
its worker and session for the runner (tests/tests/pytest_plugin.rs) to check
that several workers took part, each on one session of its own."""

import json
import os
import pathlib
import time

import pytest


class Isolation:
    """Four tests; each subclass is one xdist scope (`--dist loadscope`), so
    the scopes spread over the workers."""

    @pytest.mark.parametrize("n", range(4))
    def test_a_worker_sees_only_its_own_customers(self, n, mirra, mirra_stripe):
        check_own_state(f"{type(self).__name__}-{n}", mirra, mirra_stripe)


class TestOne(Isolation):
    pass


class TestTwo(Isolation):
    pass


class TestThree(Isolation):
    pass


class TestFour(Isolation):
    pass


def check_own_state(n, mirra, mirra_stripe):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    mine = f"{worker}-{n}@workers.test"
    mirra_stripe.v1.customers.create({"email": mine, "metadata": {"worker": worker}})
    # Give the other workers time to write theirs into their own sessions.
    time.sleep(0.05)
    made = [c for c in mirra_stripe.v1.customers.list({"limit": 100}).data
            if c.email.endswith("@workers.test")]
    assert [c.email for c in made] == [mine]
    out = os.environ.get("MIRRA_PLUGIN_TEST_OUT")
    if out:
        pathlib.Path(out, f"{worker}-{n}.json").write_text(
            json.dumps({"worker": worker, "session": mirra.id}))
