"""Nothing is lost: a scan stopped by SIGINT or SIGTERM keeps every line and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.helpers import LabInfo, hsts_coverage, lab_options, wait_for_lines

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("append", [False, True], ids=["atomic", "append"])
@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
def test_a_signal_stops_the_scan_and_keeps_every_line(
    lab: LabInfo, tmp_path: Path, signum: int, code: int, append: bool
) -> None:
    report = tmp_path / "report.ndjson"
    report.write_bytes(b'{"type": "an older report"}\n')
    command = [sys.executable, "-m", "hsts_coverage", "scan", lab.domain, *lab_options(lab)]
    command += ["--concurrency", "1", "--output", str(report), "--quiet"]
    command += ["--append"] if append else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    written = report if append else tmp_path / f".report.ndjson.{process.pid}.part"
    wait_for_lines(written, 4 if append else 3, process)
    if not append:  # a reader never sees half a report under the final name
        assert report.read_bytes() == b'{"type": "an older report"}\n'
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr

    records = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    if append:
        assert records.pop(0) == {"type": "an older report"}
    assert records[0]["type"] == "scan"
    hosts = [r for r in records if r["type"] == "host"]
    summary = records[-1]
    assert summary["type"] == "summary"
    assert summary["interrupted"] is True
    assert summary["verdict"] in ("INCONCLUSIVE", "NOT SAFE")
    assert summary["hosts"] == len(hosts) >= 2
    assert not written.exists() or append
    assert b"Traceback" not in stderr
    assert "interrupted" in stdout.decode()


def test_append_adds_one_report_after_another(lab: LabInfo, tmp_path: Path) -> None:
    report = tmp_path / "nightly.ndjson"
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "-o", str(report), "--append"]
    for _ in range(2):
        assert hsts_coverage(args, tmp_path).code == 0
    types = [orjson.loads(line)["type"] for line in report.read_bytes().splitlines()]
    assert types == ["scan", "host", "summary"] * 2


@pytest.mark.parametrize("delay", [0.02, 0.05, 0.1, 0.15, 0.2, 0.3])
def test_ctrl_c_while_the_tool_starts_is_one_line_and_130(tmp_path: Path, delay: float) -> None:
    # The child says "go" once the interpreter has started (Python's own start-up, which no
    # program can guard, is over), then runs the command line as `python -m hsts_coverage`.
    # Ctrl-C is Python's own KeyboardInterrupt until the scan installs its handler, and Python
    # leaves SIGINT ignored where the parent ignored it (a background job of a shell without job
    # control): the child gets the handler a terminal's command would have.
    starter = (
        "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "import runpy, sys; sys.stdout.write('go\\n'); sys.stdout.flush(); "
        "sys.argv = ['hsts-coverage', *sys.argv[1:]]; "
        "runpy.run_module('hsts_coverage', run_name='__main__', alter_sys=True)"
    )
    args = ["scan", "example.com", "--no-ct", "--resolver", "127.0.0.1:1", "--timeout", "0.5"]
    child = subprocess.Popen(
        [sys.executable, "-c", starter, *args, "-o", str(tmp_path / "r.ndjson")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "go\n"
    time.sleep(delay)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=30)
    assert "Traceback" not in err
    assert child.returncode == 130, err


def test_nothing_loads_before_ctrl_c_is_held_back() -> None:
    # Everything the command loads, the early worker's start included, loads with Ctrl-C held
    # back: the entry module itself imports nothing but `signal` (an import before the mask was
    # where a Ctrl-C under load became a traceback).
    probe = (
        "import sys; before = set(sys.modules); import hsts_coverage.__main__; "
        "new = set(sys.modules) - before - {'signal'}; "
        "print(sorted(m for m in new if not m.startswith('hsts_coverage')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
