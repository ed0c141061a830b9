"""Merging shard reports: SAFE only from every shard 1..N, once each, each finished."""

from __future__ import annotations

from typing import Any

import pytest

from hsts_coverage.report.merge import MAX_SHARDS, merge_reports, parse_shard
from hsts_coverage.report.reader import Report, ReportError, parse_records

D = "example.com"


def shard(label: Any, *hosts: str, summary: bool = True, interrupted: bool = False) -> Report:
    records: list[dict[str, Any]] = [
        {"type": "scan", "schema_version": 1, "options": {"shard": label}}
    ]
    records += [
        {"type": "host", "host": h, "domain": D, "status": "ok", "reasons": []} for h in hosts
    ]
    if summary:
        records.append(
            {
                "type": "summary",
                "domain": D,
                "verdict": "SAFE",
                "enumeration": {"status": "complete"},
                "interrupted": interrupted,
                "wildcard_dns": [],
                "policy": None,
            }
        )
    return parse_records(records, f"shard {label}")


def verdict(reports: list[Report]) -> tuple[str, str]:
    (summary,) = [r for r in merge_reports(reports) if r["type"] == "summary"]
    return summary["verdict"], summary["why"]


def test_every_shard_finished_is_safe() -> None:
    assert verdict([shard("1/2", "a.example.com"), shard("2/2", "b.example.com")])[0] == "SAFE"


def test_a_shard_without_a_summary_is_inconclusive() -> None:
    reports = [shard("1/2", "a.example.com"), shard("2/2", "b.example.com", summary=False)]
    assert verdict(reports) == (
        "INCONCLUSIVE",
        "shard 2/2 has no summary for example.com (it did not finish)",
    )


def test_an_interrupted_shard_is_inconclusive() -> None:
    reports = [shard("1/2", "a.example.com"), shard("2/2", interrupted=True)]
    assert verdict(reports)[0] == "INCONCLUSIVE"


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["0/0"], "not K/N"),
        (["1/0"], "not K/N"),
        (["1/99999999999"], "not K/N"),
        ([f"1/{'9' * 5000}"], "not K/N"),
        (["2/1"], "not K/N"),
        (["a/b"], "not K/N"),
        ([3], "not K/N"),
        (["1/2", "1/2", "2/2"], "1/2 given twice"),
        (["1/2", "2/3"], "different shardings"),
        (["1/3", "2/3"], "3/3 missing"),
        ([None], "one sharded scan"),
    ],
)
def test_a_set_that_is_not_one_whole_sharded_scan_is_refused(
    labels: list[Any], message: str
) -> None:
    with pytest.raises(ReportError, match=message):
        merge_reports([shard(label) for label in labels])


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "host", "host": "a.example.com"},  # no domain, no status
        {"type": "host", "host": "a.example.com", "domain": D, "status": "ok", "reasons": 3},
        {"type": "summary", "domain": D, "wildcard_dns": 5},
        {"type": "summary", "domain": D, "enumeration": "x", "wildcard_dns": []},
    ],
)
def test_records_of_the_wrong_shape_are_a_report_error(bad: dict[str, Any]) -> None:
    first = shard("1/1", "b.example.com")
    with pytest.raises(ReportError, match="wrong shape"):
        merge_reports([parse_records([*first.records, bad], "shard 1/1")])


def test_the_bound_on_n() -> None:
    assert parse_shard(f"{MAX_SHARDS}/{MAX_SHARDS}") == (MAX_SHARDS, MAX_SHARDS)
    assert parse_shard(f"1/{MAX_SHARDS + 1}") is None
