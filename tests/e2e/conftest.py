"""The lab fixtures: real lab processes, started once and stopped cleanly.

- `lab` (session): `python -m hsts_coverage.lab` on base `$HSTS_LAB_BASE` (default 127.78,
  apart from a demo lab on 127.77), without a fleet.
- `fleet_lab` (module): its own lab with `--fleet 1000` on base `$HSTS_FLEET_BASE` (default
  127.76), for scale tests; `lab_info.fleet` describes the fleet.

Module scope is deliberate: the fleet lab takes a base of its own, which `running_lab` lets
another module reuse for a fleet of another size (test_fleet_lab.py does, with 50 hosts), so no
two modules may hold a fleet lab at the same time, and pytest runs modules one after the other
(with pytest-xdist, `make test` keeps a file's tests in one worker, and each worker has bases of
its own: tests/helpers.py, `worker_bases`).

Each lab gets a temporary state directory; the fixture waits for its JSON line and stops it with
SIGTERM at the end, expecting a clean exit. The lab's stderr goes to `STATE_DIR/lab.stderr`
(a pipe nobody reads could fill up and stall the lab) and is shown when the lab fails.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import LabInfo

START_SECONDS = 30.0
STOP_SECONDS = 10.0
FLEET_HOSTS = 1000


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    yield from running_lab(tmp_path_factory, os.environ.get("HSTS_LAB_BASE", "127.78"))


@pytest.fixture(scope="module")
def fleet_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabInfo]:
    yield from running_lab(tmp_path_factory, fleet_base(), "--fleet", str(FLEET_HOSTS))


def fleet_base() -> str:
    return os.environ.get("HSTS_FLEET_BASE", "127.76")


def running_lab(
    tmp_path_factory: pytest.TempPathFactory, base: str, *options: str
) -> Iterator[LabInfo]:
    """A lab process on `base` with extra command-line `options`, for a fixture to yield from."""
    state_dir = tmp_path_factory.mktemp("lab")
    command = [sys.executable, "-m", "hsts_coverage.lab", "--base", base]
    command += ["--state-dir", str(state_dir), *options]
    stderr_path = state_dir / "lab.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
    try:
        info = _read_info(process, stderr_path)
    except BaseException:
        process.kill()
        _reap(process)
        raise
    yield LabInfo(**info, state_dir=state_dir)
    _stop(process, stderr_path)


def _read_info(process: subprocess.Popen[bytes], stderr_path: Path) -> dict[str, Any]:
    assert process.stdout is not None
    deadline = time.monotonic() + START_SECONDS
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(remaining, 0))
        chunk = os.read(process.stdout.fileno(), 65536) if ready else b""
        if not chunk:
            pytest.fail(f"the lab did not start:\n{stderr_path.read_text()}")
        line += chunk
    info: dict[str, Any] = json.loads(line)
    return info


def _stop(process: subprocess.Popen[bytes], stderr_path: Path) -> None:
    process.terminate()
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
    returncode = _reap(process)
    assert returncode == 0, f"the lab exited with {returncode}:\n{stderr_path.read_text()}"


def _reap(process: subprocess.Popen[bytes]) -> int:
    returncode = process.wait()
    assert process.stdout is not None
    process.stdout.close()
    return returncode
