"""--workers: hosts probed in worker processes come out exactly as probed in the main process, and
a worker that dies mid-scan loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import LabInfo, hsts_coverage, lab_options, stats, wait_for_lines

pytestmark = pytest.mark.e2e

NAMES = 600  # under the wildcard DNS of wild.: one address, a certificate for *.hsts-lab.test


def outcome(host: dict[str, Any]) -> tuple[Any, ...]:
    reasons = tuple(sorted(r["code"] for r in host["reasons"]))
    return host["status"], reasons, host["addresses"], host.get("redirects")


def test_workers_judge_every_lab_host_as_the_main_process_does(
    lab: LabInfo, tmp_path: Path
) -> None:
    runs = {}
    for workers in ("0", "2"):
        out = tmp_path / workers
        out.mkdir()
        runs[workers] = hsts_coverage(
            ["scan", lab.domain, *lab_options(lab), "--workers", workers, "--no-progress"], out
        )
    alone, pooled = runs["0"], runs["2"]
    assert pooled.code == alone.code == 1, pooled.stderr
    assert "ended mid-scan" not in pooled.stderr  # the workers did the probing, to the end
    assert pooled.records[0]["options"]["workers"] == 2
    assert len(pooled.hosts()) > 30
    assert {h: outcome(r) for h, r in pooled.hosts().items()} == {
        h: outcome(r) for h, r in alone.hosts().items()
    }
    # The apex check too: a worker gathers its facts from the main process's DNS answers.
    assert pooled.summary()["policy"]["preload_list"]["source"].startswith("hstspreload")
    for field in ("verdict", "counts", "breaking", "warnings", "policy"):
        assert pooled.summary()[field] == alone.summary()[field], field


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def start_scan(lab: LabInfo, tmp_path: Path, *options: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A scan of NAMES names under wild. in the background, its report written line by line."""
    names = tmp_path / "names.txt"
    names.write_text("".join(f"n{i}.wild.{lab.domain}\n" for i in range(NAMES)), encoding="utf-8")
    report = tmp_path / "report.ndjson"
    command = [sys.executable, "-m", "hsts_coverage", "scan", lab.domain, *lab_options(lab)]
    command += ["--no-ct", "--names-file", str(names), "--no-apex-check", "--quiet"]
    command += [*options, "--append", "--output", str(report)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return process, report


def test_a_worker_that_dies_costs_no_host(lab: LabInfo, tmp_path: Path) -> None:
    process, report = start_scan(lab, tmp_path, "--workers", "1", "--concurrency", "20")
    wait_for_lines(report, 50, process)
    (worker,) = children(process.pid)
    os.kill(worker, signal.SIGKILL)
    killed_at = report.read_bytes().count(b"\n")
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr  # NOT SAFE, as without the kill
    assert f"worker process {worker} ended mid-scan" in stderr.decode()

    records = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    hosts = {r["host"]: r for r in records if r["type"] == "host"}
    assert killed_at < len(records)  # the kill came mid-scan
    assert len(hosts) == NAMES + 1  # the apex too, each host once
    assert hosts.pop(lab.domain)["status"] == "ok"
    # A wildcard covers one label: every name under wild. gets the same, complete judgement.
    assert {(h["status"], tuple(r["code"] for r in h["reasons"])) for h in hosts.values()} == {
        ("breaks", ("cert_name_mismatch",))
    }
    assert records[-1]["interrupted"] is False


def test_workers_keep_the_per_ip_limit(lab: LabInfo, tmp_path: Path) -> None:

    address = lab.hosts[f"*.wild.{lab.domain}"]
    names = tmp_path / "names.txt"
    names.write_text("".join(f"p{i}.wild.{lab.domain}\n" for i in range(NAMES)), encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    args += ["--per-ip", "1", "--workers", "2", "--no-apex-check", "--quiet"]
    stats(lab, "?reset_peaks=1")
    started = time.monotonic()
    run = hsts_coverage(args, tmp_path)
    assert run.summary()["hosts"] == NAMES + 1, time.monotonic() - started
    after = stats(lab)
    peaks = [after[f"{address}:{port}"]["peak"] for port in (443, 80)]
    assert max(peaks) == 1, peaks


def test_ctrl_c_stops_the_workers_too(lab: LabInfo, tmp_path: Path) -> None:
    process, report = start_scan(lab, tmp_path, "--workers", "2", "--concurrency", "4")
    wait_for_lines(report, 20, process)
    workers = children(process.pid)
    assert len(workers) == 2
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert b"ended mid-scan" not in stderr  # stopped, not lost
    records = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    assert records[-1]["type"] == "summary"
    assert records[-1]["interrupted"] is True
    assert not [pid for pid in workers if running(pid)]  # no worker outlives the scan


def running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def marked(mark: str) -> list[int]:
    """The running processes whose environment holds `mark` (a scan's and its children's)."""
    needle = f"HSTS_TEST_MARK={mark}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and running(int(entry)):
            found.append(int(entry))
    return found


def start_ticks(pid: int) -> int:
    """When the process started, in clock ticks since boot."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])


def test_the_worker_starts_with_the_command_not_after_the_enumeration(
    lab: LabInfo, tmp_path: Path
) -> None:
    # It loads on another core while the command line loads here: it was running before the scan
    # started (the scan record's time, taken once the command line is loaded and parsed), where
    # it used to be started once the names were enumerated.
    launched = time.time()
    process, report = start_scan(lab, tmp_path, "--workers", "1", "--concurrency", "20")
    wait_for_lines(report, 20, process)
    (worker,) = children(process.pid)  # the one started early is the scan's worker
    after = (start_ticks(worker) - start_ticks(process.pid)) / os.sysconf("SC_CLK_TCK")
    process.communicate(timeout=120)
    assert process.returncode == 1
    scan = orjson.loads(report.read_bytes().splitlines()[0])
    assert scan["type"] == "scan"
    scan_started = datetime.fromisoformat(scan["started_at"].replace("Z", "+00:00")).timestamp()
    assert after < scan_started - launched, (after, scan_started - launched)


def test_a_scan_that_needs_no_worker_ends_the_one_started_early(
    lab: LabInfo, tmp_path: Path
) -> None:
    # 200 names are too few for a worker of their own (500): the worker started with the command
    # goes as soon as the scan knows, not at its end.
    mark = os.urandom(8).hex()
    names = tmp_path / "names.txt"
    names.write_text("".join(f"e{i}.wild.{lab.domain}\n" for i in range(200)), encoding="utf-8")
    report = tmp_path / "report.ndjson"
    command = [sys.executable, "-m", "hsts_coverage", "scan", lab.domain, *lab_options(lab)]
    command += ["--no-ct", "--names-file", str(names), "--no-apex-check", "--quiet"]
    command += ["--per-ip", "1", "--append", "--output", str(report)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    env["HSTS_TEST_MARK"] = mark
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wait_for_lines(report, 10, process)
    assert marked(mark) == [process.pid]
    process.communicate(timeout=120)
    assert process.returncode == 1
