"""A scan of 1,000 lab hosts of which 10 % never answer finishes within its time bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hsts_coverage.config import ScanConfig
from tests.helpers import LabInfo, hsts_coverage

pytestmark = [pytest.mark.e2e, pytest.mark.alone]  # wall-time bounds: run with nothing beside

TIMEOUT = 2.0  # a healthy host answers well inside it even on a loaded machine
CONCURRENCY = 100


def test_a_thousand_hosts_with_a_tenth_hanging(fleet_lab: LabInfo, tmp_path: Path) -> None:
    assert fleet_lab.fleet is not None
    domain, hanging = fleet_lab.fleet["domain"], set(fleet_lab.fleet["hanging"])
    args = ["scan", domain, "--ct-url", fleet_lab.ct_url, "--resolver", fleet_lab.resolver]
    args += ["--ca-bundle", fleet_lab.ca_bundle, "--allow-cidr", "127.0.0.0/8"]
    args += ["--timeout", str(TIMEOUT), "--concurrency", str(CONCURRENCY), "--quiet"]
    args += ["--no-guess"]  # the bound is for probing: resolving common labels comes first
    started = time.monotonic()
    run = hsts_coverage(args, tmp_path)
    elapsed = time.monotonic() - started

    hosts = run.hosts()
    assert len(hosts) == fleet_lab.fleet["hosts"] + 1  # and the apex
    # DNS answers at once here, so a host's budget is its probing budget.
    budget = ScanConfig(domains=(domain,), timeout=TIMEOUT).host_budget(1)
    bound = (len(hosts) / CONCURRENCY + 1) * budget
    assert elapsed < bound, f"{elapsed:.1f} s for {len(hosts)} hosts; bound {bound:.0f} s"
    for name, record in hosts.items():
        expected = "unknown" if name in hanging else "ok"
        assert record["status"] == expected, name
    summary = run.summary()
    assert summary["counts"]["unknown"] == len(hanging) == 100
    assert summary["verdict"] == "INCONCLUSIVE"
    assert run.code == 3
