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
    from hsts_coverage.distrust import Constraint
    from hsts_coverage.preload import PreloadEntry
    from hsts_coverage.report.reader import Report

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
    resolvers: tuple[Nameserver, ...] = ()  # empty: the system's
    ca_bundle: Path | None = None  # None: certifi's Mozilla store
    allow_private: bool = False
    allow_cidrs: tuple[IPNetwork, ...] = ()
    concurrency: int = 100  # hosts in flight, across every process
    workers: int | None = (
        None  # processes that probe beside the main one; None: see workers.workers_for
    )
    per_ip: int = 8  # connections open to one address at a time
    rate: float = 0.0  # new connections per second across the scan; 0: no limit
    ct_interval: float = 1.0  # seconds between two requests to a CT source
    timeout: float = 10.0
    expiry_days: int = 14
    max_redirects: int = 10
    max_addresses: int = 4  # addresses probed per host (1: only the first)
    check_apex: bool = True  # the apex's policy and preload readiness, in every summary
    shard: tuple[int, int] | None = None  # (K, N): scan only the K-th of N slices of the names
    baseline: Report | None = None  # an earlier report to compare this scan with
    html: Path | None = None  # also write the HTML report here
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

    def host_budget(self, addresses: int) -> float:
        """Seconds a host's probes may take once its name has resolved: the HTTPS and HTTP
        probes run side by side (one timeout), then at most one more handshake or hop
        (another), for each address."""
        return self.timeout * (1 + 2 * max(1, addresses))

    def as_record(self) -> dict[str, object]:
        """The options as written into the report's `scan` record."""
        return {
            "domains": list(self.domains),
            "ct_url": self.ct_url if self.use_ct else None,
            "sources": list(self.sources) if self.use_ct else [],
            "certspotter_url": self.certspotter_url if "certspotter" in self.sources else None,
            "names_files": [str(p) for p in self.names_files],
            "resolvers": [str(r) for r in self.resolvers] or "system",
            "ca_bundle": str(self.ca_bundle) if self.ca_bundle else "certifi",
            "allow_private": self.allow_private,
            "allow_cidrs": [str(n) for n in self.allow_cidrs],
            "concurrency": self.concurrency,
            "workers": "auto" if self.workers is None else self.workers,
            "per_ip": self.per_ip,
            "rate": self.rate,
            "timeout": self.timeout,
            "expiry_days": self.expiry_days,
            "max_redirects": self.max_redirects,
            "max_addresses": self.max_addresses,
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "preload_list": str(self.preload_list) if self.preload_list else "hstspreload",
            "distrust_file": str(self.distrust_file) if self.distrust_file else None,
        }
