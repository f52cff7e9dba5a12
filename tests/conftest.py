"""Shared test settings."""

from __future__ import annotations

import os

# As the Makefile does, before torch is loaded here or in a chapter's kernel: torch's AVX2 kernels on every
# x86-64 processor, so that a run gives the numbers the committed notebooks quote (see the Makefile).
os.environ.setdefault("ATEN_CPU_CAPABILITY", "avx2")

import pytest  # noqa: E402

from maxentrl.experiments.harness import RESULT_CACHE_READ_ONLY_ENV  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The chapter notebooks run first, so each quick preset is computed once, by a chapter's kernel.

    The kernels fill the result cache (``$MAXENTRL_RESULT_CACHE``, which ``make test`` sets) as the
    book build and ``make sync`` do; the claims tests, which run later, then assert on those very runs.
    The order of the other tests is kept.
    """
    items.sort(key=lambda item: item.get_closest_marker("notebook") is None)


@pytest.fixture(scope="module", autouse=True)
def _claims_tests_do_not_store_their_own_run(request: pytest.FixtureRequest):
    """The claims tests read the result cache but never add to it.

    A claims test that finds no stored run (run on its own, say) computes the quick preset in the
    test process. The last bits of rounding-level numbers can differ between that process and a
    chapter's kernel, and the committed notebooks quote a kernel's run, so such a run is not kept.
    """
    name = request.module.__name__.rsplit(".", 1)[-1]
    if not (name.startswith("test_ch0") and name.endswith("_claims")):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(RESULT_CACHE_READ_ONLY_ENV, "1")
        yield
