"""Typed option parsing: where user input becomes typed ScanConfig fields.

The options several commands declare alike are `flags`; their values are parsed here. Every
bad value is a one-line usage error. The helpers that fill several fields at once return
TypedDicts, so that the `**` into `ScanConfig(...)` is type-checked field by field.
"""

from __future__ import annotations

import ipaddress
import math
import ssl
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

import orjson

from hsts_coverage.cli.app import PROG, usage_error
from hsts_coverage.config import (
    IPNetwork,
    Nameserver,
)
from hsts_coverage.models import (
    Enumeration,
    PreloadEntry,
    ZoneNames,
)
from hsts_coverage.probe.tls import verified_context
from hsts_coverage.report.reader import Report, ReportError, read_report
from hsts_coverage.rules.distrust import Constraint, parse_rows
from hsts_coverage.rules.names import DomainError, parse_domain
from hsts_coverage.rules.preload import parse_chromium_list
from hsts_coverage.sources.guess import parse_labels


def read_report_file(path: Path) -> Report:
    try:
        report = read_report(path)
    except ReportError as exc:
        usage_error(str(exc))
    if report.skipped:
        print(
            f"{PROG}: {path}: {report.skipped} line(s) that are not records skipped",
            file=sys.stderr,
        )
    return report


# ScanConfig's fields that one option helper fills, by name and type: `ScanConfig(**reach(...))`
# is checked by mypy against ScanConfig's own fields, where a dict[str, Any] would not be.
class ReachFields(TypedDict):
    resolvers: tuple[Nameserver, ...]
    ca_bundle: Path | None
    allow_private: bool
    allow_cidrs: tuple[IPNetwork, ...]
    timeout: float
    user_agent: str


class DnsSourceFields(TypedDict):
    zone_files: tuple[Path, ...]
    zones: tuple[tuple[str, ZoneNames], ...]
    axfr_servers: tuple[Nameserver, ...]
    axfr_auto: bool


class PreloadFields(TypedDict, total=False):
    preload_list: Path
    preload_entries: Mapping[str, PreloadEntry]


class DistrustFields(TypedDict, total=False):
    distrust_file: Path
    distrust: tuple[Constraint, ...]


def reach(
    resolver: list[str] | None,
    ca_bundle: Path | None,
    allow_private: bool,
    allow_cidr: list[str] | None,
    timeout: float,
    user_agent: str,
) -> ReachFields:
    """The options that say how to reach hosts, checked, as ScanConfig fields."""
    return {
        "resolvers": tuple(parse_nameserver(r) for r in resolver or ()),
        "ca_bundle": _ca_bundle(ca_bundle),
        "allow_private": allow_private,
        "allow_cidrs": tuple(_network(c) for c in allow_cidr or ()),
        "timeout": finite("--timeout", timeout),
        "user_agent": parse_user_agent(user_agent),
    }


