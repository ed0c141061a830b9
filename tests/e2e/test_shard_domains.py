"""Shards that ask certificate transparency once per domain, against the lab, counted in the lab
CT server's request log: with several domains `--shard K/N` gives each shard whole domains; with
one, `enumerate` writes the names once and `scan --names-from --shard K/N` scans slices of them.
The negative twin: the old way (every shard enumerates the one domain) asks N times."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers import LabInfo, ct_searches, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e


def records(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def of_type(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in found if r["type"] == kind]


def test_several_domains_shard_by_whole_domains(lab: LabInfo, tmp_path: Path) -> None:
    agent = "hsts-coverage-tests/by-domain"
    domains = [lab.domain, *sorted(lab.policy_sites)[:2]]
    shards = []
    for k in (1, 2):
        report = tmp_path / f"shard{k}.ndjson"
        args = ["scan", *domains, *lab_options(lab), "--shard", f"{k}/2", "-o", str(report)]
        run = hsts_coverage([*args, "--user-agent", agent, "--quiet"], tmp_path)
        assert run.code in (0, 1), run.stderr
        shards.append(records(report))
    assert [[s["domain"] for s in of_type(r, "summary")] for r in shards] == [
        [domains[0], domains[2]],
        [domains[1]],
    ]
    for shard in shards:
        assert shard[0]["options"]["shard_by"] == "domain"
        mine = {s["domain"] for s in of_type(shard, "summary")}
        assert {h["domain"] for h in of_type(shard, "host")} == mine  # whole domains only
        assert all(s["policy"] is not None for s in of_type(shard, "summary"))  # apex each
    assert sorted(ct_searches(lab, agent)) == sorted(domains)  # each domain asked once
    paths = [str(tmp_path / f"shard{k}.ndjson") for k in (1, 2)]
    merged_path = tmp_path / "merged.ndjson"
    merge = hsts_coverage(["merge", *paths, "-o", str(merged_path)], tmp_path)
    assert merge.code == 1, merge.stderr
    merged = records(merged_path)
    by_domain = {s["domain"]: s for shard in shards for s in of_type(shard, "summary")}
    assert [s["domain"] for s in of_type(merged, "summary")] == domains
    assert all(s == by_domain[s["domain"]] for s in of_type(merged, "summary"))  # gathered
    assert len(of_type(merged, "host")) == sum(len(of_type(s, "host")) for s in shards)


def test_one_domain_sharded_the_old_way_asks_ct_in_every_shard(
    lab: LabInfo, tmp_path: Path
) -> None:
    """The negative twin of the counts: the counter does see a domain asked twice."""
    agent = "hsts-coverage-tests/by-name"
    for k in (1, 2):
        args = ["scan", lab.domain, *lab_options(lab), "--shard", f"{k}/2", "--no-apex-check"]
        run = hsts_coverage([*args, "--user-agent", agent, "--quiet"], tmp_path)
        assert run.code in (1, 3), run.stderr
    assert ct_searches(lab, agent) == [lab.domain, lab.domain]


def enumerate_lab(lab: LabInfo, tmp_path: Path, agent: str, *extra: str) -> tuple[int, Path]:
    names = tmp_path / "names.ndjson"
    args = [
        "enumerate",
        lab.domain,
        "--ct-url",
        lab.ct_url,
        "--resolver",
        lab.resolver,
        "--no-guess",
    ]
    run = hsts_coverage([*args, "-o", str(names), "--user-agent", agent, *extra], tmp_path)
    assert "Traceback" not in run.stderr
    return run.code, names


def test_enumerate_once_then_scan_slices_of_the_list(lab: LabInfo, tmp_path: Path) -> None:
    agent = "hsts-coverage-tests/names-from"
    code, names = enumerate_lab(lab, tmp_path, agent)
    assert code == 0
    listed = records(names)
    assert listed[0]["type"] == "names"
    [domain] = of_type(listed, "domain")
    assert (domain["domain"], domain["status"]) == (lab.domain, "complete")
    entries = {r["name"]: r for r in of_type(listed, "name")}
    assert len(entries) == domain["names"] > 10
    assert entries[f"www.{lab.domain}"]["found_by"] == ["crtsh"]
    paths = []
    for k in (1, 2, 3):
        report = tmp_path / f"slice{k}.ndjson"
        args = ["scan", "--names-from", str(names), *lab_options(lab), "--shard", f"{k}/3"]
        run = hsts_coverage([*args, "-o", str(report), "--user-agent", agent, "-q"], tmp_path)
        assert run.code in (0, 1, 3), run.stderr
        assert records(report)[0]["options"]["shard_by"] == "name"
        paths.append(str(report))
    assert ct_searches(lab, agent) == [lab.domain]  # the enumeration's one search, no more
    merged_path = tmp_path / "merged.ndjson"
    assert hsts_coverage(["merge", *paths, "-o", str(merged_path)], tmp_path).code == 1
    merged = records(merged_path)
    [summary] = of_type(merged, "summary")
    probes = {z["probe_name"] for z in summary["wildcard_dns"]}
    met = {h["host"] for h in of_type(merged, "host") if h["found_by"] == ["cname"]}
    assert met  # the names met while checking are scanned from a list too
    assert {h["host"] for h in of_type(merged, "host")} == set(entries) | probes | met
    assert summary["enumeration"]["status"] == "complete"
    assert summary["verdict"] == "NOT SAFE"
    www = next(h for h in of_type(merged, "host") if h["host"] == f"www.{lab.domain}")
    assert www["ct"]["sources"] == ["crt.sh"]  # the CT facts came along in the list


def test_a_failed_enumeration_stays_failed_in_the_list(lab: LabInfo, tmp_path: Path) -> None:
    names_file = tmp_path / "mine.txt"
    names_file.write_text(f"www.{lab.domain}\n")
    down = ["--ct-url", f"http://{lab.base}.0.3", "--ct-attempts", "1"]  # nothing listens there
    args = ["enumerate", lab.domain, *down, "--resolver", lab.resolver, "--no-guess"]
    names = tmp_path / "names.ndjson"
    run = hsts_coverage([*args, "--names-file", str(names_file), "-o", str(names)], tmp_path)
    assert run.code == 3
    assert f"{lab.domain}: 2 names (failed" in run.stderr
    scan = hsts_coverage(["scan", "--names-from", str(names), *lab_options(lab), "-q"], tmp_path)
    assert scan.code == 3, scan.stderr  # www and the apex are fine, but never SAFE
    assert scan.summary()["verdict"] == "INCONCLUSIVE"


def test_a_name_list_cut_short_is_refused(lab: LabInfo, tmp_path: Path) -> None:
    _, names = enumerate_lab(lab, tmp_path, "hsts-coverage-tests/cut")
    lines = names.read_bytes().splitlines()
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(b"\n".join(lines[:-3]) + b"\n")
    run = hsts_coverage(["scan", "--names-from", str(cut), *lab_options(lab)], tmp_path)
    assert run.code == 2
    assert "the list is cut short" in run.stderr
    outside = tmp_path / "outside.ndjson"
    outside.write_bytes(names.read_bytes().replace(f"www.{lab.domain}".encode(), b"www.evil.test"))
    run = hsts_coverage(["scan", "--names-from", str(outside), *lab_options(lab)], tmp_path)
    assert run.code == 2
    assert "'www.evil.test' is not a name under" in run.stderr
    run = hsts_coverage(["scan", "other.test", "--names-from", str(names)], tmp_path)
    assert (run.code, "has no names for other.test" in run.stderr) == (2, True)


def test_more_shards_than_domains_is_a_usage_error(tmp_path: Path) -> None:
    run = hsts_coverage(["scan", "a.example", "b.example", "--shard", "3/3"], tmp_path)
    assert run.code == 2
    assert "2 domains make at most 2 shards of whole domains" in run.stderr
