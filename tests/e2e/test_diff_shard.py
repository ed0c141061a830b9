"""Scheduled scans: diff between runs, --baseline, --shard with merge, several domains."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import LabInfo, Run, hsts_coverage, lab_options, scan_names

pytestmark = pytest.mark.e2e


def test_diff_of_two_scans_with_a_host_changed_in_between(lab: LabInfo, tmp_path: Path) -> None:
    old = scan_names(lab, tmp_path, "monday", "www", "wild", "no-redirect")
    new = scan_names(lab, tmp_path, "tuesday", "www", "no-redirect", "expired")
    run = hsts_coverage(["diff", str(old), str(new), "--format", "json"], tmp_path)
    assert run.code == 1
    result = orjson.loads(run.stdout)
    changes = {(c["change"], c["host"]) for c in result["changes"]}
    assert changes == {
        ("newly_breaks", f"expired.{lab.domain}"),
        ("appeared", f"expired.{lab.domain}"),
        ("disappeared", f"wild.{lab.domain}"),
    }
    assert result["verdicts"] == [{"domain": lab.domain, "old": "SAFE", "new": "NOT SAFE"}]
    table = hsts_coverage(["diff", str(old), str(new)], tmp_path)
    assert table.stdout.startswith("1 host(s) newly break")
    assert f"expired.{lab.domain}  (new) -> breaks  cert_expired" in table.stdout
    lines = hsts_coverage(["diff", str(old), str(new), "--format", "ndjson"], tmp_path).stdout
    assert [orjson.loads(line)["type"] for line in lines.splitlines()][-1] == "diff"


def test_diff_without_news_exits_0(lab: LabInfo, tmp_path: Path) -> None:
    old = scan_names(lab, tmp_path, "a", "www", "expired")
    new = scan_names(lab, tmp_path, "b", "www", "expired")
    run = hsts_coverage(["diff", str(old), str(new)], tmp_path)
    assert (run.code, run.stdout.splitlines()[0]) == (0, f"nothing newly breaks since {old}")


def test_scan_with_a_baseline_prints_the_diff(lab: LabInfo, tmp_path: Path) -> None:
    old = scan_names(lab, tmp_path, "old", "www")
    names = tmp_path / "now.txt"
    names.write_text(f"www.{lab.domain}\nexpired.{lab.domain}\n", encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    run = hsts_coverage([*args, "--baseline", str(old), "--quiet"], tmp_path)
    assert "1 host(s) newly break" in run.stdout
    assert run.code == 1  # the scan's own verdict: NOT SAFE


def test_a_bad_baseline_is_refused_before_the_scan(lab: LabInfo, tmp_path: Path) -> None:
    bad = tmp_path / "old.ndjson"
    bad.write_text("not a report\n", encoding="utf-8")
    report = tmp_path / "now.ndjson"
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "-o", str(report), "--quiet"]
    run = hsts_coverage([*args, "--baseline", str(bad)], tmp_path)
    assert (run.code, len(run.stderr.splitlines())) == (2, 1), run.stderr
    assert str(bad) in run.stderr
    assert not report.exists()  # refused before the scan started, not after it


def host_view(records: list[dict[str, Any]]) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        r["host"]: (r["status"], tuple(x["code"] for x in r["reasons"]))
        for r in records
        if r["type"] == "host"
    }


def test_shards_merged_equal_one_scan(lab: LabInfo, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    full = hsts_coverage(["scan", lab.domain, *lab_options(lab)], tmp_path / "full")
    shards = []
    for k in (1, 2, 3):
        report = tmp_path / f"shard{k}.ndjson"
        args = ["scan", lab.domain, *lab_options(lab), "--shard", f"{k}/3", "-o", str(report)]
        hsts_coverage([*args, "--quiet"], tmp_path)
        hosts = host_view([orjson.loads(line) for line in report.read_bytes().splitlines()])
        assert 0 < len(hosts) < len(full.hosts())
        shards.append(str(report))
    merged_path = tmp_path / "merged.ndjson"
    merge = hsts_coverage(["merge", *shards, "-o", str(merged_path)], tmp_path)
    assert merge.code == full.code == 1
    merged = [orjson.loads(line) for line in merged_path.read_bytes().splitlines()]
    assert host_view(merged) == host_view(full.records)
    keys = ("verdict", "hosts", "counts", "breaking", "warnings", "unknown", "wildcard_dns")
    summary = merged[-1]
    assert {k: summary[k] for k in keys} == {k: full.summary()[k] for k in keys}
    assert summary["policy"]["preload_ready"] == full.summary()["policy"]["preload_ready"]
    assert summary["advice"] == full.summary()["advice"]


def test_merge_refuses_a_missing_shard(lab: LabInfo, tmp_path: Path) -> None:
    report = tmp_path / "shard1.ndjson"
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--shard", "1/2", "-o", str(report)]
    hsts_coverage([*args, "--quiet"], tmp_path)
    run = hsts_coverage(["merge", str(report)], tmp_path)
    assert run.code == 2
    assert "shard(s) 2/2 missing" in run.stderr


def test_a_shard_of_no_hosts_is_not_safe_on_its_own(lab: LabInfo, tmp_path: Path) -> None:
    from hsts_coverage.rules.names import in_shard

    names = [lab.domain, f"www.{lab.domain}"]  # --no-ct: the apex and the names given
    empty = next(k for k in range(1, 51) if not any(in_shard(n, k, 50) for n in names))
    full = next(k for k in range(1, 51) if any(in_shard(n, k, 50) for n in names))
    listed = tmp_path / "names.txt"
    listed.write_text(f"www.{lab.domain}\n", encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(listed)]
    run = hsts_coverage([*args, "--shard", f"{empty}/50"], tmp_path)
    assert (run.code, run.summary()["verdict"], run.summary()["hosts"]) == (3, "INCONCLUSIVE", 0)
    assert "holds none of the names" in run.summary()["why"]
    twin = hsts_coverage([*args, "--shard", f"{full}/50", "--no-apex-check"], tmp_path)
    assert (twin.code, twin.summary()["verdict"]) == (0, "SAFE")


@pytest.mark.parametrize(
    "value", ["0/0", "1/0", "3/2", f"1/{'9' * 5000}", "1/99999999999", "x", "1/2/3"]
)
def test_a_bad_shard_is_a_usage_error(tmp_path: Path, value: str) -> None:
    run = hsts_coverage(["scan", "example.com", "--no-ct", "--shard", value], tmp_path)
    assert run.code == 2
    assert run.stderr.startswith("hsts-coverage: error: --shard")
    assert "Traceback" not in run.stderr


def test_merge_of_a_shard_that_did_not_finish_is_inconclusive(lab: LabInfo, tmp_path: Path) -> None:
    reports = []
    for k in (1, 2):
        report = tmp_path / f"shard{k}.ndjson"
        args = ["scan", lab.domain, *lab_options(lab), "--shard", f"{k}/2", "-o", str(report)]
        hsts_coverage([*args, "--quiet", "--no-apex-check"], tmp_path)
        reports.append(report)
    lines = reports[1].read_bytes().splitlines()
    reports[1].write_bytes(b"\n".join(lines[:-1]) + b"\n")  # its summary lost: it never ended
    run = hsts_coverage(["merge", *map(str, reports)], tmp_path)
    summary = orjson.loads(run.stdout.splitlines()[-1])
    assert (run.code, summary["verdict"]) == (1, "NOT SAFE")  # lab hosts break in shard 1 or 2
    assert summary["interrupted"] is True


def test_several_domains_from_a_file(lab: LabInfo, tmp_path: Path) -> None:
    domains = tmp_path / "domains.txt"
    domains.write_text(f"# ours\n{lab.domain}\npreload-ready.test\n", encoding="utf-8")
    args = ["scan", "--domains-file", str(domains), *lab_options(lab), "--no-ct"]
    run = hsts_coverage(args, tmp_path)
    assert run.code == 0, run.stderr
    summaries = [r for r in run.records if r["type"] == "summary"]
    assert [s["domain"] for s in summaries] == [lab.domain, "preload-ready.test"]
    assert [s["verdict"] for s in summaries] == ["SAFE", "SAFE"]
    assert run.code == 0


def test_reports_of_older_and_newer_versions(lab: LabInfo, tmp_path: Path) -> None:
    new = scan_names(lab, tmp_path, "new", "www", "expired")
    records = [orjson.loads(line) for line in new.read_bytes().splitlines()]
    older = tmp_path / "older.ndjson"  # as version 0.1 wrote it: fields added later are missing
    for record in records:
        for added in ("per_address", "timings", "policy", "advice", "wildcard_dns"):
            record.pop(added, None)
    older.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert hsts_coverage(["diff", str(older), str(new)], tmp_path).code == 0
    records[0]["schema_version"] = 99
    newer = tmp_path / "newer.ndjson"
    newer.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    run = hsts_coverage(["diff", str(newer), str(new)], tmp_path)
    assert run.code == 2
    assert "written with report schema 99" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "example.com", "--shard", "4/3"], "--shard '4/3'"),
        (["scan", "example.com", "--shard", "x"], "give K/N"),
        (["scan", "--domains-file", "/nonexistent"], "domains file /nonexistent does not exist"),
        (["scan"], "no domain given"),
        (["diff", "/nonexistent", "/nonexistent"], "report /nonexistent does not exist"),
    ],
)
def test_bad_input(args: list[str], message: str, tmp_path: Path) -> None:
    run: Run = hsts_coverage(args, tmp_path)
    assert run.code == 2
    assert message in run.stderr
