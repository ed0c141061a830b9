"""`--junit` against the lab, read back with junitparser as a CI server reads it: a suite per
domain, a case per host, a failure per breaking host (reason and fix), skipped for unknown ones,
and a partial scan that never reads as passed."""

from __future__ import annotations

from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped, TestCase

from tests.helpers import LabInfo, Run, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scanned(lab: LabInfo, tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, JUnitXml]:
    tmp = tmp_path_factory.mktemp("junit")
    junit = tmp / "hsts-coverage.xml"
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab), "--junit", str(junit)], tmp)
    assert run.code == 1, run.stderr
    assert list(tmp.glob(".*.part")) == []
    return run, JUnitXml.fromfile(str(junit))


def cases(xml: JUnitXml) -> dict[str, TestCase]:
    return {case.name: case for suite in xml for case in suite}


def test_one_suite_per_domain_and_one_case_per_host(
    lab: LabInfo, scanned: tuple[Run, JUnitXml]
) -> None:
    run, xml = scanned
    [suite] = list(xml)
    assert suite.name == lab.domain
    assert sorted(cases(xml)) == sorted(run.hosts())
    assert {c.classname for c in cases(xml).values()} == {lab.domain}
    properties = {p.name: p.value for p in suite.properties()}
    assert properties == {"verdict": "NOT SAFE", "why": run.summary()["why"]}
    counts = run.summary()["counts"]
    assert (suite.tests, suite.failures, suite.skipped, suite.errors) == (
        len(run.hosts()),
        counts["breaks"],
        counts["unknown"],
        0,
    )


def test_a_breaking_host_fails_with_its_reason_and_fix(scanned: tuple[Run, JUnitXml]) -> None:
    run, xml = scanned
    for name, host in run.hosts().items():
        results = cases(xml)[name].result
        if host["status"] == "breaks":
            [failure] = results
            assert isinstance(failure, Failure)
            first = next(r for r in host["reasons"] if r["severity"] == "breaks")
            assert failure.type == first["code"]
            assert f"{first['code']}: {first['summary']}. Fix: {first['fix']}" in failure.message
            assert first["fix"] in str(failure.text)
        elif host["status"] == "unknown":
            [skipped] = results
            assert isinstance(skipped, Skipped)
            assert host["reasons"][0]["code"] in skipped.message
        else:
            assert results == [], name  # passed


def test_a_scan_with_names_missing_has_an_error_case(lab: LabInfo, tmp_path: Path) -> None:
    junit = tmp_path / "partial.xml"
    names = tmp_path / "names.txt"
    names.write_text(f"www.{lab.domain}\n")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    assert hsts_coverage([*args, "--junit", str(junit)], tmp_path).code == 0
    passed = cases(JUnitXml.fromfile(str(junit)))
    assert "(scan)" not in passed  # the negative twin: a whole SAFE scan has no error case
    failing = tmp_path / "failing.xml"
    args += ["--ct-url", f"http://{lab.base}.0.3", "--ct-attempts", "1"]  # nothing listens there
    run = hsts_coverage([*[a for a in args if a != "--no-ct"], "--junit", str(failing)], tmp_path)
    assert run.code == 3, run.stderr
    [error] = cases(JUnitXml.fromfile(str(failing)))["(scan)"].result
    assert isinstance(error, Error)
    assert "the name enumeration is failed" in error.message
