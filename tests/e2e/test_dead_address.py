"""One wait per dead address: 200 names behind one address that drops packets cost about one
time-out, not 200 / --per-ip of them; names on a healthy address are not affected.

The drop is real: an nftables rule on the input hook drops every packet to one loopback address
of this lab base (SYNs go out and are never answered, as behind a firewall); the rule's table is
deleted when the test ends. A small DNS server (dnspython) answers every name under
`drop.test` with that address.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rrset
import pytest

from tests.e2e.conftest import LabInfo
from tests.e2e.test_scan import hsts_coverage, lab_options

pytestmark = pytest.mark.e2e

NAMES = 200
TIMEOUT = 1.0  # seconds: without sharing the names would cost 200 / 8 of them


def _dropped_address() -> str:
    return f"{os.environ.get('HSTS_LAB_BASE', '127.78')}.251.7"


@pytest.fixture
def dropping() -> Iterator[str]:
    """An address whose packets are dropped, for the length of one test."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not Path(nft).exists():
        pytest.fail("nft is not installed (make system-deps installs nftables)")
    address, table = _dropped_address(), f"hsts_drop_{os.getpid()}"
    rules = (
        f"table ip {table} {{\n chain input {{\n type filter hook input priority -10;\n"
        f" ip daddr {address} drop\n }}\n}}\n"
    )
    subprocess.run([nft, "-f", "-"], input=rules.encode(), check=True)
    try:
        yield address
    finally:
        subprocess.run([nft, "delete", "table", "ip", table], check=True)


@pytest.fixture
def dns_server(dropping: str) -> Iterator[str]:
    """`127.0.0.1:PORT`: every A query under drop.test answers `dropping`, anything else
    NXDOMAIN."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                packet, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(packet)
            reply = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().lower()
            if name.endswith("drop.test.") and question.rdtype == 1:
                reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", dropping))
            elif not name.endswith("drop.test."):
                reply.set_rcode(3)
            sock.sendto(reply.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        sock.close()


def _names(tmp_path: Path, template: str) -> Path:
    path = tmp_path / "names.txt"
    path.write_text("".join(template.format(i) + "\n" for i in range(NAMES)), encoding="utf-8")
    return path


def test_names_behind_a_dropping_address_share_one_timeout(dns_server: str, tmp_path: Path) -> None:
    args = ["scan", "drop.test", "--no-ct", "--no-guess", "--no-apex-check", "--quiet"]
    args += ["--resolver", dns_server, "--allow-cidr", "127.0.0.0/8"]
    args += ["--timeout", str(TIMEOUT), "--per-ip", "8"]
    args += ["--names-file", str(_names(tmp_path, "n{}.drop.test"))]
    started = time.monotonic()
    run = hsts_coverage(args, tmp_path)
    elapsed = time.monotonic() - started
    hosts = [run.hosts()[f"n{i}.drop.test"] for i in range(NAMES)]
    assert all(h["status"] != "safe" for h in hosts)
    https = [h["https"] for h in hosts]
    assert all(p["outcome"] == "timeout" for p in https), https[:3]
    shared = [p for p in https if "shared with" in p["error"]]
    assert len(shared) >= NAMES - 2, https[:3]  # the first pays, the others are told so
    # 200 / 8 time-outs in line would take 25 s; one, plus the scan's start-up, a few seconds.
    assert elapsed < 8 * TIMEOUT + 4, elapsed


def test_names_on_a_healthy_address_connect_on_their_own(lab: LabInfo, tmp_path: Path) -> None:
    names = _names(tmp_path, f"n{{}}.wild.{lab.domain}")
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    args += ["--no-apex-check", "--quiet"]
    run = hsts_coverage(args, tmp_path)
    hosts = [run.hosts()[f"n{i}.wild.{lab.domain}"] for i in range(NAMES)]
    # Each name gets its own answer: here the lab's certificate, which names one label down only.
    assert all(h["https"]["outcome"] == "cert_invalid" for h in hosts)
    assert all(h["host"] in h["https"]["error"] for h in hosts)
    assert all(h["http"]["outcome"] == "ok" for h in hosts)
    assert not [h for h in hosts if "shared with" in str(h)]
