"""`python -m hsts_coverage.bench`: set up the fleet, run the rounds, print and write results.

    python -m hsts_coverage.bench [--hosts 2000] [--rounds 3] [--rtt-ms 0] [--base 127.70]
                                  [--per-address K] [--output bench-results.json] [--keep]
                                  [--scanner-args ARG ...]

`--scanner-args` takes every argument after it, for the scanner commands. With `--rtt-ms` above
0 the scanner also runs at `--latency-concurrency` (500). Progress goes to stderr, the table to
stdout. The working directory (lab state, nginx prefix, each run's output) is a temporary one,
removed at the end unless `--keep` or a run failed. Exit status: see `hsts_coverage.bench`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hsts_coverage.bench.nginx import nginx_binary
from hsts_coverage.bench.process import BenchError, compile_package
from hsts_coverage.bench.report import document, machine, table
from hsts_coverage.bench.runner import BASELINE_CONCURRENCY, Run, commands_for, run_rounds
from hsts_coverage.bench.testbed import Testbed, per_address_for

DEFAULT_BASE = "127.70"  # apart from the demo lab (127.77) and the tests' (127.76-127.79)
LATENCY_CONCURRENCY = 500
EXIT_FAILED_RUN = 1
EXIT_SETUP = 2
EXIT_INTERRUPTED = 130


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hsts_coverage.bench",
        description="Benchmark the scanner against a naive baseline on an nginx fleet.",
    )
    parser.add_argument("--hosts", type=int, default=2000, help="fleet hosts (plus the apex)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every command")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="round trip via the proxy")
    parser.add_argument("--base", default=DEFAULT_BASE, help="the lab's 127.x")
    parser.add_argument("--per-address", type=int, default=None, help="names per address")
    parser.add_argument("--latency-concurrency", type=int, default=LATENCY_CONCURRENCY)
    parser.add_argument("--output", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument(
        "--mix", choices=["healthy", "realistic"], default="healthy", help="the fleet's mix"
    )
    parser.add_argument(
        "--only",
        choices=["scanner", "baseline"],
        default=None,
        help="realistic mix: run one side only (the baseline's waits do not change with the "
        "scanner's code, and at 20,000 names one of its rounds takes ten minutes)",
    )
    parser.add_argument(
        "--scanner-args",
        nargs=argparse.REMAINDER,
        default=[],
        help="everything after this goes to the scanner commands",
    )
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.rounds < 1 or args.rtt_ms < 0:
        parser.error("--hosts and --rounds must be at least 1, --rtt-ms at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that the lab, nginx and the proxy are stopped too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    compile_package(Path(__file__).resolve().parent.parent)  # the package, as installed
    nginx = nginx_binary()
    if nginx is None:
        print("bench: nginx is not installed (apt-get install -y nginx-light)", file=sys.stderr)
        return EXIT_SETUP
    work = Path(tempfile.mkdtemp(prefix="hsts-bench-"))
    try:
        if args.mix == "realistic":  # N names, mostly dead, silent or slow (bench.mix)
            from hsts_coverage.bench import realistic

            output = args.output.with_name(f"{args.output.stem}-realistic{args.output.suffix}")
            code = realistic.main(
                args.hosts, args.base, args.rounds, work, args.scanner_args, output, args.only
            )
        else:
            code = _bench(args, nginx, work)
    except BenchError as exc:
        print(f"bench: {exc}\nbench: working directory kept: {work}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:  # the fleet is stopped by then: the with blocks unwound
        print("bench: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if args.keep or code not in (0, EXIT_INTERRUPTED):
        print(f"bench: working directory kept: {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return code


def _bench(args: argparse.Namespace, nginx: str, work: Path) -> int:
    started = dt.datetime.now(dt.UTC)
    machine_info = machine(nginx)
    per_address = args.per_address or per_address_for(args.hosts)
    extra = args.latency_concurrency if args.rtt_ms else None
    _say(f"starting the fleet: {args.hosts} hosts, {per_address} per address, in {work}")
    options = {"hosts": args.hosts, "base": args.base, "per_address": per_address}
    setup_started = time.monotonic()
    with Testbed(work, **options, rtt_ms=args.rtt_ms, nginx=nginx) as testbed:
        commands = commands_for(testbed, work, args.scanner_args, extra)
        config = _config(args, testbed, extra)
        setup = time.monotonic() - setup_started
        rounds = f"{args.rounds} round(s) of {', '.join(c.name for c in commands)}"
        _say(f"fleet ready in {setup:.1f} s; {rounds}")
        runs = run_rounds(commands, args.rounds, testbed, work, _progress)
    doc = document(config, machine_info, commands, runs, started)
    args.output.write_text(json.dumps(doc, indent=2) + "\n")
    print(table(doc))
    _say(f"results written to {args.output}")
    return 0 if doc["ok"] else EXIT_FAILED_RUN


def _config(args: argparse.Namespace, testbed: Testbed, extra: int | None) -> dict[str, Any]:
    return {
        "domain": testbed.domain,
        "hosts": testbed.fleet.size,
        "names": testbed.fleet.size + 1,
        "rounds": args.rounds,
        "rtt_ms": args.rtt_ms,
        "per_address": testbed.fleet.per_address,
        "addresses": len(testbed.fleet.addresses()),
        "base": testbed.fleet.base,
        "scanner_args": list(args.scanner_args),
        "baseline_concurrency": BASELINE_CONCURRENCY,
        "extra_concurrency": extra,
        "ct_rows": testbed.ct_rows,
    }


def _progress(run: Run) -> None:
    verdict = "ok" if not run.problems else "FAILED: " + "; ".join(run.problems)
    _say(
        f"round {run.round} {run.command}: {run.usage.wall_s:.2f} s, "
        f"{run.hosts_per_s:.1f} hosts/s, CPU {run.usage.cpu_s:.2f} s, "
        f"RSS {run.usage.max_rss_kib / 1024:.0f} MiB "
        f"(PSS {run.usage.pss_at_peak_kib / 1024:.0f}), fleet CPU "
        f"{sum(run.fleet_cpu_s.values()):.2f} s: {verdict}"
    )


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
