"""The benchmark's realistic mix: fixed per N, in the issue's shares, names sharing addresses."""

from __future__ import annotations

from collections import Counter

import pytest

from hsts_coverage.bench.mix import PER_ADDRESS, SHARES, Kind, drop_rules, manifest
from hsts_coverage.bench.mixdns import SILENT_ZONE, policy_text, zone_text


@pytest.mark.parametrize("n", [100, 2000, 10_001])
def test_the_mix_has_the_shares_and_is_the_same_every_time(n: int) -> None:
    entries = manifest(n, "127.72")
    assert entries == manifest(n, "127.72")
    assert len({e.name for e in entries}) == n
    counts = Counter(e.kind for e in entries)
    for kind, (share, _, _) in SHARES.items():
        assert abs(counts[kind] - n * share / 100) <= 1, kind


def test_names_share_addresses_and_unresolved_names_have_none() -> None:
    entries = manifest(2000, "127.72")
    per_address = Counter(e.address for e in entries if e.address)
    assert max(per_address.values()) == PER_ADDRESS
    unresolved = {e.kind for e in entries if e.address is None}
    assert unresolved == {Kind.NXDOMAIN, Kind.SILENT_NS}
    assert all(2 <= e.delay <= 5 for e in entries if e.kind is Kind.SLOW)


def test_the_drop_rule_names_every_dropped_address() -> None:
    rules = drop_rules("t", ["127.72.30.1", "127.72.30.2"])
    assert "ip daddr { 127.72.30.1, 127.72.30.2 } drop" in rules


def test_named_serves_every_resolving_name_and_drops_the_silent_zone() -> None:
    entries = manifest(200, "127.72")
    records = {
        line.split()[0].rstrip("."): line.split()[-1]
        for line in zone_text(entries, "127.72.0.53").splitlines()
        if " IN A " in line and line.startswith("h")
    }
    assert records == {e.name: e.address for e in entries if e.address}
    assert not [name for name in records if name.endswith(SILENT_ZONE)]
    policy = policy_text()
    assert f"{SILENT_ZONE} CNAME rpz-drop." in policy
    assert f"*.{SILENT_ZONE} CNAME rpz-drop." in policy
