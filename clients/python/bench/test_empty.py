"""200 empty tests with the `mirra` fixture, with and without its reset:
infra/bench/pytest-reset times both and divides the difference by 200."""

import pytest


@pytest.mark.parametrize("n", range(200))
def test_with_reset(n, mirra):
    pass


@pytest.mark.mirra(reset=False)
@pytest.mark.parametrize("n", range(200))
def test_without_reset(n, mirra):
    pass
