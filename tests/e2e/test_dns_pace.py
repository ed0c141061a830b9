"""DNS at the pace of the answers, against a real DNS server on loopback.

The server (dnspython, in a thread) behaves as a recursive resolver under strain does:

- a per-client rate limit (a token bucket, as unbound's `ip-ratelimit` or a cloud resolver's
  packets-per-second cap): queries beyond it are dropped without a word;
- a zone (`silent.pace.test`) whose name server never answers: its queries are never answered;
- one name (`quiet.pace.test`) that never answers, in a zone that does.

Every name that exists resolves to an address where nothing listens (connection refused), so
the scan is about DNS alone. Without pacing and the time budget, names dropped three times
come back `dns_error`; without the per-zone sharing, every name under the silent zone pays its
own tries (the server counts them).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from tests.helpers import UdpDnsServer, hsts_coverage

pytestmark = [pytest.mark.e2e, pytest.mark.alone]  # wall-time bounds: run with nothing beside

BUSY = 400  # names that resolve, behind the rate limit
SILENT = 60  # names under the silent zone
NXDOMAIN = 100
TIMEOUT = 2.0  # --timeout: DNS tries get 3 x 2 s per name and record type


def _nowhere() -> str:
    """An address of this lab base where nothing listens: every connection is refused."""
    return f"{os.environ.get('HSTS_LAB_BASE', '127.78')}.252.9"


class StrainedResolver(UdpDnsServer):
    """`with StrainedResolver(rate) as address:` the server above on `127.0.0.1:PORT`;
    `rate` queries per second (burst: a tenth of it) are answered, the rest dropped (0: all)."""

    def __init__(self, rate: float) -> None:
        super().__init__(receive_buffer=4 << 20)
        self.rate = rate
        self.queries: Counter[str] = Counter()  # per kind: busy, silent, quiet, nx
        self.dropped = 0
        self._tokens = rate / 10
        self._refilled = time.monotonic()

    def _admitted(self) -> bool:
        if not self.rate:
            return True
        now = time.monotonic()
        self._tokens = min(self.rate / 10, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def reply(self, query: dns.message.Message) -> dns.message.Message | None:
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = _kind(name)
        self.queries[kind] += 1
        if kind in ("silent", "quiet"):
            return None  # never answered
        if not self._admitted():
            self.dropped += 1
            return None
        reply = dns.message.make_response(query)
        if kind == "nx":
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", _nowhere()))
        return reply


def _kind(name: str) -> str:
    if name.endswith(".silent.pace.test"):
        return "silent"
    if name == "quiet.pace.test":
        return "quiet"
    return "nx" if name.startswith("nx") else "busy"


def _scan(
    resolver: str, names: list[str], tmp_path: Path, *options: str
) -> tuple[dict[str, Any], float]:
    names_file = tmp_path / "names.txt"
    names_file.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    args = ["scan", "pace.test", "--no-ct", "--no-guess", "--no-apex-check", "--quiet"]
    args += ["--resolver", resolver, "--allow-cidr", "127.0.0.0/8", "--timeout", str(TIMEOUT)]
    args += ["--names-file", str(names_file), *options]
    started = time.monotonic()
    run = hsts_coverage(args, tmp_path)
    elapsed = time.monotonic() - started
    assert run.code in (0, 1, 2, 3), run.stderr
    return run.hosts(), elapsed


def test_a_resolver_that_drops_under_load_is_slowed_down_and_asked_again(tmp_path: Path) -> None:
    server = StrainedResolver(rate=200)
    with server as resolver:
        busy = [f"n{i}.pace.test" for i in range(BUSY)]
        hosts, elapsed = _scan(resolver, busy, tmp_path)
    assert server.dropped > 100, server.dropped  # the limit did bite
    errors = [n for n in busy if hosts[n]["dns"]["status"] != "resolved"]
    assert not errors, (len(errors), [hosts[n]["dns"] for n in errors[:3]])
    assert all(hosts[n]["addresses"] == [_nowhere()] for n in busy)
    assert elapsed < 60, elapsed


def test_a_silent_name_server_costs_its_tries_once_per_zone(tmp_path: Path) -> None:
    server = StrainedResolver(rate=0)
    with server as resolver:
        silent = [f"s{i}.silent.pace.test" for i in range(SILENT)]
        answering = [f"n{i}.pace.test" for i in range(SILENT)]
        hosts, elapsed = _scan(resolver, [*silent, *answering, "quiet.pace.test"], tmp_path)
    # The first names of the zone pay the tries, the others share their outcome.
    shared = [n for n in silent if "shared with" in (hosts[n]["dns"]["error"] or "")]
    assert len(shared) >= SILENT - 4, [hosts[n]["dns"] for n in silent[:3]]
    assert all(hosts[n]["status"] == "unknown" for n in silent)
    assert "no name server of silent.pace.test answered" in hosts[shared[0]]["dns"]["error"]
    # A leader's tries are a query per record type each; 60 names paying theirs: hundreds.
    assert server.queries["silent"] <= 4 * 2 * 12, server.queries
    # A silent name in a zone that answers is on its own: its own time-out, nothing shared.
    quiet = hosts["quiet.pace.test"]
    assert quiet["status"] == "unknown"
    assert quiet["dns"]["error"] == "timed out", quiet["dns"]
    assert all(hosts[n]["dns"]["status"] == "resolved" for n in answering)
    assert elapsed < 30, elapsed


def test_names_that_do_not_exist_stay_cheap(tmp_path: Path) -> None:
    server = StrainedResolver(rate=0)
    with server as resolver:
        names = [f"nx{i}.pace.test" for i in range(NXDOMAIN)]
        hosts, elapsed = _scan(resolver, names, tmp_path)
    assert all(hosts[n]["status"] == "not_affected" for n in names)
    # A, AAAA and the CNAME look-up of a name that does not resolve: one query each, no retry.
    assert server.queries["nx"] == 3 * NXDOMAIN, server.queries
    assert elapsed < 15, elapsed


def test_names_waiting_on_dns_hold_no_place_of_the_hosts_probed(tmp_path: Path) -> None:
    # 50 hosts probed at once, at most; 60 names wait on the silent zone. Had they held those
    # places while they waited, the names after them would have waited for the zone's outcome
    # too; as it is, every other name (resolved, its address refusing) is done before it.
    server = StrainedResolver(rate=0)
    with server as resolver:
        silent = [f"s{i}.silent.pace.test" for i in range(SILENT)]
        # (z...: after the silent zone's names in the enumeration's order, which they lead)
        answering = [f"z{i}.pace.test" for i in range(400)]
        hosts, elapsed = _scan(resolver, [*silent, *answering], tmp_path, "--concurrency", "50")
    order = list(hosts)  # the report's order: the order the hosts were done in
    last_answering = max(order.index(name) for name in answering)
    first_silent = min(order.index(name) for name in silent)
    assert last_answering < first_silent, (last_answering, first_silent)
    assert all(hosts[n]["status"] == "unknown" for n in silent)
    assert elapsed < 30, elapsed
