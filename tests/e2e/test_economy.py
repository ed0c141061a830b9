"""Handshake economy: on the happy path a host sees one TLS handshake and one HTTP connection.

Counted by the lab's own listeners (not a timing test): a scanner that retried, re-verified or
re-read certificates on healthy hosts would show here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import LabInfo, hsts_coverage, lab_options

pytestmark = pytest.mark.e2e

HEALTHY = ("wild", "no-redirect", "expiring")  # each on its own address, nothing wrong with TLS


def lab_stats(lab: LabInfo) -> dict[str, Any]:
    with urllib.request.urlopen(f"{lab.ct_url}/lab/stats", timeout=5) as answer:  # loopback
        stats: dict[str, Any] = json.load(answer)
    return stats["connections"]


def delta(before: dict[str, Any], after: dict[str, Any], listener: str) -> tuple[int, int]:
    """(connections accepted, TLS handshakes completed) on a listener between two readings."""
    was, now = before.get(listener, {}), after.get(listener, {})
    return (
        now.get("accepted", 0) - was.get("accepted", 0),
        now.get("handshakes", 0) - was.get("handshakes", 0),
    )


@pytest.mark.parametrize("workers", ["0", "1"], ids=["main-process", "worker"])
@pytest.mark.parametrize("first_address", [True, False], ids=["first-address", "all-addresses"])
def test_one_handshake_and_one_http_connection_per_host(
    lab: LabInfo, tmp_path: Path, first_address: bool, workers: str
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("".join(f"{label}.{lab.domain}\n" for label in HEALTHY), encoding="utf-8")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    args += ["--no-apex-check", "--workers", workers]
    args += ["--first-address"] if first_address else []
    before = lab_stats(lab)
    run = hsts_coverage(args, tmp_path)
    after = lab_stats(lab)
    assert run.summary()["verdict"] == "SAFE"
    for label in ("", *HEALTHY):  # the apex is checked too
        address = lab.host(label)
        https = delta(before, after, f"{address}:443")
        http = delta(before, after, f"{address}:80")
        assert https == (1, 1), f"{label or 'apex'}: {https[0]} connections, {https[1]} handshakes"
        assert http[0] == 1, f"{label or 'apex'}: {http[0]} plain-HTTP connections"


_DECODER_CHECK = """
import asyncio, ipaddress, sys
from pathlib import Path
from hsts_coverage.probe.apex import follow
from hsts_coverage.probe.prober import Prober
from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver

async def main(resolver_at, ca, apex, host, address):
    resolver = Resolver((resolver_at,), timeout=2, attempts=2)
    policy = AddressPolicy(False, (ipaddress.ip_network("127.0.0.0/8"),))
    prober = Prober(ca_bundle=Path(ca), addresses=AddressBook(resolver, policy), timeout=5,
                    max_redirects=20, user_agent="t")
    chain = await follow(prober, f"https://{apex}/", hops=5)  # what the apex check asks
    print(chain[0].status, "cryptography" in sys.modules)
    probe = await prober.probe(host, address, apex)  # a host's own check reads its certificate
    print(probe.https.outcome.value, "cryptography" in sys.modules)
    await resolver.close()

asyncio.run(main(*sys.argv[1:]))
"""


def test_the_apex_check_decodes_no_certificate(lab: LabInfo) -> None:
    # The main process checks the apex; its hosts' certificates are read in a worker. Fetching
    # the apex and its redirects needs no certificate facts, so the main process does not load
    # cryptography (about 7 MiB) for them; the host's own HTTPS probe does decode (the twin).
    host = lab.name("no-redirect")
    argv = [sys.executable, "-c", _DECODER_CHECK, lab.resolver, lab.ca_bundle, lab.domain]
    done = subprocess.run(
        [*argv, host, lab.hosts[host]], capture_output=True, text=True, timeout=60, check=True
    )
    apex, probed = done.stdout.split("\n")[:2]
    assert apex.split()[1] == "False", done.stdout + done.stderr
    assert probed == "ok True", done.stdout + done.stderr
