"""`make bench BENCH_MIX=realistic`: the scanner at its defaults on the realistic mix (`mix`).

Per round, interleaved: the scanner at its defaults (plus `--scanner-args`: the Makefile passes
`--ct-interval 0 --no-guess`, as the baseline guesses no names), the naive baseline on the same
names, and once the scanner on the healthy names alone (their CPU time). Printed: median wall
time of each, the lower bound (the longest single unavoidable wait at the default time-outs,
plus the healthy names' CPU seconds spread over this machine's cores) and the ratio to it, CPU
seconds and peak RSS, and every name's status checked against the mix's manifest.

The longest unavoidable wait at the defaults: a name under the silent name server costs its
DNS budget, `dns_attempts` (3) x min(`--timeout`, 5 s), the pauses between tries included (the
zone's first names pay it, the others share their outcome); a dropping address costs the
connect's first try (3 s) and its second (10 s).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hsts_coverage.bench.mix import (
    DOMAIN,
    Entry,
    Kind,
    addresses,
    drop_rules,
    manifest,
    nginx_config,
    write_certificates,
)
from hsts_coverage.bench.mixdns import start_named
from hsts_coverage.bench.process import BenchError, Service, Usage, measure
from hsts_coverage.bench.runner import scanner_binary

DNS_WAIT = 3 * 5.0  # the DNS budget of a name: three times the DNS time-out
DROP_WAIT = 3.0 + 10.0  # the connect's short first try, then the full --timeout
_READY_SECONDS = 60.0


def run_realistic(
    names: int,
    base: str,
    rounds: int,
    work: Path,
    scanner_args: list[str],
    nginx: str,
    only: str | None = None,
) -> dict[str, Any]:
    entries = manifest(names, base)
    (work / "manifest.ndjson").write_text("".join(json.dumps(_row(e)) + "\n" for e in entries))
    all_names = work / "names.txt"
    all_names.write_text("".join(f"{e.name}\n" for e in [_apex(entries), *entries]))
    healthy = work / "healthy.txt"
    healthy.write_text("".join(f"{e.name}\n" for e in entries if e.kind is Kind.HEALTHY))
    ca = write_certificates(work / "certs")
    with _dropping(addresses(entries, Kind.DROP)), contextlib.ExitStack() as stack:
        dns = start_named(stack, work, entries, base)
        _start_mix(stack, work)
        _start_nginx(stack, work, entries, nginx)
        sides = ("scanner", "baseline") if only is None else (only,)
        return _rounds(entries, rounds, work, dns, ca, scanner_args, all_names, healthy, sides)


def _apex(entries: list[Entry]) -> Entry:
    return Entry(DOMAIN, Kind.HEALTHY, addresses(entries, Kind.HEALTHY)[0], "ok")


def _row(entry: Entry) -> dict[str, Any]:
    return {
        "name": entry.name,
        "kind": entry.kind.value,
        "address": entry.address,
        "expect": entry.expect,
        "delay": entry.delay,
    }


@contextlib.contextmanager
def _dropping(dropped: list[str]) -> Iterator[None]:
    nft = shutil.which("nft") or "/usr/sbin/nft"
    table = f"hsts_bench_{os.getpid()}"
    rules = drop_rules(table, dropped)
    subprocess.run([nft, "-f", "-"], input=rules.encode(), check=True)
    try:
        yield
    finally:
        subprocess.run([nft, "delete", "table", "ip", table], check=False)


def _start_mix(stack: contextlib.ExitStack, work: Path) -> None:
    argv = [sys.executable, "-m", "hsts_coverage.bench.mix", "serve"]
    argv += ["--manifest", str(work / "manifest.ndjson"), "--certs", str(work / "certs")]
    service = Service("mix", argv, work / "mix.stderr")
    stack.callback(service.stop)
    service.ready_line(_READY_SECONDS)  # its slow backends and tarpits listen


def _start_nginx(
    stack: contextlib.ExitStack, work: Path, entries: list[Entry], binary: str
) -> None:
    prefix = work / "nginx"
    (prefix / "temp").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, entries, work / "certs"))
    argv = [binary, "-p", f"{prefix}/", "-c", str(conf), "-e", str(prefix / "error.log")]
    service = Service("nginx", [*argv, "-g", "daemon off;"], prefix / "nginx.stderr")
    stack.callback(service.stop)
    last = addresses(entries, Kind.HEALTHY, Kind.CERT_ERROR)[-1]
    deadline = time.monotonic() + _READY_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((last, 443), timeout=1):
            return
        if not service.alive():
            raise service.failure("exited")
        time.sleep(0.2)
    raise service.failure("not listening")


def _rounds(
    entries: list[Entry],
    rounds: int,
    work: Path,
    dns: str,
    ca: Path,
    scanner_args: list[str],
    all_names: Path,
    healthy: Path,
    sides: tuple[str, ...],
) -> dict[str, Any]:
    common = ["--no-ct", "--resolver", dns, "--ca-bundle", str(ca), "--allow-cidr", "127.0.0.0/8"]
    scan = [*scanner_binary(), "scan", DOMAIN, *common, "--quiet", *scanner_args]
    baseline = [sys.executable, "-m", "hsts_coverage.bench.baseline", "--resolver", dns]
    baseline += ["--ca-bundle", str(ca), "--concurrency", "100", "--timeout", "10"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("HSTS_COVERAGE_")}
    runs: dict[str, list[Usage]] = {"scanner": [], "baseline": []}
    mismatches: Counter[str] = Counter()
    for number in range(1, rounds + 1):  # interleaved: the machine's speed drifts
        if "scanner" in sides:
            output = work / f"scan-{number}.ndjson"
            argv = [*scan, "--names-file", str(all_names), "-o", str(output)]
            runs["scanner"].append(_measured("scanner", number, argv, work, env))
            mismatches += _check(entries, output)
        if "baseline" in sides:
            argv = [*baseline, "--names-file", str(all_names)]
            runs["baseline"].append(_measured("baseline", number, argv, work, env))
    argv = [*scan, "--names-file", str(healthy), "-o", str(work / "healthy.ndjson")]
    alone = _measured("healthy-alone", 1, argv, work, env)
    return _result(len(entries), runs, alone, mismatches)


def _measured(label: str, number: int, argv: list[str], work: Path, env: dict[str, str]) -> Usage:
    print(f"bench: {label} round {number}", file=sys.stderr, flush=True)
    out, err = work / f"{label}-{number}.out", work / f"{label}-{number}.err"
    return measure(argv, stdout=out, stderr=err, env=env)


def _check(entries: list[Entry], output: Path) -> Counter[str]:
    """Names whose status differs from the manifest's, counted by kind and status."""
    statuses: dict[str, str] = {}
    for line in output.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") == "host":
            statuses[record["host"]] = record["status"]
    wrong: Counter[str] = Counter()
    for entry in entries:
        got = statuses.get(entry.name, "missing")
        if got != entry.expect:
            wrong[f"{entry.kind.value}: {got} (expected {entry.expect})"] += 1
    return wrong


