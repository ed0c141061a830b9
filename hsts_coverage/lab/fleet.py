"""The whole lab in one asyncio process: `Lab(domain, base, state_dir, fleet)`, started and
stopped.

Everything is generated from the scenario table, on loopback addresses under `base` ("127.x"):

- `{base}.0.53` port 53: the DNS server (UDP and TCP) for the lab domain and every policy site;
- `{base}.0.2` port 80: the crt.sh look-alike, the AIA URL of the lab intermediate and
  `GET /lab/stats`;
- `{base}.1.N`: the N-th scenario with an address of its own (`Dns.A` or `Dns.TRUNCATED`;
  table order, wildcard owners like `*.wild` included), with its port 443 and port 80 listeners
  (a listener set to NOTHING leaves the port closed);
- `{base}.2.N`: the second address of the N-th scenario with an `alt_cert`: the same listeners
  and routes, presenting `alt_cert` on 443;
- `{base}.3.N` and `{base}.4.N`: the apex and www of the N-th policy site (www's address stays
  unused when the site has no www);
- `{base}.5.N`: the zone lab's hosts (`dns-lab.test`, see `hsts_coverage.lab.zonelab`), the
  N-th row with an address of its own; `{base}.0.54` and `{base}.0.55` port 53: BIND's `named`
  serving that zone from `STATE_DIR/dns-lab.test.zone` (AXFR allowed on .54, refused on .55;
  see `hsts_coverage.lab.bind`), which the lab's own DNS on `{base}.0.53` also answers for;
- `{base}.9.1` and `{base}.10.1` onwards: the scale fleet, when `fleet` has hosts (see
  `hsts_coverage.lab.scale`); with `FleetServe.DNS` the lab binds nothing there and serves the
  fleet's DNS and CT only, and still writes the fleet's certificate
  (`STATE_DIR/certs/fleet.test/valid.pem` and `.key`) for the server that does listen there.

A policy site's apex serves `apex_https()` over TLS with its `cert` kind (issued for the site)
and `apex_http()` in plain HTTP; its www serves `www_https()` on 443 as `site.www` says, with a
VALID certificate for the site, and `www_http()` on 80.

`Lab.info` is what a scanner needs: the domain, CT URL, resolver, CA bundle, base, `hosts` (every
lab-domain name that resolves to a lab address, CNAMEs (the long CNAME chain too) and
wildcard-answered names included, -> its first address), `alt_addresses` (name -> its further
addresses), `policy_sites` (domain -> {"apex": address, "www": address or null}), `fleet`
({"domain": "fleet.test", "hosts": N, "hanging": [names]}, or null without a fleet), `zone_lab`
({"domain": "dns-lab.test", "zone_file": path, "axfr": "{base}.0.54:53", "axfr_refused":
"{base}.0.55:53", "hosts": {name: first address}}: every row of `ZONE_HOSTS`, a CNAME with its
target's address, the wildcard owner `*.dev.dns-lab.test` included) and the pid.

Starting raises the soft RLIMIT_NOFILE to the hard limit (or beyond it, when allowed and a large
fleet needs it): each host costs two listening sockets, plus the connections clients hold.
`Lab.stats` gives the per-port connection and handshake counters and the CT and AIA requests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import ipaddress
import logging
import os
import signal
import socket
import ssl
from collections.abc import Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from hsts_coverage.lab.bind import Bind, find_named
from hsts_coverage.lab.certs import CertKey, LabCertificates, generate
from hsts_coverage.lab.ct import CtServer, ct_records
from hsts_coverage.lab.dns import CHAIN_END, DnsServer, Zones, build_site_zone, build_zone
from hsts_coverage.lab.scale import CT_STEP, FD_RESERVE, FLEET_DOMAIN, Fleet, raise_fd_limit
from hsts_coverage.lab.scenarios import (
    LAB_DOMAIN,
    POLICY_SITES,
    SCENARIOS,
    Cert,
    CtCertificate,
    Dns,
    Listen,
    PolicySite,
    Reply,
    Scenario,
    ct_certificates,
)
from hsts_coverage.lab.web import Site, WebHosts, tls_context
from hsts_coverage.lab.zonelab import (
    AXFR_HOST,
    AXFR_REFUSED_HOST,
    ZONE_DOMAIN,
    ZONE_HOSTS,
    Where,
    ZoneHost,
    build_dns_lab_zone,
    zone_addresses,
    zone_ct_certificates,
    zone_hosts_info,
    zone_text,
)

log = logging.getLogger(__name__)

DEFAULT_BASE = "127.77"
DNS_PORT = 53
CT_PORT = 80
HTTPS_PORT = 443
HTTP_PORT = 80

Routes = tuple[tuple[str, Reply], ...]

# DNS kinds whose name has an address of its own, with listeners there.
OWN_ADDRESS = frozenset({Dns.A, Dns.TRUNCATED, Dns.AAAA_SERVFAIL})
# Listeners that present a certificate.
TLS_MODES = frozenset(
    {Listen.TLS, Listen.TLS10, Listen.TLS_SILENT, Listen.TLS_DHE, Listen.TLS_H2, Listen.TLS_P521}
)
# The one certificate of every fleet host (fleet.test and *.fleet.test).
FLEET_CERT = CertKey(Cert.VALID, FLEET_DOMAIN)
# The one certificate of every zone lab host (dns-lab.test and *.dns-lab.test).
ZONE_CERT = CertKey(Cert.VALID, ZONE_DOMAIN)


@dataclass(frozen=True, slots=True)
class SiteAddresses:
    apex: str
    www: str | None  # None: the site has no www record


@dataclass(frozen=True, slots=True)
class HostPlan:
    """One lab address and what listens there."""

    address: str
    name: str
    https: Listen
    cert: CertKey  # presented when `https` is in TLS_MODES
    https_routes: Routes
    http: Listen
    http_routes: Routes


def host_addresses(base: str, scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, str]:
    """Label -> `{base}.1.N` for every scenario with an address of its own (OWN_ADDRESS), N
    counting from 1 in table order."""
    labels = [s.label for s in scenarios if s.dns in OWN_ADDRESS]
    return {label: f"{base}.1.{n}" for n, label in enumerate(labels, start=1)}


def alt_addresses(base: str, scenarios: tuple[Scenario, ...] = SCENARIOS) -> dict[str, str]:
    """Label -> `{base}.2.N` for every Dns.A scenario with an `alt_cert`."""
    labels = [s.label for s in scenarios if s.dns is Dns.A and s.alt_cert is not None]
    return {label: f"{base}.2.{n}" for n, label in enumerate(labels, start=1)}


def site_addresses(
    base: str, sites: tuple[PolicySite, ...] = POLICY_SITES
) -> dict[str, SiteAddresses]:
    """Domain -> (`{base}.3.N`, `{base}.4.N` or None) for the N-th policy site."""
    return {
        site.domain: SiteAddresses(f"{base}.3.{n}", f"{base}.4.{n}" if site.www else None)
        for n, site in enumerate(sites, start=1)
    }


def wildcard_owner(label: str, labels: set[str]) -> str | None:
    """The `*.` label among `labels` that answers for `label`: the nearest one above it."""
    parts = label.split(".")
    for cut in range(1, len(parts) + 1):
        candidate = ".".join(["*", *parts[cut:]])
        if candidate in labels:
            return candidate
    return None


def site_certificates(site: PolicySite) -> tuple[CtCertificate, ...]:
    """What CT holds for a policy site: one certificate naming its apex and www."""
    return (CtCertificate((site.domain, f"www.{site.domain}")),)


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
        fleet: Fleet | None = None,
    ) -> None:
        _check_base(base)
        if fleet is not None and fleet.base != base:
            raise ValueError(f"the fleet is on {fleet.base}, the lab on {base}")
        self.domain = domain.lower()
        self.base = base
        self.state_dir = state_dir.resolve()
        self.addresses = host_addresses(base)
        self.alt_addresses = alt_addresses(base)
        self.site_addresses = site_addresses(base)
        self.fleet = fleet if fleet is not None and fleet.size else None
        self.zone_addresses = zone_addresses(base)
        self.zone_file = self.state_dir / f"{ZONE_DOMAIN}.zone"
        self.bind = Bind(
            self.state_dir,
            ZONE_DOMAIN,
            self.zone_file,
            f"{base}.{AXFR_HOST}",
            f"{base}.{AXFR_REFUSED_HOST}",
        )
        self.web = WebHosts()
        self._ct: CtServer | None = None
        self._certs: LabCertificates | None = None
        self._stack = AsyncExitStack()

    @property
    def ct_url(self) -> str:
        return f"http://{self.base}.0.2"  # CT_PORT is HTTP's default

    @property
    def info(self) -> dict[str, Any]:
        if self._certs is None:
            raise RuntimeError("the lab is not started")
        return {
            "domain": self.domain,
            "ct_url": self.ct_url,
            "resolver": f"{self.base}.0.53:{DNS_PORT}",
            "ca_bundle": str(self._certs.ca_bundle),
            "distrust_file": str(self._certs.distrust_file),
            "base": self.base,
            "hosts": self._hosts(),
            "alt_addresses": self._alt_hosts(),
            "policy_sites": {
                domain: {"apex": where.apex, "www": where.www}
                for domain, where in self.site_addresses.items()
            },
            "fleet": None if self.fleet is None else self.fleet.info(),
            "zone_lab": {
                "domain": ZONE_DOMAIN,
                "zone_file": str(self.zone_file),
                "axfr": f"{self.bind.transfer}:{DNS_PORT}",
                "axfr_refused": f"{self.bind.refused}:{DNS_PORT}",
                "hosts": zone_hosts_info(self.base),
            },
            "pid": os.getpid(),
        }

    def read_stats(self, reset_peaks: bool = False) -> dict[str, Any]:
        """`stats`; with `reset_peaks`, each listener's peak starts again from what is open now
        (`GET /lab/stats?reset_peaks=1`, for a test that measures overlap in a window)."""
        if reset_peaks:
            for port_stats in self.web.stats.values():
                port_stats.peak = port_stats.open
        return self.stats

    @property
    def stats(self) -> dict[str, Any]:
        """What /lab/stats serves: {"connections": {"address:port": {"accepted": n,
        "handshakes": n, "open": n, "peak": n}}, "ct_requests": n, "aia_requests": n}, counted
        since the start."""
        paths = [request.path for request in self._ct.requests] if self._ct else []
        return {
            "connections": self.web.stats_json(),
            "ct_requests": sum(path == "/" for path in paths),
            "aia_requests": sum(path.startswith("/aia/") for path in paths),
        }

    async def start(self) -> None:
        find_named()  # before anything else: without named the lab cannot start
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.zone_file.write_text(zone_text(self.base))
        plans = list(self.plans())
        listeners = sum(plan.https is not Listen.NOTHING for plan in plans)
        listeners += sum(plan.http is not Listen.NOTHING for plan in plans)
        limit = raise_fd_limit(listeners + FD_RESERVE)
        log.info("lab: %d web listeners, RLIMIT_NOFILE %d", listeners, limit)
        keys = [plan.cert for plan in plans if plan.https in TLS_MODES]
        if self.fleet is not None:
            keys.append(FLEET_CERT)  # also when another server serves the fleet with it
        ocsp_port = free_port()
        ocsp_url = f"http://127.0.0.1:{ocsp_port}/"
        make = functools.partial(generate, self.state_dir, keys, self.ct_url, ocsp_url)
        self._certs = await asyncio.to_thread(make)
        try:
            await self._start_ocsp(self._certs, ocsp_port)
            await self._start_dns()
            await self._start_ct(self._certs)
            await self._start_web(self._certs, plans)
            self._stack.push_async_callback(self.bind.stop)
            await self.bind.start()
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

    # -- what listens where ------------------------------------------------------------------

    def plans(self) -> Iterator[HostPlan]:
        """Every lab address with its listeners: scenarios, their second addresses, policy
        sites, the scale fleet."""
        for scenario in SCENARIOS:
            if scenario.dns not in OWN_ADDRESS:
                continue
            yield self._scenario_plan(scenario, self.addresses[scenario.label], scenario.cert)
            if scenario.alt_cert is not None:
                alt = self.alt_addresses[scenario.label]
                yield self._scenario_plan(scenario, alt, scenario.alt_cert)
        for site in POLICY_SITES:
            yield from self._site_plans(site, self.site_addresses[site.domain])
        for host in ZONE_HOSTS:
            if host.where is Where.OWN:
                yield _zone_plan(host, self.zone_addresses[host.label])
        if self.fleet is not None and self.fleet.web:
            yield from _fleet_plans(self.fleet)

    def _scenario_plan(self, scenario: Scenario, address: str, cert: Cert) -> HostPlan:
        name = scenario.name(self.domain)
        return HostPlan(
            address=address,
            name=name,
            https=scenario.https,
            cert=CertKey.for_host(cert, self.domain, name),
            https_routes=self._formatted(scenario.https_routes),
            http=scenario.http,
            http_routes=self._formatted(scenario.http_replies()),
        )

    def _site_plans(self, site: PolicySite, where: SiteAddresses) -> Iterator[HostPlan]:
        yield HostPlan(
            address=where.apex,
            name=site.domain,
            https=Listen.TLS,
            cert=CertKey.for_host(site.cert, site.domain, site.domain),
            https_routes=site.apex_https(),
            http=Listen.PLAIN,
            http_routes=site.apex_http(),
        )
        if site.www is not None and where.www is not None:
            yield HostPlan(
                address=where.www,
                name=f"www.{site.domain}",
                https=site.www,
                cert=CertKey(Cert.VALID, site.domain),  # www is never what a site gets wrong
                https_routes=site.www_https(),
                http=Listen.PLAIN,
                http_routes=site.www_http(),
            )

    def _formatted(self, routes: Routes) -> Routes:
        """Routes with `{domain}` in their Locations replaced by the lab domain."""
        return tuple((path, _format(reply, self.domain)) for path, reply in routes)

    # -- servers -----------------------------------------------------------------------------

    async def _start_dns(self) -> None:
        zones = [build_zone(self.domain, SCENARIOS, self.addresses, self.alt_addresses)]
        zones += [
            build_site_zone(domain, where.apex, where.www)
            for domain, where in self.site_addresses.items()
        ]
        zones.append(build_dns_lab_zone(self.base))
        if self.fleet is not None:
            zones.append(self.fleet.zone())
        dns = DnsServer(Zones(zones), f"{self.base}.0.53", DNS_PORT)
        self._stack.push_async_callback(dns.stop)
        await dns.start()

    async def _start_ocsp(self, certs: LabCertificates, port: int) -> None:
        """`openssl ocsp`, a real OCSP responder, over the lab CA's index (all interfaces of an
        ephemeral port: `-port` takes no address)."""
        where = certs.ocsp_dir
        # fmt: off
        command = [
            "openssl", "ocsp", "-index", str(where / "index.txt"), "-port", str(port),
            "-rsigner", str(where / "ca.pem"), "-rkey", str(where / "ca.key"),
            "-CA", str(where / "ca.pem"), "-ignore_err", "-nmin", "60",
            # Several responder processes: one alone serves one connection at a time, and the
            # scan's OCSP requests, together with a loaded machine, outlast the lab's time-out.
            "-multi", "4",
        ]
        # fmt: on
        log_file = (self.state_dir / "ocsp.log").open("wb")
        # With -multi the responder makes itself a process group leader (setpgid, so not in a
        # session of its own: that makes setpgid fail) and its SIGTERM handler waits for a child
        # to exit first: the group is killed instead; it keeps no state worth a clean end.
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
        )
        log_file.close()

        async def stop() -> None:
            if process.returncode is None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:  # not yet its own group
                    process.kill()
                await process.wait()

        self._stack.push_async_callback(stop)
        # Not a test connection: a responder process serves one connection at a time, and an
        # empty one would hold it. It says when it listens ("ACCEPT [::]:PORT PID=..." with
        # -multi; the socket listens before the processes fork, so connections queue).
        await _wait_for_line(self.state_dir / "ocsp.log", b"ACCEPT ")

    async def _start_ct(self, certs: LabCertificates) -> None:
        self._ct = CtServer(
            self._ct_records(),
            certs.intermediate_der,
            f"{self.base}.0.2",
            CT_PORT,
            self.state_dir / "ct-requests.log",
            self.read_stats,
            crl_der=certs.crl_der,
        )
        self._stack.push_async_callback(self._ct.stop)
        await self._ct.start()

    def _ct_records(self) -> dict[str, list[dict[str, Any]]]:
        now = dt.datetime.now(dt.UTC)
        records = {self.domain: ct_records(ct_certificates(self.domain), now)}
        for site in POLICY_SITES:
            # Continue the numbering, so that ids stay unique across domains as on crt.sh.
            start = sum(len(domain_records) for domain_records in records.values())
            records[site.domain] = ct_records(site_certificates(site), now, start=start)
        start = sum(len(domain_records) for domain_records in records.values())
        records[ZONE_DOMAIN] = ct_records(zone_ct_certificates(), now, start=start)
        if self.fleet is not None:
            start = sum(len(domain_records) for domain_records in records.values())
            certificates = self.fleet.ct_certificates()
            records[FLEET_DOMAIN] = ct_records(certificates, now, start=start, step=CT_STEP)
        return records

    async def _start_web(self, certs: LabCertificates, plans: list[HostPlan]) -> None:
        self._stack.push_async_callback(self.web.stop)
        contexts: dict[tuple[CertKey, Listen], ssl.SSLContext] = {}
        for plan in plans:
            tls = None
            if plan.https in TLS_MODES:
                # One context per certificate and mode: loading keys is the slow part.
                key = (plan.cert, plan.https)
                tls = contexts.get(key) or tls_context(certs.pairs[plan.cert], plan.https)
                contexts[key] = tls
            https_site = Site(plan.name, dict(plan.https_routes))
            http_site = Site(plan.name, dict(plan.http_routes))
            await self.web.listen(plan.address, HTTPS_PORT, plan.https, https_site, tls)
            await self.web.listen(plan.address, HTTP_PORT, plan.http, http_site, None)

    # -- lab.json ----------------------------------------------------------------------------

    def _hosts(self) -> dict[str, str]:
        """Name -> first lab address, for Dns.A names, CNAMEs whose target has one and names
        only the wildcard DNS answers."""
        hosts: dict[str, str] = {}
        wildcards = {label for label in self.addresses if label.startswith("*.")}
        for scenario in SCENARIOS:
            address = self._first_address(scenario, wildcards)
            if address is not None:
                hosts[scenario.name(self.domain)] = address
        return hosts

    def _first_address(self, scenario: Scenario, wildcards: set[str]) -> str | None:
        match scenario.dns:
            case Dns.A | Dns.TRUNCATED | Dns.AAAA_SERVFAIL:
                return self.addresses[scenario.label]
            case Dns.CNAME:
                return self.addresses.get(scenario.cname_target or "")
            case Dns.CNAME_CHAIN:
                return self.addresses[CHAIN_END]
            case Dns.WILDCARD:
                owner = wildcard_owner(scenario.label, wildcards)
                return None if owner is None else self.addresses[owner]
            case _:
                return None

    def _alt_hosts(self) -> dict[str, list[str]]:
        return {
            scenario.name(self.domain): [self.alt_addresses[scenario.label]]
            for scenario in SCENARIOS
            if scenario.label in self.alt_addresses
        }


def _fleet_plans(fleet: Fleet) -> Iterator[HostPlan]:
    """The fleet's apex and hosts: one shared certificate, 301 to HTTPS, then 200."""
    cert = FLEET_CERT
    for host in (fleet.apex, *fleet.hosts()):
        https, http = (Listen.HANG, Listen.HANG) if host.hanging else (Listen.TLS, Listen.PLAIN)
        yield HostPlan(
            address=host.address,
            name=host.name,
            https=https,
            cert=cert,
            https_routes=(("/", Reply(200)),),
            http=http,
            http_routes=(("/", Reply(301, f"https://{host.name}/")),),
        )


def _zone_plan(host: ZoneHost, address: str) -> HostPlan:
    """A zone lab host: the domain's one certificate on 443 (if anything listens there)."""
    return HostPlan(
        address=address,
        name=host.name(),
        https=host.https,
        cert=ZONE_CERT,
        https_routes=host.https_routes(),
        http=host.http,
        http_routes=host.http_replies(),
    )


def _format(reply: Reply, domain: str) -> Reply:
    if reply.location is None:
        return reply
    return replace(reply, location=reply.location.format(domain=domain))


def free_port() -> int:
    """A TCP port free right now on every interface (for a server that binds them all)."""
    with socket.socket(socket.AF_INET6 if socket.has_ipv6 else socket.AF_INET) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


async def _wait_for_line(path: Path, text: bytes, seconds: float = 10.0) -> None:
    """Until `text` appears in the file a subprocess writes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while text not in await asyncio.to_thread(path.read_bytes):
        if loop.time() > deadline:
            raise RuntimeError(f"{path}: no {text.decode()!r} within {seconds:g} s")
        await asyncio.sleep(0.05)
