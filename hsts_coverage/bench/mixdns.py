"""The realistic mix's DNS: BIND's `named`, so that the benchmark measures the scanner, not its
name server.

A Python server (dnspython, one thread) answered about 1,000 names a second on the benchmark's
machine: at 20,000 names resolving was a 20 s stage of its own, longer than any wait of the mix.
named serves the same answers from a zone file, on several threads:

- `mix.test`, a primary zone: an A record for every name of the manifest that has an address (and
  the domain itself, the first healthy address); any other name is NXDOMAIN, any other type of a
  name that exists NODATA;
- the silent name server: queries for `silent.mix.test` and every name below it are dropped, as a
  recursive resolver whose authoritative server never answers would leave them. A response
  policy zone does it (`CNAME rpz-drop.`: no answer at all, applied to authoritative data with
  `recursive-only no`).

`recursion no`: named answers from its zones and never sends a query of its own. named binds only
addresses an interface holds, so the address (`{base}.0.53`) is added to `lo` for the run
(`lab.bind.add_addresses`) and removed after.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from hsts_coverage.bench.mix import DOMAIN, Entry, Kind, addresses
from hsts_coverage.bench.process import BenchError, Service
from hsts_coverage.lab.bind import add_addresses, find_named, remove_addresses

SILENT_ZONE = f"silent.{DOMAIN}"
_READY_SECONDS = 30.0
_TTL = 300


def zone_text(entries: list[Entry], server: str) -> str:
    """The mix's zone file: every name that resolves, the domain itself included; `server` is
    named's own address (the zone's name server needs one)."""
    lines = [
        f"$TTL {_TTL}",
        f"@ IN SOA ns.{DOMAIN}. admin.{DOMAIN}. 1 3600 600 86400 {_TTL}",
        f"@ IN NS ns.{DOMAIN}.",
        f"ns IN A {server}",
        f"@ IN A {addresses(entries, Kind.HEALTHY)[0]}",
    ]
    lines += [
        f"{e.name}. IN A {e.address}" for e in entries if e.address and e.kind is not Kind.SILENT_NS
    ]
    return "\n".join(lines) + "\n"


def policy_text() -> str:
    """The response policy zone: the silent zone's queries dropped, unanswered."""
    return (
        "\n".join(
            [
                f"$TTL {_TTL}",
                "@ IN SOA localhost. admin.localhost. 1 3600 600 86400 60",
                "@ IN NS localhost.",
                f"{SILENT_ZONE} CNAME rpz-drop.",
                f"*.{SILENT_ZONE} CNAME rpz-drop.",
            ]
        )
        + "\n"
    )


def named_conf(directory: Path, address: str) -> str:
    return f"""// Written by the hsts-coverage benchmark (hsts_coverage.bench.mixdns).
options {{
    directory "{directory}";
    pid-file "{directory / "named.pid"}";
    session-keyfile "{directory / "session.key"}";
    managed-keys-directory "{directory}";
    listen-on port 53 {{ {address}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    notify no;
    dnssec-validation no;
    response-policy {{ zone "rpz" recursive-only no; }} qname-wait-recurse no;
}};
controls {{ }};
logging {{
    channel log_file {{ file "{directory / "named.log"}"; severity info; }};
    category default {{ log_file; }};
    category rpz {{ null; }};
    category lame-servers {{ null; }};
}};
zone "{DOMAIN}" {{ type primary; file "{directory / "mix.zone"}"; }};
zone "rpz" {{ type primary; file "{directory / "rpz.zone"}"; allow-query {{ none; }}; }};
"""


def start_named(stack: contextlib.ExitStack, work: Path, entries: list[Entry], base: str) -> str:
    """named serving the mix on `{base}.0.53` until `stack` closes; returns "address:53"."""
    directory = work / "named"
    directory.mkdir()
    address = f"{base}.0.53"
    (directory / "mix.zone").write_text(zone_text(entries, address))
    (directory / "rpz.zone").write_text(policy_text())
    conf = directory / "named.conf"
    conf.write_text(named_conf(directory, address))
    added = add_addresses([address])
    stack.callback(remove_addresses, added)
    argv = [find_named(), "-f", "-4", "-c", str(conf)]
    service = Service("named", argv, directory / "named.stderr")
    stack.callback(service.stop)
    _wait_ready(service, address)
    return f"{address}:53"


def _wait_ready(service: Service, address: str) -> None:
    query = dns.message.make_query(DOMAIN, dns.rdatatype.SOA)
    deadline = time.monotonic() + _READY_SECONDS
    while time.monotonic() < deadline:
        if not service.alive():
            raise service.failure("exited")
        with contextlib.suppress(dns.exception.DNSException, OSError):
            reply = dns.query.udp(query, address, timeout=0.5)
            if reply.rcode() == dns.rcode.NOERROR and reply.answer:
                return
        time.sleep(0.1)
    log = (service.log_path.parent / "named.log").read_text(errors="replace")[-2000:]
    raise BenchError(f"named did not answer on {address} within {_READY_SECONDS:g} s:\n{log}")
