"""The name list of `enumerate`: what is written is read back as the same enumeration, and a
list that could hide names (cut short, a name outside its domain, a newer format) is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from hsts_coverage.models import CtFacts, Enumeration, EnumerationStatus
from hsts_coverage.report.merge import merge_reports
from hsts_coverage.report.namelist import NameListError, read_name_list
from hsts_coverage.report.reader import Report, ReportError
from hsts_coverage.report.records import domain_records, header_record

WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ENUMERATION = Enumeration(
    domain="example.com",
    status=EnumerationStatus.TRUNCATED,
    names=("example.com", "www.example.com", "api.example.com"),
    ct={"www.example.com": CtFacts(2, WHEN, WHEN, ("R3",), sources=("certspotter", "crt.sh"))},
    wildcards=("*.example.com",),
    sources=("crt.sh", "certspotter"),
    rows=7,
    attempts=2,
    rejected={"outside_domain": 1},
    error=None,
    notes=("split a capped answer",),
)


def write(path: Path, *records: dict[str, object]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_a_list_reads_back_as_its_enumeration(tmp_path: Path) -> None:
    path = write(tmp_path / "names.ndjson", header_record(), *domain_records(ENUMERATION))
    [(domain, read)] = read_name_list(path).items()
    assert domain == "example.com"
    assert read.names == ENUMERATION.names
    assert read.ct == ENUMERATION.ct
    assert read.status is EnumerationStatus.TRUNCATED  # never better than it was
    assert (read.wildcards, read.sources, read.rows) == (("*.example.com",), ENUMERATION.sources, 7)
    assert read.notes[:-1] == ENUMERATION.notes
    found_by = {r["name"]: r["found_by"] for r in domain_records(ENUMERATION) if "found_by" in r}
    assert found_by["www.example.com"] == ["certspotter", "crtsh"]
    assert found_by["api.example.com"] == ["user"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rs: rs[:-1], "the list is cut short"),
        (lambda rs: [*rs[:2], {**rs[2], "name": "x.example.org"}, *rs[3:]], "not a name under"),
        (lambda rs: [{**rs[0], "format_version": 9}, *rs[1:]], "name list format 9"),
        (lambda rs: [rs[0], *rs[2:]], "a name before its domain record"),
        (lambda rs: [{**rs[1], "status": "great"} if i == 1 else r for i, r in enumerate(rs)],
         "no valid enumeration status"),
    ],
)  # fmt: skip
def test_a_list_that_could_hide_names_is_refused(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    listed = [header_record(), *domain_records(ENUMERATION)]
    path = write(tmp_path / "names.ndjson", *change(listed))
    with pytest.raises(NameListError, match=message):
        read_name_list(path)


def shard(k: int, domains: list[str], summaries: list[str]) -> Report:
    options = {"shard": f"{k}/2", "shard_by": "domain", "domains": domains}
    report = Report(f"shard{k}", {"type": "scan", "options": options})
    report.summaries = [{"type": "summary", "domain": d, "verdict": "SAFE"} for d in summaries]
    return report


def test_merging_whole_domains_keeps_their_summaries_and_misses_none() -> None:
    domains = ["a.test", "b.test", "c.test"]
    merged = merge_reports([shard(1, domains, ["a.test", "c.test"]), shard(2, domains, ["b.test"])])
    assert [r["domain"] for r in merged if r["type"] == "summary"] == domains
    with pytest.raises(ReportError, match=r"no shard has a summary of b\.test"):
        merge_reports([shard(1, domains, ["a.test", "c.test"]), shard(2, domains, [])])
