"""The hosts CT cannot see: the zone lab (`dns-lab.test`, served by BIND) scanned with each source.

CT lists only the apex, www and `*.dns-lab.test`; the HTTP-only hosts are in DNS alone. Every
scan here goes to the lab's DNS (`--resolver`), and transfers go to the lab's BIND.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from pathlib import Path
from typing import Any

import dns.message
import dns.rrset
import orjson
import pytest

from hsts_coverage.config import Nameserver
from hsts_coverage.lab.zonelab import WILDCARD_ZONE, ZONE_DOMAIN, ZONE_HOSTS
from hsts_coverage.sources import axfr
from tests.helpers import LabInfo, Run, hsts_coverage

pytestmark = pytest.mark.e2e

CT_NAMES = {ZONE_DOMAIN, f"www.{ZONE_DOMAIN}"}


def reach(lab: LabInfo, *, loopback: bool = True) -> list[str]:
    """Point a scan of the zone lab at the lab: real options, guessing left as the caller says."""
    options = ["--ct-url", lab.ct_url, "--resolver", lab.resolver, "--ca-bundle", lab.ca_bundle]
    options += ["--timeout", "3", "--no-apex-check"]
    return options + (["--allow-cidr", "127.0.0.0/8"] if loopback else [])


def scan(lab: LabInfo, tmp_path: Path, *options: str, loopback: bool = True) -> Run:
    return hsts_coverage(["scan", ZONE_DOMAIN, *reach(lab, loopback=loopback), *options], tmp_path)


def zone_lab(lab: LabInfo) -> dict[str, Any]:
    assert lab.zone_lab is not None
    return lab.zone_lab


def expected(run: Run) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every zone-lab host a complete scan checks -> (status, reasons): the table's rows, with
    the wildcard row standing for the random name probed under `*.dev`."""
    probe = {z["zone"]: z["probe_name"] for z in run.summary()["wildcard_dns"]}[WILDCARD_ZONE]
    rows = {}
    for host in ZONE_HOSTS:
        name = probe if host.label.startswith("*.") else host.name()
        rows[name] = (host.expect_status, tuple(r.value for r in host.expect_reasons))
    return rows


def verdicts(run: Run) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        name: (r["status"], tuple(x["code"] for x in r["reasons"] if x["severity"] != "info"))
        for name, r in run.hosts().items()
    }


@pytest.mark.parametrize("source", ["zone-file", "axfr"])
def test_the_zone_gives_every_host_and_an_authoritative_answer(
    lab: LabInfo, tmp_path: Path, source: str
) -> None:
    where = zone_lab(lab)["zone_file"] if source == "zone-file" else zone_lab(lab)["axfr"]
    run = scan(lab, tmp_path, f"--{source}", where, "--no-guess")
    assert run.code == 1, run.stderr
    # `*.dev` is recorded as wildcard DNS, as CT wildcards are: the bare name is scanned too.
    bare = {WILDCARD_ZONE: ("not_affected", ("no_dns",))}
    assert verdicts(run) == expected(run) | bare
    for name, record in run.hosts().items():
        found_by = [source]
        if name == ZONE_DOMAIN:
            found_by = ["user", "crtsh", source]
        elif name in CT_NAMES:
            found_by = ["crtsh", source]
        elif name.endswith("." + WILDCARD_ZONE):
            found_by = ["wildcard-probe"]
        assert record["found_by"] == found_by, name
    enumeration = run.summary()["enumeration"]
    assert enumeration["authoritative"] is True
    assert enumeration["status"] == "complete"
    assert enumeration["per_source"][source]["status"] == "complete"
    assert "The zone was read: every name in it was checked." in " ".join(run.summary()["advice"])


def test_zq7_only_the_zone_knows(lab: LabInfo, tmp_path: Path) -> None:
    """The negative twin of the zone scans: CT and the common labels never find the oddly named
    host, nor anything under the `*.dev` wildcard."""
    run = scan(lab, tmp_path)
    assert f"zq7-legacy-ops.{ZONE_DOMAIN}" not in run.hosts()
    assert not any(name.endswith(WILDCARD_ZONE) for name in run.hosts())


