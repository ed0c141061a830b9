"""Every record a real lab scan writes validates against the shipped JSON Schema.

The schema is validated with every object closed (tests/unit/test_schema.py), so a field the
records gain without the schema fails here. Two scans cover both shapes of a summary: the full
lab (CT, every scenario, the apex report) and a `--no-ct --no-apex-check` scan (policy null);
a sharded scan and its merge (`--shard`, `hsts-coverage merge`) cover those reports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import LabInfo, Run, hsts_coverage, lab_options
from tests.unit.test_schema import errors

pytestmark = pytest.mark.e2e


def invalid(records: list[dict[str, Any]]) -> list[str]:
    """Every problem of every record, named by record: `host www.x: https/status: ...`."""
    return [
        f"{record.get('type')} {record.get('host', record.get('domain', ''))}: {problem}"
        for record in records
        for problem in errors(record)
    ]


def test_every_record_of_the_lab_scan_is_valid(lab: LabInfo, tmp_path: Path) -> None:
    run = hsts_coverage(["scan", lab.domain, *lab_options(lab), "--no-progress"], tmp_path)
    assert run.code == 1, run.stderr
    assert [r["type"] for r in run.records[:: len(run.records) - 1]] == ["scan", "summary"]
    assert len(run.hosts()) > 30
    assert invalid(run.records) == []


def test_records_without_ct_or_apex_check_are_valid(lab: LabInfo, tmp_path: Path) -> None:
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--no-apex-check"]
    run = hsts_coverage(args, tmp_path)
    assert run.summary()["policy"] is None
    assert invalid(run.records) == []


def test_the_schema_refuses_a_lab_record_it_does_not_describe(lab: LabInfo, tmp_path: Path) -> None:
    """The negative twin: the same lab records with one field renamed are refused."""
    run: Run = hsts_coverage(["scan", lab.domain, *lab_options(lab), "--no-ct"], tmp_path)
    host = orjson.loads(orjson.dumps(run.hosts()[lab.domain]))
    host["hostname"] = host.pop("host")
    assert invalid([host]) != []


def test_the_shards_and_their_merge_are_valid(lab: LabInfo, tmp_path: Path) -> None:
    shards = []
    for k in (1, 2):
        shard = tmp_path / f"shard-{k}.ndjson"
        args = ["scan", lab.domain, *lab_options(lab), "--shard", f"{k}/2", "-o", str(shard)]
        hsts_coverage(args, tmp_path)
        shards.append(shard)
    merged = tmp_path / "merged.ndjson"
    hsts_coverage(["merge", *map(str, shards), "-o", str(merged)], tmp_path)
    for path in [*shards, merged]:
        records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
        assert invalid(records) == [], path.name
    assert orjson.loads(merged.read_bytes().splitlines()[0])["merged_from"] == ["1/2", "2/2"]
