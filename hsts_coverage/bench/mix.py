"""The realistic mix: N names as a real CT list has them, mostly dead, silent or slow.

`manifest(n, base)` gives every name of the mix its kind, its address and the status the scan
must give it, fixed for a given N (names are numbered, kinds dealt out in a fixed order). The
shares are the ones measured on real lists (issue 14): 35 % healthy, 35 % NXDOMAIN, 7 % behind
addresses that drop packets, 3 % tarpits, 5 % refused, 3 % under a silent name server, 5 % slow
(2 to 5 s), 5 % certificate errors, 2 % HTTP only. Names that need an address share one, 8 to
an address, as behind real load balancers.

`python -m hsts_coverage.bench.mix serve --manifest FILE --ca-dir DIR` runs what nginx cannot
be: the slow HTTPS backends (answer after their delay) and the tarpits (a listening socket that
never accepts: the kernel completes the TCP handshake, no byte ever comes). Refused addresses
have no listener; dropped ones get an nftables rule (`drop_rules`); nginx serves the healthy,
certificate-error and HTTP-only addresses (`nginx_config`); BIND's named the names, NXDOMAIN
for the others, and no answer at all under the silent name server (`mixdns`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

DOMAIN = "mix.test"
PER_ADDRESS = 8


class Kind(StrEnum):
    HEALTHY = "healthy"
    NXDOMAIN = "nxdomain"
    DROP = "drop"
    TARPIT = "tarpit"
    REFUSED = "refused"
    SILENT_NS = "silent_ns"
    SLOW = "slow"
    CERT_ERROR = "cert_error"
    HTTP_ONLY = "http_only"


# Kind -> (share in %, the third octet of its addresses, the status the scan must give).
SHARES: dict[Kind, tuple[int, int, str]] = {
    Kind.HEALTHY: (35, 10, "ok"),
    Kind.NXDOMAIN: (35, 0, "not_affected"),
    Kind.DROP: (7, 30, "unknown"),
    Kind.TARPIT: (3, 40, "unknown"),
    Kind.REFUSED: (5, 50, "not_affected"),
    Kind.SILENT_NS: (3, 0, "unknown"),
    Kind.SLOW: (5, 60, "ok"),
    Kind.CERT_ERROR: (5, 70, "breaks"),
    Kind.HTTP_ONLY: (2, 80, "breaks"),
}


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: Kind
    address: str | None  # None: the name does not resolve
    expect: str
    delay: float = 0.0  # seconds before a slow backend answers


def _deal(n: int) -> list[Kind]:
    """N kinds in the shares above, interleaved (largest remainder first), fixed for N."""
    counts = {kind: n * share // 100 for kind, (share, _, _) in SHARES.items()}
    for kind in list(SHARES)[: n - sum(counts.values())]:
        counts[kind] += 1
    dealt: list[Kind] = []
    while len(dealt) < n:
        for kind in SHARES:
            if counts[kind]:
                counts[kind] -= 1
                dealt.append(kind)
    return dealt


def manifest(n: int, base: str) -> list[Entry]:
    seen: dict[Kind, int] = {}
    entries = []
    for i, kind in enumerate(_deal(n)):
        index = seen[kind] = seen.get(kind, -1) + 1
        _, octet, expect = SHARES[kind]
        zone = "silent." if kind is Kind.SILENT_NS else ""
        name = f"h{i}.{zone}{DOMAIN}"
        address = None
        if octet:
            slot = index // PER_ADDRESS
            address = f"{base}.{octet + slot // 250}.{slot % 250 + 1}"
        delay = 2.0 + (index % 4) if kind is Kind.SLOW else 0.0
        entries.append(Entry(name, kind, address, expect, delay))
    return entries


def addresses(entries: list[Entry], *kinds: Kind) -> list[str]:
    return sorted({e.address for e in entries if e.kind in kinds and e.address})


def drop_rules(table: str, dropped: list[str]) -> str:
    """An nftables table that drops every packet to the dropped addresses (input hook)."""
    elements = ", ".join(dropped)
    return (
        f"table ip {table} {{\n chain input {{\n  type filter hook input priority -10;\n"
        f"  ip daddr {{ {elements} }} drop\n }}\n}}\n"
    )


def nginx_config(prefix: Path, entries: list[Entry], certs: Path) -> str:
    """nginx for the healthy (200, STS-less), certificate-error and HTTP-only addresses."""
    healthy = addresses(entries, Kind.HEALTHY)
    bad = addresses(entries, Kind.CERT_ERROR)
    plain = addresses(entries, Kind.HTTP_ONLY)
    listen = "".join
    temp = "".join(
        f"    {k}_temp_path {prefix}/temp/{k};\n"
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    default_type text/plain;
{temp}    ssl_protocols TLSv1.2 TLSv1.3;
    server {{
        server_name {DOMAIN} *.{DOMAIN};
        ssl_certificate {certs}/good.pem;
        ssl_certificate_key {certs}/good.key;
{listen(f"        listen {a}:443 ssl;{chr(10)}" for a in healthy)}        return 200 "ok\\n";
    }}
    server {{
        server_name {DOMAIN} *.{DOMAIN};
        ssl_certificate {certs}/bad.pem;
        ssl_certificate_key {certs}/bad.key;
{listen(f"        listen {a}:443 ssl;{chr(10)}" for a in bad)}        return 200 "ok\\n";
    }}
    server {{
        server_name {DOMAIN} *.{DOMAIN};
{listen(f"        listen {a}:80;{chr(10)}" for a in healthy + bad)}        return 301 https://$host$request_uri;
    }}
    server {{
        server_name {DOMAIN} *.{DOMAIN};
{listen(f"        listen {a}:80;{chr(10)}" for a in plain)}        return 200 "plain\\n";
    }}
}}
"""