def test_the_default_scan_finds_the_common_http_only_host_and_is_not_safe(
    lab: LabInfo, tmp_path: Path
) -> None:
    run = scan(lab, tmp_path)
    assert run.code == 1, run.stderr
    hosts = run.hosts()
    assert hosts[f"blog.{ZONE_DOMAIN}"]["status"] == "breaks"
    assert hosts[f"blog.{ZONE_DOMAIN}"]["found_by"] == ["guess"]
    assert hosts[f"shop.{ZONE_DOMAIN}"]["found_by"] == ["guess"]  # under the wildcard cert
    assert hosts[f"docs.{ZONE_DOMAIN}"]["found_by"] == ["guess"]
    assert hosts[f"docs-origin-4f.{ZONE_DOMAIN}"]["found_by"] == ["cname"]  # met on the way
    assert verdicts(run)[f"docs-origin-4f.{ZONE_DOMAIN}"] == ("breaks", ("https_refused",))
    summary = run.summary()
    assert summary["verdict"] == "NOT SAFE"
    enumeration = summary["enumeration"]
    assert enumeration["authoritative"] is False
    guessed = enumeration["per_source"]["guess"]
    assert guessed["status"] == "complete"
    assert "of 4989 common labels resolve" in guessed["detail"]
    assert f"blog.{ZONE_DOMAIN} (found by guess)" in run.stdout
    assert "not authoritative" in run.stdout


def test_safe_without_the_zone_says_what_it_could_not_see(lab: LabInfo, tmp_path: Path) -> None:
    run = scan(lab, tmp_path, "--no-guess")
    assert run.code == 0, run.stdout
    summary = run.summary()
    assert summary["verdict"] == "SAFE"
    assert set(run.hosts()) == CT_NAMES
    assert "hosts that never had a certificate may be missing" in summary["why"]
    assert "without the zone" in run.stdout.splitlines()[0]
    advice = " ".join(summary["advice"])
    assert "Names came from: user 1, crtsh 2." in advice
    assert "--zone-file" in advice
    assert "--axfr" in advice
    assert f"*.{ZONE_DOMAIN} in CT: the hosts under a wildcard certificate" in advice


def test_a_refused_transfer_is_inconclusive_with_a_note(lab: LabInfo, tmp_path: Path) -> None:
    refused = zone_lab(lab)["axfr_refused"]
    run = scan(lab, tmp_path, "--axfr", refused, "--no-guess")
    assert run.code == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    summary = run.summary()
    assert summary["verdict"] == "INCONCLUSIVE"
    enumeration = summary["enumeration"]
    assert enumeration["status"] == "failed"
    assert enumeration["per_source"]["axfr"]["status"] == "failed"
    assert any(f"from {refused}: transfer refused (REFUSED)" in n for n in enumeration["notes"])
    assert set(run.hosts()) == CT_NAMES  # the other sources' names are still checked


def test_axfr_auto_asks_the_domains_name_servers(lab: LabInfo, tmp_path: Path) -> None:
    run = scan(lab, tmp_path, "--axfr", "auto", "--no-guess")
    assert verdicts(run) == expected(run) | {WILDCARD_ZONE: ("not_affected", ("no_dns",))}
    assert run.summary()["enumeration"]["authoritative"] is True


def test_a_name_server_at_a_private_address_needs_the_opt_in(lab: LabInfo, tmp_path: Path) -> None:
    run = scan(lab, tmp_path, "--axfr", "auto", "--no-guess", loopback=False)
    enumeration = run.summary()["enumeration"]
    assert run.code == 3
    assert enumeration["per_source"]["axfr"]["status"] == "failed"
    assert any("a private address: not asked" in note for note in enumeration["notes"])


def test_a_zone_file_for_another_zone_is_a_usage_error(lab: LabInfo, tmp_path: Path) -> None:
    other = tmp_path / "other.zone"
    other.write_text("$ORIGIN other.test.\n$TTL 60\nwww A 192.0.2.1\n")
    run = scan(lab, tmp_path, "--zone-file", str(other))
    assert run.code == 2
    assert run.stderr.count("\n") == 1
    assert "is for other.test, not for dns-lab.test" in run.stderr


def test_the_5000_common_labels_resolve_quickly(lab: LabInfo, tmp_path: Path) -> None:
    run = scan(lab, tmp_path)
    enumerated = run.summary()["timings"]["enumerated"]
    print(f"\n4989 common labels against the lab's resolver: {enumerated:.2f} s")
    assert enumerated < 5.0


