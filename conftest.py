"""Shared test fixtures: where the real model files are, and the offscreen Qt platform."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parent
# Real model files other people wrote (provenance in MANIFEST.tsv); beside the clone.
SHARED_MODELS = Path(os.environ.get("NETRAY_SHARED_MODELS", REPO.parent / "shared" / "models"))
UNDER_CI = os.environ.get("CI", "").lower() == "true"


def shared_models_dir() -> Path:
    """The shared model folder; skip where it is absent (a user's clone), fail under CI."""
    if not SHARED_MODELS.is_dir():
        if UNDER_CI:
            pytest.fail(f"CI=true but the real model files are missing at {SHARED_MODELS}")
        pytest.skip(f"real model files not found at {SHARED_MODELS} (set NETRAY_SHARED_MODELS)")
    return SHARED_MODELS


@pytest.fixture(scope="session")
def shared_models() -> Path:
    return shared_models_dir()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI every test must run: a skip there (a missing library, model or plugin)
    would hide exactly what CI is for, so it fails with the skip's reason."""
    outcome = yield
    report = outcome.get_result()
    if UNDER_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, where every test must run: {reason}"
