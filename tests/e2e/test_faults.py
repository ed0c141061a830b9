"""Faults and hostile input end to end: the scan finishes, nothing claims SAFE without proof."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.conftest import LabInfo
from tests.e2e.test_scan import hsts_coverage, lab_options

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
