"""ScanConfig: every option of a scan and its default, in one place.

The CLI builds one from flags and `HSTS_COVERAGE_*` variables; the pipeline only reads it.
Everything a test needs to point the scanner at a lab is here as a real user option.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from hsts_coverage import __version__

if TYPE_CHECKING:
    from hsts_coverage.models import Enumeration, PreloadEntry, ZoneNames
    from hsts_coverage.rules.distrust import Constraint

DEFAULT_CT_URL = "https://crt.sh"
DEFAULT_CERTSPOTTER_URL = "https://api.certspotter.com"
USER_AGENT = f"hsts-coverage/{__version__} (+HSTS includeSubDomains pre-flight check)"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"


@dataclass(frozen=True, slots=True)
class Nameserver:
    host: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ScanConfig:
    domains: tuple[str, ...]
    ct_url: str = DEFAULT_CT_URL
    sources: tuple[str, ...] = ("crt.sh",)  # CT sources, asked in this order
    certspotter_url: str = DEFAULT_CERTSPOTTER_URL
    certspotter_key: str | None = field(default=None, repr=False)  # never written anywhere
    use_ct: bool = True
    names_files: tuple[Path, ...] = ()
    extra_names: tuple[str, ...] = ()  # the names files' lines, read and decoded by the CLI
    zone_files: tuple[Path, ...] = ()
    zones: tuple[tuple[str, ZoneNames], ...] = ()  # (domain, names) of each zone file, parsed
    axfr_servers: tuple[Nameserver, ...] = ()  # zone transfers from these servers
    axfr_auto: bool = False  # ... and from the domain's own NS servers
    guess: bool = True  # resolve the common labels under every domain
    guess_list: Path | None = None  # None: the shipped list
    guess_labels: tuple[str, ...] | None = None  # read from guess_list by the CLI
    guess_concurrency: int = 200  # DNS queries in flight while guessing
    max_met_names: int = 10_000  # names met during the scan (SANs, redirects...) per domain
    resolvers: tuple[Nameserver, ...] = ()  # empty: the system's
    ca_bundle: Path | None = None  # None: certifi's Mozilla store
    allow_private: bool = False
    allow_cidrs: tuple[IPNetwork, ...] = ()
    concurrency: int | None = None  # ceiling of hosts in flight, every process; None: auto
    workers: int | None = (
        None  # processes that probe beside the main one; None: see workers.workers_for
    )
    per_ip: int = 8  # connections open to one address at a time
    rate: float = 0.0  # new connections per second across the scan; 0: no limit
    ct_interval: float = 1.0  # seconds between two requests to a CT source
    timeout: float = 10.0
    connect_timeout: float = 3.0  # a TCP connect's first try; then one more at `timeout`
    expiry_days: int = 14
    max_redirects: int = 20  # Chrome's limit (redirects.MAX_REDIRECTS)
    max_addresses: int = 16  # addresses probed per host (1: only the first); the rest: unknown
    check_apex: bool = True  # the apex's policy and preload readiness, in every summary
    shard: tuple[int, int] | None = None  # (K, N): scan only the K-th of N slices of the names
    baseline: Path | None = None  # an earlier report to compare this scan with (read by the CLI)
    html: Path | None = None  # also write the HTML report here
    metrics: Path | None = None  # also write Prometheus text exposition here (textfile collector)
    junit: Path | None = None  # also write JUnit XML here (a suite per domain, a case per host)
    names_from: Path | None = None  # a name list of `hsts-coverage enumerate`: CT is not asked
    enumerations: Mapping[str, Enumeration] | None = field(default=None, repr=False)  # read from it
    preload_list: Path | None = None  # Chromium's JSON list; None: the hstspreload package
    preload_entries: Mapping[str, PreloadEntry] | None = None  # parsed from preload_list
    # Distrust-after rows added to the built-in table by --distrust-file (see `distrust`).
    distrust_file: Path | None = None
    distrust: tuple[Constraint, ...] = ()
    ct_attempts: int = 5
    ct_timeout: float = 60.0
    dns_attempts: int = 3
    user_agent: str = USER_AGENT
    output: Path | None = None  # "-" is given as Path("-")
    append: bool = False  # add to `output` as records come, instead of replacing it at the end
    output_format: OutputFormat = OutputFormat.TABLE
    quiet: bool = False
    progress: bool = True

    @property
    def shard_by(self) -> str | None:
        """How `shard` slices the scan: whole domains when there are several (each enumerated
        once, in one shard), else the names (of a name list, or of the one domain)."""
        if self.shard is None:
            return None
        return "domain" if len(self.domains) > 1 and self.names_from is None else "name"

    def in_this_shard(self, index: int) -> bool:
        """Whether the `index`-th domain is scanned here: whole domains go round the shards."""
        if self.shard_by != "domain" or self.shard is None:
            return True
        return index % self.shard[1] == self.shard[0] - 1

    def host_budget(self, addresses: int) -> float:
        """Seconds a host's probes may take once its name has resolved: the HTTPS and HTTP
        probes run side by side (one timeout), then at most one more handshake or hop
        (another), for each address."""
        return self.probe_time * (1 + 2 * max(1, addresses))

    @property
    def probe_time(self) -> float:
        """The longest one request may take: `timeout`, after a connect's short first try if
        there is one (`connect_timeout` under `timeout`)."""
        short = self.connect_timeout if self.connect_timeout < self.timeout else 0.0
        return self.timeout + short

    def as_record(self) -> dict[str, object]:
        """The options as written into the report's `scan` record."""
        return {
            "domains": list(self.domains),
            "ct_url": self.ct_url if self.use_ct else None,
            "sources": list(self.sources) if self.use_ct else [],
            "certspotter_url": self.certspotter_url if "certspotter" in self.sources else None,
            "names_files": [str(p) for p in self.names_files],
            "zone_files": [str(p) for p in self.zone_files],
            "axfr": [str(s) for s in self.axfr_servers] + (["auto"] if self.axfr_auto else []),
            "guess": self.guess,
            "guess_list": str(self.guess_list) if self.guess_list else None,
            "resolvers": [str(r) for r in self.resolvers] or "system",
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else "certifi",
            "allow_private": self.allow_private,
            "allow_cidrs": [str(n) for n in self.allow_cidrs],
            "concurrency": "auto" if self.concurrency is None else self.concurrency,
            "workers": "auto" if self.workers is None else self.workers,
            "per_ip": self.per_ip,
            "rate": self.rate,
            "timeout": self.timeout,
            "connect_timeout": self.connect_timeout,
            "expiry_days": self.expiry_days,
            "max_redirects": self.max_redirects,
            "max_addresses": self.max_addresses,
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "shard_by": self.shard_by,
            "names_from": str(self.names_from) if self.names_from else None,
            "preload_list": str(self.preload_list) if self.preload_list else "hstspreload",
            "distrust_file": str(self.distrust_file) if self.distrust_file else None,
        }
