"""`hsts-coverage policy` against the lab's apexes: one ready, one failing each requirement."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from hsts_coverage.lab.scenarios import POLICY_SITES, PolicySite
from tests.helpers import LabInfo, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e


def reach(lab: LabInfo) -> list[str]:
    return ["--resolver", lab.resolver, "--ca-bundle", lab.ca_bundle, "--allow-cidr", "127.0.0.0/8"]


@pytest.mark.parametrize("site", POLICY_SITES, ids=lambda s: s.domain)
def test_policy_site(site: PolicySite, lab: LabInfo, tmp_path: Path) -> None:
    run = hsts_coverage(["policy", site.domain, *reach(lab), "--format", "json"], tmp_path)
    report = orjson.loads(run.stdout)
    codes = {status: set() for status in ("fail", "warn")}  # type: dict[str, set[str]]
    for requirement in report["requirements"]:
        if requirement["status"] in codes:
            codes[requirement["status"]].update(requirement["failures"])
    assert codes["fail"] == set(site.expect_errors)
    assert codes["warn"] == set(site.expect_warnings)
    assert report["preload_ready"] is site.ready
    assert run.code == (0 if site.ready else 1)


def test_a_repeated_preload_is_accepted_as_browsers_accept_it(lab: LabInfo, tmp_path: Path) -> None:
    args = ["policy", "repeated-preload.test", *reach(lab), "--format", "json"]
    effective = orjson.loads(hsts_coverage(args, tmp_path).stdout)["effective"]
    assert effective["browser"]["accepted"] is True  # RFC 6797 6.1 would ignore the header
    assert effective["browser"]["include_subdomains"] is True
    assert "sts.directive.repeated_rfc" in [issue["code"] for issue in effective["issues"]]


def test_policy_text_report(lab: LabInfo, tmp_path: Path) -> None:
    run = hsts_coverage(["policy", "http-to-www.test", *reach(lab)], tmp_path)
    assert run.code == 1
    assert "Preload requirements: NOT READY" in run.stdout
    assert "redirects.http.www_first" in run.stdout
    assert "max-age 31536000, includeSubDomains, preload" in run.stdout  # capped at one year


def test_without_the_lab_ca_nothing_is_ready(lab: LabInfo, tmp_path: Path) -> None:
    args = [
        "policy",
        "preload-ready.test",
        "--resolver",
        lab.resolver,
        "--allow-cidr",
        "127.0.0.0/8",
    ]
    run = hsts_coverage([*args, "--format", "json"], tmp_path)
    failed = {c for r in orjson.loads(run.stdout)["requirements"] for c in r["failures"]}
    assert "domain.tls.invalid_cert_chain" in failed
    assert run.code == 1


CHROMIUM_LIST = """// a small copy of Chromium's transport_security_state_static.json
{
  "entries": [
    // the lab's ready apex, preloaded with its subdomains
    { "name": "preload-ready.test", "policy": "custom", "mode": "force-https",
      "include_subdomains": true }
  ]
}
"""


def test_scan_summary_carries_the_policy_and_preload_advice(lab: LabInfo, tmp_path: Path) -> None:
    listing = tmp_path / "transport_security_state_static.json"
    listing.write_text(CHROMIUM_LIST, encoding="utf-8")
    names = tmp_path / "names.txt"
    names.write_text("www.preload-ready.test\n", encoding="utf-8")
    args = ["scan", "preload-ready.test", *reach(lab), "--no-ct", "--names-file", str(names)]
    run = hsts_coverage([*args, "--preload-list", str(listing)], tmp_path)
    summary = run.summary()
    assert summary["verdict"] == "SAFE"
    policy = summary["policy"]
    assert policy["preload_ready"] is True
    assert policy["preload_list"]["entry"] == "preload-ready.test"
    assert policy["preload_list"]["include_subdomains"] is True
    assert policy["effective"]["browser"]["include_subdomains"] is True
    assert "already preloaded with include_subdomains" in summary["advice"][0]


def test_scan_of_the_main_lab_advises_fixing_first(lab: LabInfo, tmp_path: Path) -> None:
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab), "--no-ct"], tmp_path)
    summary = run.summary()
    assert summary["policy"]["strict_transport_security"] == []
    assert summary["advice"][0].startswith("Safe to add includeSubDomains")


def test_a_bad_preload_list_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "list.json"
    bad.write_text("{ not json", encoding="utf-8")
    run = hsts_coverage(["policy", "example.com", "--preload-list", str(bad)], tmp_path)
    assert run.code == 2
    assert "is not Chromium's JSON list" in run.stderr