def test_a_host_a_new_source_found_is_new_in_the_diff(lab: LabInfo, tmp_path: Path) -> None:
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    before = scan(lab, tmp_path / "before", "--no-guess")
    after = scan(lab, tmp_path / "after", "--zone-file", zone_lab(lab)["zone_file"], "--no-guess")
    old, new = tmp_path / "before" / "report.ndjson", tmp_path / "after" / "report.ndjson"
    assert (before.code, after.code) == (0, 1)
    diff = hsts_coverage(["diff", str(old), str(new), "--format", "json"], tmp_path)
    assert diff.code == 0, diff.stdout  # nothing *newly* breaks: it was broken all along
    assert f"blog.{ZONE_DOMAIN}" in diff.stdout
    assert "a source the earlier scan did not use" in diff.stdout


def test_shards_of_a_zone_scan_merge_into_the_whole(lab: LabInfo, tmp_path: Path) -> None:
    zone_file = zone_lab(lab)["zone_file"]
    whole = scan(lab, tmp_path, "--zone-file", zone_file)
    shards = []
    for k in (1, 2):
        (tmp_path / str(k)).mkdir()
        scan(lab, tmp_path / str(k), "--zone-file", zone_file, "--shard", f"{k}/2")
        shards.append(str(tmp_path / str(k) / "report.ndjson"))
    merged_path = tmp_path / "merged.ndjson"
    merge = hsts_coverage(["merge", *shards, "-o", str(merged_path)], tmp_path)
    assert merge.code == whole.code == 1, merge.stderr
    lines = merged_path.read_bytes().splitlines()
    merged = Run(merge.code, "", "", [orjson.loads(line) for line in lines])
    assert verdicts(merged) == verdicts(whole)
    assert {h: r["found_by"] for h, r in merged.hosts().items()} == {
        h: r["found_by"] for h, r in whole.hosts().items()
    }
    enumeration, expected = merged.summary()["enumeration"], whole.summary()["enumeration"]
    assert enumeration["authoritative"] is expected["authoritative"] is True
    assert enumeration["per_source"] == expected["per_source"]
    assert merged.summary()["advice"] == whole.summary()["advice"]


class _AxfrServer:
    """A name server on loopback that answers a transfer with `records` A records, endlessly
    many with `records=None`, or never (`silent`)."""

    def __init__(self, records: int | None, *, silent: bool = False) -> None:
        self.records, self.silent = records, silent
        self.stop = asyncio.Event()
        self.sessions: list[asyncio.Task[None]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.sessions.append(task)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await self._answer(reader, writer)
        writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
        query = dns.message.from_wire(await reader.readexactly(length))
        if self.silent:
            await self.stop.wait()
            return
        soa = dns.rrset.from_text(
            ZONE_DOMAIN + ".", 60, "IN", "SOA", f"ns1.{ZONE_DOMAIN}. h.{ZONE_DOMAIN}. 1 2 3 4 5"
        )
        sent = 0
        while (self.records is None or sent < self.records) and not self.stop.is_set():
            response = dns.message.make_response(query)
            response.answer = [soa] if sent == 0 else []
            for _ in range(100):
                name = f"h{sent}.{ZONE_DOMAIN}."
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", "192.0.2.1"))
                sent += 1
            wire = response.to_wire()
            writer.write(struct.pack("!H", len(wire)) + wire)
            await writer.drain()
            await asyncio.sleep(0)  # the client shares this event loop
        response = dns.message.make_response(query)
        response.answer = [soa]
        wire = response.to_wire()
        writer.write(struct.pack("!H", len(wire)) + wire)
        await writer.drain()


async def _transfer(server: _AxfrServer, max_records: int, seconds: float = 30.0) -> str:
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        names = await axfr.transfer(
            ZONE_DOMAIN, Nameserver("127.0.0.1", port), seconds=seconds, max_records=max_records
        )
        return f"{len(names.names)} names"
    except axfr.AxfrError as exc:
        return str(exc)
    finally:
        server.stop.set()
        listener.close()
        await asyncio.gather(*server.sessions)


async def test_a_transfer_is_bounded_in_size_and_time() -> None:
    assert await _transfer(_AxfrServer(300), max_records=1000) == "300 names"
    endless = await _transfer(_AxfrServer(None), max_records=1000)
    assert endless.endswith("transfer stopped at more than 1000 records")
    silent = await _transfer(_AxfrServer(1, silent=True), max_records=1000, seconds=1.0)
    assert silent.endswith("no complete transfer within 1 s")
