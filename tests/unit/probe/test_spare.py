"""The worker started with the command: when it is started, and how a scan adopts it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from hsts_coverage.config import ScanConfig
from hsts_coverage.probe import spare
from hsts_coverage.probe.workers import READY, _Process, _start


@pytest.mark.parametrize(
    ("argv", "env", "cpus", "expected"),
    [
        (["scan", "example.com"], {}, 2, True),
        (["scan", "example.com", "--workers", "3"], {}, 8, True),
        (["scan", "example.com", "--workers=auto"], {}, 8, True),
        (["scan", "example.com"], {}, 1, False),  # no core to spare
        (["enumerate", "example.com"], {}, 8, False),  # only a scan probes
        (["policy", "example.com"], {}, 8, False),
        ([], {}, 8, False),
        (["scan", "--help"], {}, 8, False),
        (["scan", "example.com", "-h"], {}, 8, False),
        (["scan", "example.com", "--workers", "0"], {}, 8, False),
        (["scan", "example.com", "--workers=0"], {}, 8, False),
        (["scan", "example.com"], {"HSTS_COVERAGE_WORKERS": "0"}, 8, False),
        (["scan", "example.com"], {"HSTS_COVERAGE_WORKERS": "2"}, 8, True),
        (["scan", "example.com", "--rate", "20"], {}, 8, False),  # the rate bounds the scan
        (["scan", "example.com", "--rate=0.5"], {}, 8, False),
        (["scan", "example.com", "--rate", "0"], {}, 8, True),  # 0: no limit
        (["scan", "example.com"], {"HSTS_COVERAGE_RATE": "5"}, 8, False),
        (["scan", "example.com", "--rate"], {}, 8, True),  # a usage error, found by the parser
    ],
)
def test_which_runs_start_a_worker_early(
    argv: list[str], env: dict[str, str], cpus: int, expected: bool
) -> None:
    assert spare.wanted(argv, env, cpus) is expected


async def test_a_scan_adopts_the_worker_started_early() -> None:
    early = spare.spawn()
    spare._spare = early
    try:
        changed = asyncio.Event()
        config = ScanConfig(domains=("example.com",))
        worker = await _start(config, datetime.now(UTC), changed)
        assert isinstance(worker.process, _Process)
        assert worker.process.pid == early.pid
        assert spare.take() is None  # taken once
        await asyncio.wait_for(changed.wait(), 30)
        assert worker.ready, READY
        await worker.stop()
        assert early.returncode == 0  # it ended at the end of its input, as told
    finally:
        if early.poll() is None:
            early.kill()
            early.wait()


async def test_a_spare_that_ended_is_not_taken() -> None:
    early = spare.spawn()
    early.kill()
    early.wait()
    spare._spare = early
    assert spare.take() is None
    assert spare.take() is None


def test_discard_kills_and_reaps_the_spare() -> None:
    early = spare.spawn()
    spare._spare = early
    spare.discard()
    assert early.returncode is not None  # reaped: no process, no zombie
    assert spare.take() is None
    spare.discard()  # nothing left to do


def test_a_worker_started_while_ctrl_c_is_held_back_takes_it_again() -> None:
    # The spare starts while the command holds Ctrl-C back (`__main__`); the worker unblocks it
    # for itself once loaded, as a worker started by the scan never had it blocked.
    import signal
    import time
    from pathlib import Path

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        early = spare.spawn()
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    try:

        def blocked() -> int:
            status = Path(f"/proc/{early.pid}/status").read_text()
            line = next(line for line in status.splitlines() if line.startswith("SigBlk:"))
            return int(line.split()[1], 16) & (1 << (signal.SIGINT - 1))

        assert blocked()  # inherited
        deadline = time.monotonic() + 20
        while blocked() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not blocked()
    finally:
        early.kill()
        early.wait()
        spare._close(early)
