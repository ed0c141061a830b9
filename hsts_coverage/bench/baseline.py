"""The naive baseline the scanner is measured against: two GETs per host, nothing else.

    python -m hsts_coverage.bench.baseline --names-file F --resolver IP[:PORT] --ca-bundle PEM
                                           [--concurrency 100] [--timeout 10]

What a person would write in twenty lines to "check every host": for each name in the file
(one a line), under a semaphore of `--concurrency` hosts, `GET https://name/` and then
`GET http://name/` with aiohttp, without following redirects, reading the status only. One
shared SSLContext from the CA bundle (verification on), names resolved with aiodns at the given
resolver (aiohttp's AsyncResolver pointed at it), `TCPConnector(force_close=True,
limit=concurrency)`: no connection reuse, as each host is a different server anyway. No CT, no
certificate analysis, no redirect walk, no verdicts, no report.

It prints one JSON line on stdout: `{"hosts": names, "done": hosts whose two requests both got
a status, "errors": failed requests, "statuses": {"https 200": n, "http 301": n, ...},
"error_kinds": {"https ClientConnectorError": n, ...}}`; exit status 0 when every request got a
status, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp.resolver import AsyncResolver

_SCHEMES = ("https", "http")


@dataclass
class Tally:
    hosts: int = 0
    done: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, object]:
        return {
            "hosts": self.hosts,
            "done": self.done,
            "errors": sum(self.errors.values()),
            "statuses": dict(sorted(self.statuses.items())),
            "error_kinds": dict(sorted(self.errors.items())),
        }


async def check_host(
    session: aiohttp.ClientSession, semaphore: asyncio.Semaphore, name: str, tally: Tally
) -> None:
    async with semaphore:
        answered = 0
        for scheme in _SCHEMES:
            try:
                async with session.get(f"{scheme}://{name}/", allow_redirects=False) as response:
                    tally.statuses[f"{scheme} {response.status}"] += 1
                    answered += 1
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                tally.errors[f"{scheme} {type(exc).__name__}"] += 1
        tally.done += answered == len(_SCHEMES)


async def run(
    names: list[str], resolver: str, ca_bundle: Path, concurrency: int, request_seconds: float
) -> Tally:
    context = ssl.create_default_context(cafile=str(ca_bundle))
    connector = aiohttp.TCPConnector(
        force_close=True,
        limit=concurrency,
        ssl=context,
        resolver=AsyncResolver(nameservers=[resolver]),
    )
    semaphore = asyncio.Semaphore(concurrency)
    tally = Tally(hosts=len(names))
    client_timeout = aiohttp.ClientTimeout(total=request_seconds)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        await asyncio.gather(*(check_host(session, semaphore, n, tally) for n in names))
    return tally


def read_names(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hsts_coverage.bench.baseline")
    parser.add_argument("--names-file", type=Path, required=True)
    parser.add_argument("--resolver", required=True, help="IP or IP:PORT")
    parser.add_argument("--ca-bundle", type=Path, required=True)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args(argv)
    names = read_names(args.names_file)
    tally = asyncio.run(run(names, args.resolver, args.ca_bundle, args.concurrency, args.timeout))
    print(json.dumps(tally.as_json()), flush=True)
    return 0 if tally.done == tally.hosts else 1


if __name__ == "__main__":
    sys.exit(main())
