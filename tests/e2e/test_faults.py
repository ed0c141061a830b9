"""Faults and hostile input end to end: the scan finishes, nothing claims SAFE without proof."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from hsts_coverage.models import Probe
from tests.helpers import LabInfo, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e


def names_file(tmp_path: Path, lab: LabInfo, *labels: str) -> str:
    path = tmp_path / "names.txt"
    path.write_text("".join(f"{label}.{lab.domain}\n" for label in labels), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("labels", "verdict"),
    [
        (("www",), "SAFE"),  # the twin: the same scan with nothing wrong
        (("www", "servfail"), "INCONCLUSIVE"),  # a DNS error
        (("www", "dns-silent"), "INCONCLUSIVE"),  # a DNS time-out
        (("www", "blackhole"), "INCONCLUSIVE"),  # a host that never answers
        (("www", "metadata"), "INCONCLUSIVE"),  # a private address left unprobed
        (("www", "slow-hops"), "INCONCLUSIVE"),  # over the per-host budget
        (("www", "expired", "blackhole"), "NOT SAFE"),  # a definite break wins
    ],
)
def test_safe_needs_proof(
    lab: LabInfo, tmp_path: Path, labels: tuple[str, ...], verdict: str
) -> None:
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct"]
    run = hsts_coverage([*args, "--names-file", names_file(tmp_path, lab, *labels)], tmp_path)
    assert run.summary()["verdict"] == verdict
    assert run.code == {"SAFE": 0, "NOT SAFE": 1, "INCONCLUSIVE": 3}[verdict]


def test_a_resolver_that_is_down(lab: LabInfo, tmp_path: Path) -> None:
    down = f"{lab.base}.0.54:53"  # nothing listens there
    args = ["scan", lab.domain, "--ct-url", lab.ct_url, "--resolver", down, "--timeout", "1"]
    started = time.monotonic()
    run = hsts_coverage([*args, "--allow-cidr", "127.0.0.0/8", "--no-apex-check"], tmp_path)
    assert time.monotonic() - started < 60
    summary = run.summary()
    assert summary["verdict"] == "INCONCLUSIVE"
    assert summary["counts"]["unknown"] == summary["hosts"] > 20
    assert set(summary["unknown"]) == {"dns_error"}


def test_hostile_strings_never_reach_the_terminal_raw(lab: LabInfo, tmp_path: Path) -> None:
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct"]
    run = hsts_coverage([*args, "--names-file", names_file(tmp_path, lab, "hostile")], tmp_path)
    assert "\x1b" not in run.stdout
    assert "\x07" not in run.stdout
    assert "(subject CN=evil," in run.stdout  # shown, with its escape sequences removed
    subject = run.hosts()[f"hostile.{lab.domain}"]["https"]["certificate"]["subject"]
    assert "\x1b[2J\x1b[31mevil" in subject  # the report keeps the exact value (RFC 4514 form)


def test_a_host_whose_check_raises_is_unknown_and_the_scan_goes_on(
    lab: LabInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hsts_coverage import cli
    from hsts_coverage.probe.prober import Prober

    broken = f"www.{lab.domain}"
    real_probe = Prober.probe

    async def probe(self: Prober, name: str, address: str, domain: str) -> Probe:
        if name == broken:
            raise ZeroDivisionError("an arbitrary bug")
        return await real_probe(self, name, address, domain)

    monkeypatch.setattr(Prober, "probe", probe)
    report = tmp_path / "report.ndjson"
    names = names_file(tmp_path, lab, "www", "expired")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", names]
    monkeypatch.setattr("sys.argv", ["hsts-coverage", *args, "--workers", "0", "-o", str(report)])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 1  # NOT SAFE: expired.* still breaks, the scan went on
    records = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    hosts = {r["host"]: r for r in records if r["type"] == "host"}
    assert hosts[broken]["status"] == "unknown"
    assert [r["code"] for r in hosts[broken]["reasons"]] == ["internal_error"]
    assert hosts[broken]["reasons"][0]["detail"] == "ZeroDivisionError: an arbitrary bug"
    assert hosts[f"expired.{lab.domain}"]["status"] == "breaks"
    (summary,) = (r for r in records if r["type"] == "summary")
    assert summary["unknown"] == {"internal_error": [broken]}
    assert "please report" in capsys.readouterr().err


def test_a_crash_keeps_the_partial_report_aside_and_exits_5(
    lab: LabInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hsts_coverage import cli
    from hsts_coverage.probe.prober import Prober

    async def follow(prober: Prober, url: str, *, hops: int) -> object:
        raise RuntimeError("a bug in the apex check")  # outside every host's boundary

    monkeypatch.setattr("hsts_coverage.probe.apex.follow", follow)
    report = tmp_path / "report.ndjson"
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--workers", "0", "-o", str(report)]
    monkeypatch.setattr("sys.argv", ["hsts-coverage", *args])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 5
    assert not report.exists()  # never looks like a finished report
    (partial,) = tmp_path.glob(".report.ndjson.*.part")
    records = [orjson.loads(line) for line in partial.read_bytes().splitlines()]
    assert [r["type"] for r in records] == ["scan", "host"]  # the apex host, then the crash
    err = capsys.readouterr().err
    assert f"partial report kept in {partial}" in err
    assert "internal error: RuntimeError: a bug in the apex check" in err
    assert "Traceback" not in err


def test_a_full_disk_is_one_line_and_a_failed_run(lab: LabInfo, tmp_path: Path) -> None:
    import resource
    import subprocess
    import sys

    def small_files() -> None:  # writes past 3 KiB fail as on a full disk (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

    report = tmp_path / "report.ndjson"
    names = names_file(tmp_path, lab, "www", "expired", "self-signed", "untrusted")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", names]
    # Not measured under `make test`: coverage's own data file would hit the 3 KiB limit too.
    env = {k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "hsts_coverage", *args, "-o", str(report)],
        capture_output=True, text=True, timeout=60, preexec_fn=small_files, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 5, done.stderr
    assert not report.exists()
    assert list(tmp_path.glob(".report.ndjson.*.part"))
    assert "Traceback" not in done.stderr
    assert "the run failed:" in done.stderr
