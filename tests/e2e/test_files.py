"""The files a scan writes: devices and links are written to, never replaced; one report is
never overwritten by another output; an --append log has one writer, and survives torn lines."""

from __future__ import annotations

import fcntl
import os
import stat
import threading
from pathlib import Path

import orjson
import pytest

from tests.helpers import LabInfo, Run, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e


def scan(lab: LabInfo, tmp_path: Path, *extra: str) -> Run:
    names = tmp_path / "names.txt"
    names.write_text(f"www.{lab.domain}\n", encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    return hsts_coverage([*args, "--no-apex-check", "--quiet", *extra], tmp_path)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
@pytest.mark.parametrize("option", ["-o", "--html"])
def test_a_device_is_written_to_not_replaced(lab: LabInfo, tmp_path: Path, option: str) -> None:
    null = tmp_path / "null"  # our own /dev/null, so that a failure breaks nothing else
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    run = scan(lab, tmp_path, option, str(null), *(["-o", str(tmp_path / "r")] * (option != "-o")))
    assert run.code == 0, run.stderr
    assert stat.S_ISCHR(null.stat().st_mode)
    assert not list(tmp_path.glob(".null.*"))


def test_a_fifo_gets_the_stream(lab: LabInfo, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run = scan(lab, tmp_path, "-o", str(fifo))
    reader.join(10)
    assert run.code == 0, run.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    types = [orjson.loads(line)["type"] for line in received[0].splitlines()]
    assert types == ["scan", "host", "host", "summary"]


def test_a_link_keeps_pointing_at_the_report(lab: LabInfo, tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    real = tmp_path / "reports" / "today.ndjson"
    real.write_text("old\n")
    link = tmp_path / "latest.ndjson"
    link.symlink_to(real)
    run = scan(lab, tmp_path, "-o", str(link))
    assert run.code == 0, run.stderr
    assert link.is_symlink()
    assert orjson.loads(real.read_bytes().splitlines()[-1])["verdict"] == "SAFE"


def test_output_and_html_on_one_file_is_a_usage_error(lab: LabInfo, tmp_path: Path) -> None:
    report = tmp_path / "same"
    run = scan(lab, tmp_path, "-o", str(report), "--html", str(tmp_path / "." / "same"))
    assert run.code == 2
    assert "name the same file" in run.stderr
    assert not report.exists()


def test_append_onto_a_torn_line_starts_fresh_and_stays_readable(
    lab: LabInfo, tmp_path: Path
) -> None:
    log = tmp_path / "log.ndjson"
    assert scan(lab, tmp_path, "-o", str(log), "--append").code == 0
    with log.open("ab") as stream:
        stream.write(b'{"type":"host","host":"torn')  # a crash in the middle of a record
    assert scan(lab, tmp_path, "-o", str(log), "--append").code == 0
    lines = log.read_bytes().splitlines()
    assert lines.count(b'{"type":"host","host":"torn') == 1  # alone on its line
    diff = hsts_coverage(["diff", str(log), str(log)], tmp_path)
    assert diff.code == 0, diff.stderr
    assert "1 line(s) that are not records skipped" in diff.stderr


def test_a_second_writer_of_an_append_log_is_refused(lab: LabInfo, tmp_path: Path) -> None:
    log = tmp_path / "log.ndjson"
    with log.open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # a scan appending right now
        run = scan(lab, tmp_path, "-o", str(log), "--append")
    assert run.code == 2
    assert "being appended to by another scan" in run.stderr
    assert log.read_bytes() == b""
    assert scan(lab, tmp_path, "-o", str(log), "--append").code == 0  # the twin: lock released
