"""`--metrics` against the lab: the file passes `promtool check metrics` and says what the report
says; an interrupted scan writes it too; the example alerting rules pass their promtool unit tests
(and a broken rule fails them). promtool is Debian's `prometheus` package (`make test` installs
it); without it these tests skip, and fail under CI."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import LabInfo, Run, hsts_coverage, lab_options, wait_for_lines

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "prometheus"
RULES = EXAMPLE / "hsts-coverage-alerts.yml"
RULE_TESTS = EXAMPLE / "hsts-coverage-alerts.test.yml"

Samples = dict[str, list[tuple[dict[str, str], float]]]


def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    reason = "promtool is not installed (apt-get install -y prometheus)"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def samples(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return found


@pytest.fixture(scope="module")
def scanned(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Path]:
    tmp = tmp_path_factory.mktemp("metrics")
    metrics = tmp / "hsts-coverage.prom"
    env = {"HSTS_COVERAGE_METRICS": str(metrics)}  # the option's variable
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab), "--quiet"], tmp, env)
    assert run.code == 1, run.stderr
    return run, metrics


def test_promtool_accepts_a_lab_scans_metrics(scanned: tuple[Run, Path]) -> None:
    _, metrics = scanned
    done = subprocess.run(
        [promtool(), "check", "metrics"], input=metrics.read_bytes(), capture_output=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert list(metrics.parent.glob("*.prom*")) == [metrics]  # no temporary file left


def test_the_metrics_say_what_the_report_says(lab: LabInfo, scanned: tuple[Run, Path]) -> None:
    run, metrics = scanned
    found = samples(metrics.read_text())
    summary = run.summary()
    hosts = {s[0]["status"]: s[1] for s in found["hsts_coverage_hosts"]}
    assert hosts == {k: float(v) for k, v in summary["counts"].items()}
    assert found["hsts_coverage_verdict"] == [({"domain": lab.domain, "verdict": "not_safe"}, 1.0)]
    breaking = {s[0]["reason"]: s[1] for s in found["hsts_coverage_breaking_hosts"]}
    assert breaking == {code: float(len(h)) for code, h in summary["breaking"].items()}
    broken = {s[0]["host"] for s in found["hsts_coverage_host_breaking"]}
    assert broken == {name for name, h in run.hosts().items() if h["status"] == "breaks"}
    expiry = {
        s[0]["host"]: s[1] for s in found["hsts_coverage_host_certificate_expiry_timestamp_seconds"]
    }
    with_certificate = {n for n, h in run.hosts().items() if (h["https"] or {}).get("certificate")}
    assert set(expiry) == with_certificate
    [(_, earliest)] = found["hsts_coverage_domain_certificate_expiry_timestamp_seconds"]
    assert earliest == min(expiry.values())
    assert found["hsts_coverage_enumeration_status"] == [
        ({"domain": lab.domain, "status": "complete"}, 1.0)
    ]
    names = {s[0]["source"]: s[1] for s in found["hsts_coverage_enumeration_names"]}
    assert set(names) == {"crtsh", "user", "cname", "wildcard-probe"}  # the names met, too
    assert found["hsts_coverage_scan_interrupted"] == [({}, 0.0)]
    [(_, last)] = found["hsts_coverage_last_complete_scan_timestamp_seconds"]
    assert last == found["hsts_coverage_scan_finished_timestamp_seconds"][0][1]


def test_an_interrupted_scan_writes_its_metrics(lab: LabInfo, tmp_path: Path) -> None:
    metrics = tmp_path / "scan.prom"
    metrics.write_text("hsts_coverage_last_complete_scan_timestamp_seconds 1234\n")  # last night
    report = tmp_path / "report.ndjson"
    command = [sys.executable, "-m", "hsts_coverage", "scan", lab.domain, *lab_options(lab)]
    command += ["--concurrency", "1", "-o", str(report), "--metrics", str(metrics), "--quiet"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wait_for_lines(tmp_path / f".report.ndjson.{process.pid}.part", 3, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    found = samples(metrics.read_text())
    assert found["hsts_coverage_scan_interrupted"] == [({}, 1.0)]
    assert found["hsts_coverage_last_complete_scan_timestamp_seconds"] == [({}, 1234.0)]
    [(labels, value)] = found["hsts_coverage_verdict"]
    assert labels["verdict"] != "safe"
    assert value > 0


def test_a_metrics_file_in_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    run = hsts_coverage(["scan", "example.com", "--metrics", "/nonexistent/x.prom"], tmp_path)
    assert run.code == 2
    assert "--metrics /nonexistent/x.prom: the folder /nonexistent does not exist" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_example_alerts_pass_their_unit_tests() -> None:
    check = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 7 rules found" in check.stdout
    done = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name], cwd=EXAMPLE, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {line.split(":")[1].strip() for line in RULE_TESTS.read_text().splitlines()
              if line.strip().startswith("alertname:")}  # fmt: skip
    alerts = {line.split(":")[1].strip() for line in RULES.read_text().splitlines()
              if line.strip().startswith("- alert:")}  # fmt: skip
    assert tested == alerts


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("< 3 * 86400", "< 2 * 86400"),
        ("> 36 * 3600", "> 48 * 3600"),
        ("unless hsts_coverage_host_breaking offset 1d", ""),
        ("hsts_coverage_verdict > 0", "hsts_coverage_verdict > 1"),
    ],
)
def test_a_broken_rule_fails_the_unit_tests(tmp_path: Path, old: str, new: str) -> None:
    """The negative twin: the unit tests would notice a rule that fires at the wrong time."""
    assert old in RULES.read_text()
    (tmp_path / RULES.name).write_text(RULES.read_text().replace(old, new))
    shutil.copy(RULE_TESTS, tmp_path / RULE_TESTS.name)
    done = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name], cwd=tmp_path, capture_output=True
    )
    assert done.returncode != 0
