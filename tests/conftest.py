"""Shared test fixtures.

``../shared`` (Microsoft sources, benchmark datasets) is absent from a user's clone: tests
that need it skip with a reason. CI sets ENTRA_LP_REQUIRE_SHARED=1, turning the skip into
a failure so nothing silently stops running there. The same holds for the headless browser
(ENTRA_LP_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """The ../shared folder, or None when this clone has none."""
    env = os.environ.get("ENTRA_LP_SHARED")
    path = Path(env) if env else REPO.parent / "shared"
    return path if (path / "sources").is_dir() else None


def _missing(what: str, env_flag: str) -> None:
    if os.environ.get(env_flag) == "1":
        pytest.fail(f"{what} is required here ({env_flag}=1) but missing")
    pytest.skip(f"{what} is absent (this clone has no ../shared or no browser)")


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path to ../shared; skips (or fails in CI) when absent."""
    path = shared_dir()
    if path is None:
        _missing("../shared", "ENTRA_LP_REQUIRE_SHARED")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path to a headless Chromium binary; skips (or fails in CI) when absent."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    _missing("a Chromium browser", "ENTRA_LP_REQUIRE_BROWSER")
    raise AssertionError("unreachable")


# Property tests: no per-example deadline (the 2-core CI box is shared), and derandomized
# so that a CI run is reproducible.
from hypothesis import settings  # noqa: E402

settings.register_profile("entra-lp", deadline=None, derandomize=True, max_examples=100)
settings.load_profile("entra-lp")
