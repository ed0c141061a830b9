"""Parallel runs: every pytest-xdist worker takes lab addresses of its own (`worker_bases`)."""

from __future__ import annotations

import os

import pytest

from tests.helpers import worker_bases


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "master")
    try:
        os.environ.update(worker_bases(worker, dict(os.environ)))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