def _result(
    names: int, runs: dict[str, list[Usage]], alone: Usage, mismatches: Counter[str]
) -> dict[str, Any]:
    cores = os.cpu_count() or 1
    bound = max(DNS_WAIT, DROP_WAIT) + alone.cpu_s / cores
    scanner = _median(u.wall_s for u in runs["scanner"])
    baseline = _median(u.wall_s for u in runs["baseline"])
    return {
        "names": names,
        "rounds": max(len(runs["scanner"]), len(runs["baseline"])),
        "scanner_wall_s": _rounded(scanner),
        "scanner_walls_s": [round(u.wall_s, 2) for u in runs["scanner"]],
        "scanner_cpu_s": _rounded(_median(u.cpu_s for u in runs["scanner"])),
        "scanner_peak_rss_mib": _rounded(
            max((u.max_rss_kib / 1024 for u in runs["scanner"]), default=None)
        ),
        "scanner_pss_at_peak_mib": _rounded(
            max((u.pss_at_peak_kib / 1024 for u in runs["scanner"]), default=None)
        ),
        "baseline_wall_s": _rounded(baseline),
        "baseline_walls_s": [round(u.wall_s, 2) for u in runs["baseline"]],
        "healthy_alone_cpu_s": round(alone.cpu_s, 2),
        "lower_bound_s": round(bound, 2),
        "ratio_to_bound": _rounded(scanner and scanner / bound),
        "faster_than_baseline": _rounded(scanner and baseline and baseline / scanner),
        "wrong_statuses": dict(mismatches),
    }


def _median(values: Iterable[float]) -> float | None:
    found = list(values)
    return statistics.median(found) if found else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def print_result(result: dict[str, Any]) -> None:
    print(f"realistic mix, {result['names']} names, {result['rounds']} round(s), medians:")
    if result["scanner_wall_s"] is not None:
        print(f"  scanner at its defaults  {result['scanner_wall_s']:8.2f} s wall")
        cpu, rss = result["scanner_cpu_s"], result["scanner_peak_rss_mib"]
        pss, walls = result["scanner_pss_at_peak_mib"], result["scanner_walls_s"]
        print(f"    CPU {cpu:.2f} s, peak RSS {rss} MiB (its PSS {pss} MiB), rounds {walls}")
    if result["baseline_wall_s"] is not None:
        print(f"  naive baseline           {result['baseline_wall_s']:8.2f} s wall")
        print(f"    rounds {result['baseline_walls_s']}")
    print(f"  lower bound              {result['lower_bound_s']:8.2f} s")
    print(
        f"    (longest unavoidable wait {max(DNS_WAIT, DROP_WAIT):.1f} s + healthy CPU "
        f"{result['healthy_alone_cpu_s']:.2f} s over {os.cpu_count()} cores)"
    )
    if result["ratio_to_bound"] is not None:
        print(f"  ratio to the bound       {result['ratio_to_bound']:8.2f}")
    if result["faster_than_baseline"] is not None:
        print(f"  faster than the baseline {result['faster_than_baseline']:8.2f}x")
    wrong = result["wrong_statuses"]
    if not wrong:
        print("  every name's status as in the manifest")
    for what, count in sorted(wrong.items()):
        print(f"  WRONG: {count} x {what}")


def main(
    names: int,
    base: str,
    rounds: int,
    work: Path,
    scanner_args: list[str],
    output: Path,
    only: str | None = None,
) -> int:
    from hsts_coverage.bench.nginx import nginx_binary

    binary = nginx_binary()
    if binary is None:
        raise BenchError("nginx is not installed")
    result = run_realistic(names, base, rounds, work, scanner_args, binary, only)
    print_result(result)
    output.write_text(json.dumps(result, indent=2) + "\n")
    return 1 if result["wrong_statuses"] else 0
