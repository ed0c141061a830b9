"""One wait per dead address: 200 names behind one address that drops packets cost about one
time-out, not 200 / --per-ip of them; names on a healthy address are not affected.

The drop is real: an nftables rule on the input hook drops every packet to one loopback address
of this lab base (SYNs go out and are never answered, as behind a firewall); the rule's table is
deleted when the test ends. A small DNS server (dnspython) answers every name under
`drop.test` with that address. The slow host is a trustme-certified server on the
next address that answers after a second.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rdatatype
import dns.rrset
import pytest
import trustme

from tests.helpers import LabInfo, UdpDnsServer, hsts_coverage, lab_options

pytestmark = [pytest.mark.e2e, pytest.mark.alone]  # wall-time bounds: run with nothing beside

NAMES = 200
SLOW_NAMES = 100
TIMEOUT = 1.0  # seconds: without sharing the names would cost 200 / 8 of them


def _dropped_address() -> str:
    return f"{os.environ.get('HSTS_LAB_BASE', '127.78')}.251.7"


def _dropped_range() -> str:
    """The first three octets of a /22 whose packets are dropped too: many dead addresses."""
    return f"{os.environ.get('HSTS_LAB_BASE', '127.78')}.244"


@pytest.fixture
def dropping() -> Iterator[str]:
    """An address whose packets are dropped, for the length of one test."""
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not Path(nft).exists():
        pytest.fail("nft is not installed (make system-deps installs nftables)")
    address, table = _dropped_address(), f"hsts_drop_{os.getpid()}"
    rules = (
        f"table ip {table} {{\n chain input {{\n type filter hook input priority -10;\n"
        f" ip daddr {address} drop\n ip daddr {_dropped_range()}.0/22 drop\n }}\n}}\n"
    )
    subprocess.run([nft, "-f", "-"], input=rules.encode(), check=True)
    try:
        yield address
    finally:
        subprocess.run([nft, "delete", "table", "ip", table], check=True)


class DnsServer(UdpDnsServer):
    """`with DnsServer(address) as resolver:` a DNS server on `127.0.0.1:PORT` (dnspython) that
    answers every A query with `address`, and every other query with no record."""

    def __init__(self, address: str, spread: bool = False) -> None:
        super().__init__()
        self._address = address
        self._spread = spread  # nI.many.test: the I-th address of the dropped /22 instead

    def _answer(self, question: dns.rrset.RRset) -> str:
        label = question.name.labels[0].decode()
        if not (self._spread and label[1:].isdigit()):
            return self._address
        third, fourth = divmod(int(label[1:]), 250)
        first = _dropped_range().rsplit(".", 1)
        return f"{first[0]}.{int(first[1]) + third}.{fourth + 1}"

    def reply(self, query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        question = query.question[0]
        if question.rdtype == dns.rdatatype.A:
            record = dns.rrset.from_text(question.name, 60, "IN", "A", self._answer(question))
            reply.answer.append(record)
        return reply


@pytest.fixture
def dns_server(dropping: str) -> Iterator[str]:
    """A resolver that sends every name to the dropping address."""
    with DnsServer(dropping) as resolver:
        yield resolver


def _names(tmp_path: Path, template: str, count: int = NAMES) -> Path:
    path = tmp_path / "names.txt"
    path.write_text("".join(template.format(i) + "\n" for i in range(count)), encoding="utf-8")
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
    # (On a loaded machine the lab's DNS has been seen to leave a name without an answer.)
    hosts = [h for h in hosts if h["dns"]["status"] == "resolved"]
    assert len(hosts) >= NAMES * 0.9
    # Each name gets its own answer: here the lab's certificate, which names one label down only.
    assert all(h["https"]["outcome"] == "cert_invalid" for h in hosts)
    assert all(h["host"] in h["https"]["error"] for h in hosts)
    assert all(h["http"]["outcome"] == "ok" for h in hosts)
    assert not [h for h in hosts if "shared with" in str(h)]


def _scan_with_files(
    resolver: str, ca: Path, tmp_path: Path, nofile: str
) -> tuple[list[dict[str, Any]], str]:
    """Scan 100 names of the slow server (each connection open for a second) under
    `prlimit --nofile=SOFT:HARD`, all at once (--concurrency 100 --per-ip 100)."""
    names = _names(tmp_path, "n{}.slow.test", SLOW_NAMES)
    report = tmp_path / "report.ndjson"
    args = ["scan", "slow.test", "--no-ct", "--no-guess", "--no-apex-check", "--quiet"]
    args += ["--resolver", resolver, "--allow-cidr", "127.0.0.0/8", "--ca-bundle", str(ca)]
    args += ["--timeout", "5", "--names-file", str(names), "--workers", "0"]
    args += ["--concurrency", "100", "--per-ip", "100", "-o", str(report)]
    command = ["prlimit", f"--nofile={nofile}", sys.executable, "-m", "hsts_coverage", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    lines = report.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines], run.stderr


def test_out_of_file_descriptors_waits_instead_of_judging(
    slow_server: tuple[str, Path], tmp_path: Path
) -> None:
    # 64 descriptors for 100 connections held open at once: sockets run out.
    address, ca = slow_server
    with DnsServer(address) as resolver:
        records, stderr = _scan_with_files(resolver, ca, tmp_path, "64:64")
    hosts = {r["host"]: r for r in records if r["type"] == "host"}
    for i in range(SLOW_NAMES):
        host = hosts[f"n{i}.slow.test"]
        assert host["https"]["outcome"] == "ok", (host["https"], stderr)
        assert host["http"]["outcome"] == "refused", host["http"]  # nothing on port 80
    assert records[0]["options"]["open_files"] == 64


def test_the_soft_open_files_limit_is_raised_to_the_hard_one(
    slow_server: tuple[str, Path], tmp_path: Path
) -> None:
    address, ca = slow_server
    with DnsServer(address) as resolver:
        records, stderr = _scan_with_files(resolver, ca, tmp_path, "64:4096")
    assert records[0]["options"]["open_files"] == 4096, stderr
    hosts = [r for r in records if r["type"] == "host" and r["host"].startswith("n")]
    assert len(hosts) == SLOW_NAMES
    assert all(h["https"]["outcome"] == "ok" for h in hosts), stderr


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on port 443 of one address of this lab base that answers after 1 s,
    and the CA that signed its certificate (trustme)."""
    address = _dropped_address().rsplit(".", 1)[0] + ".8"
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("slow.test", "*.slow.test").configure_cert(context)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    listener = socket.create_server((address, 443))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with contextlib.suppress(OSError), context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            time.sleep(1.0)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def serve() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                conn, _ = listener.accept()
                conn.settimeout(5)
                threading.Thread(target=answer, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield address, ca_path
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_slow_response_keeps_the_full_timeout(
    slow_server: tuple[str, Path], tmp_path: Path
) -> None:
    # The answer comes after 1 s: within --timeout 3, far beyond the connect's 0.3 s.
    address, ca = slow_server
    names = tmp_path / "names.txt"
    names.write_text("slow.test\n", encoding="utf-8")
    with DnsServer(address) as resolver:
        args = ["scan", "slow.test", "--no-ct", "--no-guess", "--no-apex-check", "--quiet"]
        args += ["--resolver", resolver, "--allow-cidr", "127.0.0.0/8", "--ca-bundle", str(ca)]
        args += ["--timeout", "3", "--connect-timeout", "0.3", "--names-file", str(names)]
        host = hsts_coverage(args, tmp_path).hosts()["slow.test"]
    assert host["https"]["outcome"] == "ok", host["https"]
    assert host["https"]["elapsed_ms"] >= 950


MANY = 1000


def test_at_the_defaults_names_waiting_on_dead_addresses_take_no_slot(
    dropping: str, tmp_path: Path
) -> None:
    # 1,000 names on 1,000 dropping addresses: with 100 hosts in flight, 10 time-outs in a row.
    args = ["scan", "many.test", "--no-ct", "--no-guess", "--no-apex-check", "--quiet"]
    args += ["--allow-cidr", "127.0.0.0/8", "--timeout", str(TIMEOUT)]
    args += ["--names-file", str(_names(tmp_path, "n{}.many.test", MANY)), "--workers", "0"]
    with DnsServer(dropping, spread=True) as resolver:
        started = time.monotonic()
        run = hsts_coverage([*args, "--resolver", resolver], tmp_path)
        elapsed = time.monotonic() - started
    hosts = [run.hosts()[f"n{i}.many.test"] for i in range(MANY)]
    assert all(h["https"]["outcome"] == "timeout" for h in hosts)
    assert len({h["probed_address"] for h in hosts}) == MANY
    assert elapsed < 5 * TIMEOUT + 3, elapsed  # not 10 time-outs in a row


TARPIT_TIMEOUT = 2.0  # seconds: a name that queued for a slot would take two of them


@pytest.fixture
def tarpit() -> Iterator[str]:
    """An address of this lab base whose ports 443 and 80 accept TCP and never say a word: the
    kernel completes every connection into a backlog nobody reads (TLS handshakes hang, plain
    HTTP requests get no answer)."""
    address = _dropped_address().rsplit(".", 1)[0] + ".9"
    listeners = [socket.create_server((address, port), backlog=64) for port in (443, 80)]
    try:
        yield address
    finally:
        for listener in listeners:
            listener.close()


def test_names_behind_a_tarpit_do_not_queue_for_per_ip_slots(tarpit: str, tmp_path: Path) -> None:
    # 8 names (the domain itself and the random name that finds the wildcard among them),
    # --per-ip 8: 8 plain-HTTP requests wait on the
    # silent listener (each name's own: a virtual host may answer one name and not another) and
    # the first TLS handshake hangs for the 7 others. Were that handshake to hold a slot, one of
    # the 9 would wait a time-out for a slot before its own.
    count = 6
    args = ["scan", "tarpit.test", "--no-ct", "--no-guess", "--no-apex-check", "--quiet"]
    args += ["--allow-cidr", "127.0.0.0/8", "--timeout", str(TARPIT_TIMEOUT), "--per-ip", "8"]
    args += ["--names-file", str(_names(tmp_path, "n{}.tarpit.test", count)), "--workers", "0"]
    with DnsServer(tarpit) as resolver:
        run = hsts_coverage([*args, "--resolver", resolver], tmp_path)
    hosts = list(run.hosts().values())
    assert len(hosts) == count + 2, list(run.hosts())
    assert all(h["https"]["outcome"] == "timeout" for h in hosts), [h["https"] for h in hosts]
    assert all(h["http"]["outcome"] == "timeout" for h in hosts), [h["http"] for h in hosts]
    assert sum("shared with" in h["https"]["error"] for h in hosts) == len(hosts) - 1
    waits = [h[probe]["elapsed_ms"] / 1000 for h in hosts for probe in ("https", "http")]
    assert max(waits) < 1.6 * TARPIT_TIMEOUT, sorted(waits)
