"""What the tests share: the lab's description, a run of the real command line, and waits.

The one module test files import helpers from (a test module imports no other test module).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dns.message
import orjson

# Parallel runs (`make test` runs two pytest-xdist workers: most e2e tests wait on sockets and
# time-outs, not on the CPU). Each worker starts labs of its own, so no two workers may take the
# same addresses: worker N moves the second octet of each base up by BASE_STEP * N, from the
# defaults or from what the caller exported. Worker 0 and a run without workers keep the bases.
# Everything that binds an address reads these variables (the e2e fixtures, the dropped-address
# and benchmark tests, their subprocesses); nftables tables and state directories are named per
# process, so nothing else is shared.
BASE_STEP = 5
DEFAULT_BASES = {
    "HSTS_LAB_BASE": "127.78",
    "HSTS_FLEET_BASE": "127.76",
    "HSTS_BENCH_BASE": "127.69",
}


@dataclass(frozen=True, slots=True)
class LabInfo:
    domain: str
    ct_url: str
    resolver: str  # "address:port"
    ca_bundle: str
    distrust_file: str  # the retired lab roots' distrust-after rows
    base: str
    hosts: dict[str, str]  # name -> first address, for every name that resolves to the lab
    state_dir: Path
    alt_addresses: dict[str, list[str]] = field(default_factory=dict)  # name -> further addresses
    # policy site domain -> {"apex": address, "www": address, or None without a www record}
    policy_sites: dict[str, dict[str, str | None]] = field(default_factory=dict)
    # {"domain": "fleet.test", "hosts": N, "hanging": [names]}, or None without a fleet
    fleet: dict[str, Any] | None = None
    # {"domain": "dns-lab.test", "zone_file": path, "axfr": "address:53", "axfr_refused":
    # "address:53", "hosts": {name: first address}} (see hsts_coverage.lab.zonelab)
    zone_lab: dict[str, Any] | None = None
    pid: int = 0  # the lab process

    def host(self, label: str) -> str:
        """The address of `label` under the lab domain ("" is the apex)."""
        return self.hosts[self.name(label)]

    def addresses(self, label: str) -> list[str]:
        """Every address of `label`, in the order DNS gives them."""
        return [self.host(label), *self.alt_addresses.get(self.name(label), [])]

    def name(self, label: str) -> str:
        return f"{label}.{self.domain}" if label else self.domain


TIMEOUT = "2"  # seconds; the lab's silent hosts cost one timeout each


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str
    records: list[dict[str, Any]]

    def hosts(self) -> dict[str, dict[str, Any]]:
        return {r["host"]: r for r in self.records if r["type"] == "host"}

    def summary(self) -> dict[str, Any]:
        summaries = [r for r in self.records if r["type"] == "summary"]
        assert len(summaries) == 1
        return summaries[0]


def lab_options(lab: LabInfo, *, ca: bool = True, loopback: bool = True) -> list[str]:
    """The real options that point a scan at the lab. Common labels are not guessed here (the
    zone-lab tests cover guessing): these tests want exactly the lab's own names."""
    options = ["--ct-url", lab.ct_url, "--resolver", lab.resolver, "--timeout", TIMEOUT]
    options += ["--no-guess"]
    options += ["--ca-bundle", lab.ca_bundle, "--distrust-file", lab.distrust_file] if ca else []
    options += ["--allow-cidr", "127.0.0.0/8"] if loopback else []
    return options


def hsts_coverage(args: Sequence[str], tmp_path: Path, env: dict[str, str] | None = None) -> Run:
    report = tmp_path / "report.ndjson"
    command = [sys.executable, "-m", "hsts_coverage", *args]
    if args[:1] == ["scan"] and "-o" not in args and "--output" not in args:
        command += ["-o", str(report)]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**environment, **(env or {})}
    )
    lines = report.read_bytes().splitlines() if report.exists() else []
    return Run(done.returncode, done.stdout, done.stderr, [orjson.loads(line) for line in lines])


def wait_for_lines(path: Path, count: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the scan ended before it could be interrupted"
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never got {count} lines")


def scan_names(lab: LabInfo, tmp_path: Path, name: str, *labels: str) -> Path:
    names = tmp_path / f"{name}.txt"
    names.write_text("".join(f"{label}.{lab.domain}\n" for label in labels), encoding="utf-8")
    report = tmp_path / f"{name}.ndjson"
    args = ["scan", lab.domain, *lab_options(lab), "--no-ct", "--names-file", str(names)]
    hsts_coverage([*args, "-o", str(report), "--quiet"], tmp_path)
    return report


def ct_searches(lab: LabInfo, agent: str) -> list[str]:
    """The crt.sh searches (their `q`) the lab's CT server got from this User-Agent."""
    lines = (lab.state_dir / "ct-requests.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    return [
        e["query"].split("&")[0].removeprefix("q=%25.")
        for e in entries
        if e["user_agent"] == agent and e["path"] == "/"
    ]


def stats(lab: LabInfo, query: str = "") -> dict[str, Any]:
    """The lab's connection counters (peaks per address), from its CT server's stats page."""
    with urllib.request.urlopen(f"{lab.ct_url}/lab/stats{query}", timeout=5) as answer:
        connections: dict[str, Any] = json.load(answer)["connections"]
    return connections


class UdpDnsServer:
    """`with Server() as resolver:` a DNS server on `127.0.0.1:PORT` (`resolver` is that address)
    in a thread of the test process; a subclass says what `reply` answers (None: no answer)."""

    def __init__(self, receive_buffer: int | None = None) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if receive_buffer:  # a burst of queries must reach the reply, not the kernel's drops
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.address = f"127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> str:
        self._thread.start()
        return self.address

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()

    def reply(self, query: dns.message.Message) -> dns.message.Message | None:
        raise NotImplementedError

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            answer = self.reply(dns.message.from_wire(packet))
            if answer is not None:
                self._sock.sendto(answer.to_wire(), peer)


def worker_bases(worker: str, environ: dict[str, str]) -> dict[str, str]:
    """The lab bases pytest-xdist worker `worker` ("gw0", "gw1", ... or "master") uses."""
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    bases = {}
    for variable, default in DEFAULT_BASES.items():
        first, second = environ.get(variable, default).split(".")
        moved = int(second) + BASE_STEP * index
        if moved > 255:
            raise ValueError(f"{variable}: no room for worker {worker} above {first}.{second}")
        bases[variable] = f"{first}.{moved}"
    return bases