def distrust(path: Path | None) -> DistrustFields:
    if path is None:
        return {}
    try:
        rows = parse_rows(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        usage_error(f"distrust file {path} does not exist")
    except (OSError, orjson.JSONDecodeError, ValueError) as exc:
        usage_error(f"distrust file {path} is not a list of distrust-after rows: {exc}")
    return {"distrust_file": path, "distrust": rows}


def preload(path: Path | None) -> PreloadFields:
    if path is None:
        return {}
    try:
        entries = parse_chromium_list(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        usage_error(f"preload list {path} does not exist")
    except (OSError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        usage_error(f"preload list {path} is not Chromium's JSON list: {exc}")
    return {"preload_list": path, "preload_entries": entries}


def parse_domains(values: list[str]) -> tuple[str, ...]:
    if not values:
        usage_error("no domain given (as arguments or with --domains-file)")
    try:
        return tuple(dict.fromkeys(parse_domain(v) for v in values))
    except DomainError as exc:
        usage_error(str(exc))


def read_lines(path: Path | None, what: str) -> list[str]:
    return read_names(path, what) if path is not None else []


_SOURCE_NAMES = {"crtsh": "crt.sh", "crt.sh": "crt.sh", "certspotter": "certspotter"}


def parse_sources(value: str) -> tuple[str, ...]:
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in _SOURCE_NAMES]
    if unknown or not names:
        usage_error(f"--source {value!r}: choose from crtsh, certspotter (comma-separated)")
    return tuple(dict.fromkeys(_SOURCE_NAMES[name] for name in names))


MAX_WORKERS = 64  # processes beside the main one; more only costs start-up and memory


def finite(flag: str, value: float) -> float:
    if not math.isfinite(value):
        usage_error(f"{flag} {value}: give a finite number of seconds (or per second)")
    return value


def parse_user_agent(value: str) -> str:
    # Sent as a header field: printable ASCII only, so no CR/LF can add a header of its own.
    if not (value.isascii() and value.isprintable() and value.strip()):
        usage_error(
            "--user-agent: give printable ASCII text (no control characters or line breaks)"
        )
    return value


def parse_workers(value: str, rate: float) -> int | None:
    if value == "auto":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 4 or int(value) > MAX_WORKERS:
        usage_error(f"--workers {value[:20]!r}: give 0 to {MAX_WORKERS} processes, or auto")
    if int(value) and rate:
        usage_error(
            "--workers and --rate do not go together: the rate bounds the scan, not the CPU"
        )
    return int(value)


def parse_shard_value(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    from hsts_coverage.report.merge import MAX_SHARDS, parse_shard

    shard = parse_shard(value.strip())
    if shard is None:
        usage_error(
            f"--shard {value[:40]!r}: give K/N with 1 <= K <= N <= {MAX_SHARDS}, such as 2/8"
        )
    return shard


def same_file(a: Path, b: Path) -> bool:
    if a == Path("-") or b == Path("-"):
        return False
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def dns_sources(
    zone_files: list[Path] | None, axfr: list[str] | None, domains: tuple[str, ...]
) -> DnsSourceFields:
    """The zone-file and zone-transfer options, checked: ScanConfig's fields for them."""
    paths = tuple(zone_files or ())
    servers, auto = _axfr(axfr or [])
    return {
        "zone_files": paths,
        "zones": _zones(paths, domains),
        "axfr_servers": servers,
        "axfr_auto": auto,
    }


def _zones(paths: tuple[Path, ...], domains: tuple[str, ...]) -> tuple[tuple[str, ZoneNames], ...]:
    if not paths:
        return ()
    # dnspython (5 MiB) parses zone files: loaded only when there are some.
    from hsts_coverage.sources.zone import ZoneFileError, read_zone_file

    try:
        return tuple(read_zone_file(path, domains) for path in paths)
    except ZoneFileError as exc:
        usage_error(str(exc))


def _axfr(values: list[str]) -> tuple[tuple[Nameserver, ...], bool]:
    auto = any(value.strip().lower() == "auto" for value in values)
    servers = tuple(
        parse_nameserver(value, "--axfr") for value in values if value.strip().lower() != "auto"
    )
    return servers, auto


def guess_labels(path: Path | None) -> tuple[str, ...] | None:
    if path is None:
        return None
    labels = parse_labels("\n".join(read_names(path, "guess list")))
    if not labels:
        usage_error(f"guess list {path} holds no labels")
    return labels


def name_list(
    path: Path | None, given: list[str], names_files: tuple[Path, ...]
) -> dict[str, Enumeration] | None:
    """The enumerations of a `--names-from` list; every domain asked for must be in it."""
    if path is None:
        return None
    from hsts_coverage.report.namelist import NameListError, read_name_list

    if names_files:
        usage_error("--names-from holds the names already: give --names-file to enumerate")
    try:
        listed = read_name_list(path)
    except NameListError as exc:
        usage_error(str(exc))
    missing = [d for d in parse_domains(given) if d not in listed] if given else []
    if missing:
        usage_error(f"--names-from {path} has no names for {', '.join(missing)}")
    return listed


def output_file(path: Path | None, option: str) -> Path | None:
    """A file the scan writes at its end: its folder must exist now, not after the scan."""
    if path is not None and not path.parent.is_dir():
        usage_error(f"{option} {path}: the folder {path.parent} does not exist")
    return path


def baseline_report(path: Path | None) -> Report | None:
    return read_report_file(path) if path is not None else None


def read_names(path: Path, what: str = "names file") -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        usage_error(f"{what} {path} does not exist")
    except UnicodeDecodeError:
        usage_error(f"{what} {path} is not UTF-8 text")
    except OSError as exc:
        usage_error(f"{what} {path} cannot be read: {exc.strerror}")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def parse_nameserver(value: str, option: str = "--resolver") -> Nameserver:
    host, port = value.strip(), 53
    if host.startswith("["):  # [2001:db8::1]:5353
        host, _, rest = host[1:].partition("]")
        port = _port(value, rest.removeprefix(":"), option) if rest else 53
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = _port(value, port_text, option)
    if "%" in host:  # fe80::1%lo: c-ares takes no scope id
        usage_error(f"{option} {value!r}: an address with a scope id (%) is not supported")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        usage_error(f"{option} {value!r} is not an IP address (IP or IP:PORT)")
    return Nameserver(host, port)


def _port(value: str, text: str, option: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536):
        usage_error(f"{option} {value!r} has an invalid port")
    return int(text)


def _network(value: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        usage_error(f"--allow-cidr {value!r} is not a network (such as 10.0.0.0/8)")


def _ca_bundle(path: Path | None) -> Path | None:
    if path is None:
        return None
    try:
        verified_context(path)
    except FileNotFoundError:
        usage_error(f"CA bundle {path} does not exist")
    except (OSError, ssl.SSLError) as exc:
        usage_error(f"CA bundle {path} cannot be used: {getattr(exc, 'reason', None) or exc}")
    return path
