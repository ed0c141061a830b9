"""--per-ip: connections to one address never overlap beyond the limit (counted by the lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import LabInfo, hsts_coverage, lab_options, stats

pytestmark = pytest.mark.e2e

NAMES = 400  # all answered by the wildcard DNS under wild.: one address


@pytest.mark.parametrize(("per_ip", "peak_at_most"), [(1, 1), (4, 4)])
def test_connections_to_one_address(
    lab: LabInfo, tmp_path: Path, per_ip: int, peak_at_most: int
) -> None:
    address = lab.hosts[f"*.wild.{lab.domain}"]
    names = tmp_path / "names.txt"
    names.write_text("".join(f"n{i}.wild.{lab.domain}\n" for i in range(NAMES)), encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    args += ["--per-ip", str(per_ip), "--no-apex-check", "--quiet"]
    stats(lab, "?reset_peaks=1")
    run = hsts_coverage(args, tmp_path)
    after = stats(lab)
    assert run.summary()["hosts"] == NAMES + 1
    peaks = [after[f"{address}:{port}"]["peak"] for port in (443, 80)]
    assert max(peaks) <= peak_at_most, peaks
    if per_ip > 1:  # the twin: without a binding limit, connections do overlap
        assert max(peaks) > 1
