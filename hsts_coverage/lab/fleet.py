"""The whole lab in one asyncio process: `Lab(domain, base, state_dir)`, started and stopped.

Everything is generated from the scenario table, on loopback addresses under `base` ("127.x"):

- `{base}.0.53` port 53: the DNS server (UDP and TCP);
- `{base}.0.2` port 80: the crt.sh look-alike and `GET /lab/stats`;
- `{base}.1.N`: the N-th scenario with `Dns.A` (table order), with its port 443 and port 80
  listeners (a listener set to NOTHING leaves the port closed).

`Lab.info` is what a scanner needs: the domain, CT URL, resolver, CA bundle, base, `hosts` (every
name that resolves to a lab address, CNAMEs included, -> that address) and the pid.
`Lab.stats` gives the per-port connection and handshake counters.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import ssl
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from hsts_coverage.lab.certs import LabCertificates, generate
from hsts_coverage.lab.ct import CtServer, ct_records
from hsts_coverage.lab.dns import DnsServer, build_zone
from hsts_coverage.lab.scenarios import (
    LAB_DOMAIN,
    SCENARIOS,
    Cert,
    Dns,
    Listen,
    Reply,
    Scenario,
    ct_certificates,
)
from hsts_coverage.lab.web import Site, WebHosts, tls_context

DEFAULT_BASE = "127.77"
DNS_PORT = 53
CT_PORT = 80
HTTPS_PORT = 443
HTTP_PORT = 80


def host_addresses(base: str, scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, str]:
    """Label -> `{base}.1.N` for every Dns.A scenario, N counting from 1 in table order."""
    labels = [s.label for s in scenarios if s.dns is Dns.A]
    return {label: f"{base}.1.{n}" for n, label in enumerate(labels, start=1)}


def _check_base(base: str) -> None:
    # The lab must never bind or answer with an address that leaves the machine.
    try:
        address = ipaddress.ip_address(f"{base}.0.2")
    except ValueError:
        raise ValueError(f"base must look like 127.77, not {base!r}") from None
    if not address.is_loopback:
        raise ValueError(f"base {base!r} is not in 127.0.0.0/8")


class Lab:
    """The DNS, CT and web servers for one domain; an async context manager, used once."""

    def __init__(
        self,
        domain: str = LAB_DOMAIN,
        base: str = DEFAULT_BASE,
        state_dir: Path = Path("lab-state"),
    ) -> None:
        _check_base(base)
        self.domain = domain.lower()
        self.base = base
        self.state_dir = state_dir.resolve()
        self.addresses = host_addresses(base)
        self.web = WebHosts()
        self._ct: CtServer | None = None
        self._certs: LabCertificates | None = None
        self._stack = AsyncExitStack()

    @property
    def info(self) -> dict[str, Any]:
        if self._certs is None:
            raise RuntimeError("the lab is not started")
        return {
            "domain": self.domain,
            "ct_url": f"http://{self.base}.0.2",  # CT_PORT is HTTP's default
            "resolver": f"{self.base}.0.53:{DNS_PORT}",
            "ca_bundle": str(self._certs.ca_bundle),
            "base": self.base,
            "hosts": self._hosts(),
            "pid": os.getpid(),
        }

    @property
    def stats(self) -> dict[str, Any]:
        """What /lab/stats serves: {"connections": {"address:port": {"accepted": n,
        "handshakes": n}}, "ct_requests": n}, counted since the start."""
        return {
            "connections": self.web.stats_json(),
            "ct_requests": len(self._ct.requests) if self._ct else 0,
        }

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._certs = await asyncio.to_thread(generate, self.domain, self.state_dir)
        try:
            await self._start_dns()
            await self._start_ct()
            await self._start_web(self._certs)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> Lab:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start_dns(self) -> None:
        zone = build_zone(self.domain, SCENARIOS, self.addresses)
        dns = DnsServer(zone, f"{self.base}.0.53", DNS_PORT)
        self._stack.push_async_callback(dns.stop)
        await dns.start()

    async def _start_ct(self) -> None:
        records = ct_records(ct_certificates(self.domain), dt.datetime.now(dt.UTC))
        self._ct = CtServer(
            self.domain,
            records,
            f"{self.base}.0.2",
            CT_PORT,
            self.state_dir / "ct-requests.log",
            lambda: self.stats,
        )
        self._stack.push_async_callback(self._ct.stop)
        await self._ct.start()

    async def _start_web(self, certs: LabCertificates) -> None:
        self._stack.push_async_callback(self.web.stop)
        contexts: dict[tuple[Cert, Listen], ssl.SSLContext] = {}
        for scenario in SCENARIOS:
            if scenario.dns is not Dns.A:
                continue
            address = self.addresses[scenario.label]
            name = scenario.name(self.domain)
            tls = None
            if scenario.https in (Listen.TLS, Listen.TLS10):
                # One context per certificate and mode: loading keys is the slow part.
                key = (scenario.cert, scenario.https)
                tls = contexts.get(key) or tls_context(certs.pairs[scenario.cert], scenario.https)
                contexts[key] = tls
            https_site = Site(name, self._routes(scenario.https_routes))
            http_site = Site(name, self._routes(scenario.http_replies()))
            await self.web.listen(address, HTTPS_PORT, scenario.https, https_site, tls)
            await self.web.listen(address, HTTP_PORT, scenario.http, http_site, None)

    def _routes(self, routes: tuple[tuple[str, Reply], ...]) -> dict[str, Reply]:
        return {
            path: Reply(reply.status, _format(reply.location, self.domain))
            for path, reply in routes
        }

    def _hosts(self) -> dict[str, str]:
        """Name -> lab address, for Dns.A names and CNAMEs whose target has one."""
        hosts: dict[str, str] = {}
        for scenario in SCENARIOS:
            name = scenario.name(self.domain)
            target = scenario.cname_target
            if scenario.dns is Dns.A:
                hosts[name] = self.addresses[scenario.label]
            elif scenario.dns is Dns.CNAME and target is not None and target in self.addresses:
                hosts[name] = self.addresses[target]
        return hosts


def _format(location: str | None, domain: str) -> str | None:
    return None if location is None else location.format(domain=domain)
