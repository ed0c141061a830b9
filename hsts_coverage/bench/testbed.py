"""The fleet the benchmark runs against: the lab's DNS and CT, nginx, and the delaying proxy.

`Testbed(work, hosts=N, base=..., per_address=K, rtt_ms=MS, nginx=BINARY)`, used as a context
manager, starts:

1. the lab (`python -m hsts_coverage.lab --fleet N --fleet-serve dns --fleet-per-address K`):
   DNS on `{base}.0.53`, CT on `{base}.0.2`, the fleet certificate, no fleet web listener;
2. nginx on every fleet address (see `hsts_coverage.bench.nginx`) with that certificate, or,
   with an RTT, on the parallel addresses `upstream_address(a)` (third octet + 100);
3. with an RTT, the delaying proxy (`hsts_coverage.bench.proxy`) on the fleet addresses, ports
   443 and 80, relaying to nginx;

then checks the whole chain (a name's address as DNS gives it out, TLS verified against the lab
CA, 200 over HTTPS, 301 over HTTP) for the apex and the first and last hosts, and writes the
names file (the apex and every name CT returns: N + 1 names) for the baseline; `ct_rows` is
the number of rows in that CT answer (one per host). Last, it asks the lab's DNS for every name
once (`warm_dns`), so that the first round does not pay for filling its answer cache. On leaving it
stops them in reverse order. `services_cpu()` gives each service's CPU seconds so far.

K names per address keep nginx's and the proxy's listening sockets (2 per address, in every
nginx worker) under RLIMIT_NOFILE: `per_address_for(N)` is the smallest K that leaves
`FD_HEADROOM` descriptors for connections and files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import resource
import sys
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

import aiodns

from hsts_coverage.bench.nginx import NginxSite, start_nginx
from hsts_coverage.bench.probe import wait_for_fleet
from hsts_coverage.bench.process import BenchError, Service
from hsts_coverage.bench.proxy import write_routes
from hsts_coverage.lab.scale import FLEET_DOMAIN, Fleet, FleetServe

FD_HEADROOM = 2000  # descriptors left beside the listening sockets (connections, files)
UPSTREAM_SHIFT = 100  # nginx's third octet in latency mode: the fleet's plus this
_LAB_START_SECONDS = 180.0
_PROXY_START_SECONDS = 120.0
_CHAIN_SECONDS = 30.0
_CT_SECONDS = 120.0
_PORTS = (443, 80)
_WARM_CONCURRENCY = 200


def per_address_for(hosts: int, fd_limit: int | None = None) -> int:
    """The fewest names per address whose listening sockets (two per address, the apex's
    included) leave FD_HEADROOM of `fd_limit` (default: the soft RLIMIT_NOFILE) free."""
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0] if fd_limit is None else fd_limit
    addresses = (limit - FD_HEADROOM) // 2 - 1  # the apex has an address of its own
    if addresses < 1:
        raise BenchError(f"RLIMIT_NOFILE {limit} leaves no room for the fleet's sockets")
    return max(1, math.ceil(hosts / addresses))


def upstream_address(address: str) -> str:
    """Where nginx listens for the fleet `address` when the proxy holds that address."""
    a, b, c, d = address.split(".")
    if int(c) + UPSTREAM_SHIFT > 249:
        raise BenchError(f"no room for an upstream address beside {address}")
    return f"{a}.{b}.{int(c) + UPSTREAM_SHIFT}.{d}"


class Testbed:
    """The lab, nginx and (with an RTT) the proxy, for the duration of a `with` block."""

    def __init__(
        self, work: Path, *, hosts: int, base: str, per_address: int, rtt_ms: float, nginx: str
    ) -> None:
        self.work = work
        self.fleet = Fleet(base, hosts, 0.0, per_address, FleetServe.DNS)
        self.rtt_ms = rtt_ms
        self.nginx = nginx
        self.services: dict[str, Service] = {}
        self.info: dict[str, Any] = {}
        self.names_file = work / "names.txt"
        self.ct_rows = 0  # rows in the CT answer for the fleet, once started
        self._stack = ExitStack()

    @property
    def domain(self) -> str:
        return FLEET_DOMAIN

    @property
    def ca_bundle(self) -> Path:
        return Path(self.info["ca_bundle"])

    def __enter__(self) -> Testbed:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    def services_cpu(self) -> dict[str, float]:
        return {name: service.cpu_seconds() for name, service in self.services.items()}

    def _start(self) -> None:
        self._start_lab()
        addresses = self.fleet.addresses()
        if self.rtt_ms:
            self._start_nginx([upstream_address(a) for a in addresses])
            self._start_proxy(addresses)
        else:
            self._start_nginx(addresses)
        self._check_chain()
        self._write_names()
        asyncio.run(warm_dns(read_lines(self.names_file), self.info["resolver"]))

    def _add(self, service: Service) -> Service:
        self.services[service.name] = service
        self._stack.callback(service.stop)
        return service

    def _start_lab(self) -> None:
        state = self.work / "lab"
        argv = [sys.executable, "-m", "hsts_coverage.lab", "--base", self.fleet.base]
        argv += ["--state-dir", str(state), "--fleet", str(self.fleet.size)]
        argv += ["--fleet-serve", "dns", "--fleet-per-address", str(self.fleet.per_address)]
        state.mkdir(parents=True)
        lab = self._add(Service("lab", argv, self.work / "lab.stderr"))
        self.info = json.loads(lab.ready_line(_LAB_START_SECONDS))

    def _start_nginx(self, addresses: list[str]) -> None:
        certs = self.ca_bundle.parent / "certs" / FLEET_DOMAIN  # see hsts_coverage.lab.certs
        site = NginxSite(
            addresses=tuple(addresses),
            server_names=(FLEET_DOMAIN, f"*.{FLEET_DOMAIN}"),
            certificate=certs / "valid.pem",
            key=certs / "valid.key",
        )
        self._add(start_nginx(self.nginx, self.work / "nginx", site, self.ca_bundle))

    def _start_proxy(self, addresses: list[str]) -> None:
        routes = {(a, p): (upstream_address(a), p) for a in addresses for p in _PORTS}
        write_routes(self.work / "proxy-routes.txt", routes)
        argv = [sys.executable, "-m", "hsts_coverage.bench.proxy"]
        argv += ["--routes", str(self.work / "proxy-routes.txt"), "--rtt-ms", str(self.rtt_ms)]
        proxy = self._add(Service("proxy", argv, self.work / "proxy.stderr"))
        proxy.ready_line(_PROXY_START_SECONDS)

    def _check_chain(self) -> None:
        last = self.fleet.size - 1
        hosts = [(self.fleet.apex.address, self.fleet.apex.name)]
        if self.fleet.size:
            hosts += [(self.fleet.address(0), self.fleet.name(0))]
            hosts += [(self.fleet.address(last), self.fleet.name(last))]
        problem = wait_for_fleet(hosts, self.ca_bundle, _CHAIN_SECONDS)
        if problem is not None:
            raise BenchError(f"the fleet does not answer as it should: {problem}")

    def _write_names(self) -> None:
        names, self.ct_rows = fleet_names(self.info["ct_url"], self.domain)
        if len(names) != self.fleet.size + 1:
            raise BenchError(f"CT gave {len(names) - 1} names, expected {self.fleet.size}")
        self.names_file.write_text("".join(f"{name}\n" for name in names))


async def warm_dns(names: list[str], resolver: str) -> None:
    """Ask the lab's DNS server for every name's A and AAAA once, as the scanner and the
    baseline will (c-ares, same flags): its answer cache then serves every round alike, the
    first included."""
    dns = aiodns.DNSResolver(nameservers=[resolver], timeout=5.0, tries=3)
    semaphore = asyncio.Semaphore(_WARM_CONCURRENCY)

    async def ask(name: str, qtype: str) -> None:
        async with semaphore:
            with contextlib.suppress(aiodns.error.DNSError):  # AAAA: NODATA
                await dns.query_dns(name, qtype)

    try:
        await asyncio.gather(*(ask(name, qtype) for name in names for qtype in ("A", "AAAA")))
    finally:
        await dns.close()


def read_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


def fleet_names(ct_url: str, domain: str) -> tuple[list[str], int]:
    """The apex and every distinct name in the lab CT's answer for `domain`, in CT order, and
    the number of rows in that answer."""
    url = f"{ct_url}/?q=%25.{domain}&output=json"
    with urllib.request.urlopen(url, timeout=_CT_SECONDS) as response:
        rows = json.load(response)
    names = [domain]
    for row in rows:
        names += row["name_value"].split("\n")
    return list(dict.fromkeys(name.strip().lower() for name in names)), len(rows)