def write_certificates(certs: Path) -> Path:
    """The mix's CA (returned: the scanner's --ca-bundle), a good leaf for *.mix.test and a bad
    one (from a CA the scanner is not told about)."""
    import trustme  # a dev dependency, as the benchmark is

    certs.mkdir(parents=True, exist_ok=True)
    good, other = trustme.CA(), trustme.CA()
    names = (DOMAIN, f"*.{DOMAIN}", f"*.silent.{DOMAIN}")
    for ca, label in ((good, "good"), (other, "bad")):
        leaf = ca.issue_cert(*names)
        leaf.cert_chain_pems[0].write_to_path(str(certs / f"{label}.pem"))
        leaf.private_key_pem.write_to_path(str(certs / f"{label}.key"))
    good.cert_pem.write_to_path(str(certs / "ca.pem"))
    return certs / "ca.pem"


# -- the services nginx cannot be -------------------------------------------------------------


async def _slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(delay)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
        pass
    finally:
        writer.close()


def _slow_handler(
    delay: float,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _slow(reader, writer, delay)

    return handle


async def _redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        host = next(
            (
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"host:")
            ),
            DOMAIN.encode(),
        )
        writer.write(
            b"HTTP/1.1 301 Moved\r\nLocation: https://" + host + b"/\r\n"
            b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(entries: list[Entry], certs: Path) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs / "good.pem", certs / "good.key")
    delays = {e.address: e.delay for e in entries if e.kind is Kind.SLOW and e.address}
    for address, delay in delays.items():
        await asyncio.start_server(_slow_handler(delay), address, 443, ssl=context, backlog=1024)
        await asyncio.start_server(_redirect, address, 80, backlog=1024)
    tarpits = []
    for address in addresses(entries, Kind.TARPIT):
        for port in (443, 80):
            sock = socket.create_server((address, port), backlog=4096)
            tarpits.append(sock)  # listening, never accepting
    print(json.dumps({"tarpits": len(tarpits)}), flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hsts_coverage.bench.mix")
    parser.add_argument("command", choices=["serve", "manifest"])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--certs", type=Path)
    parser.add_argument("--base", default="127.72")
    parser.add_argument("--names", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.command == "manifest":
        lines = (json.dumps(asdict(e)) for e in manifest(args.names, args.base))
        args.manifest.write_text("".join(f"{line}\n" for line in lines))
        return 0
    entries = read_manifest(args.manifest)
    asyncio.run(serve(entries, args.certs))
    return 0


def read_manifest(path: Path) -> list[Entry]:
    entries = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        entries.append(
            Entry(row["name"], Kind(row["kind"]), row["address"], row["expect"], row["delay"])
        )
    return entries


if __name__ == "__main__":
    sys.exit(main())
