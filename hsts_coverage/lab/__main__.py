"""Run the lab in the foreground.

    python -m hsts_coverage.lab [--base 127.77] [--state-dir lab-state] [--domain hsts-lab.test]
                                [--fleet N [--fleet-hang PERCENT] [--fleet-serve all|dns]
                                           [--fleet-per-address K]]

Once every server listens it prints exactly one JSON line to stdout, `Lab.info`, and writes the
same line to STATE_DIR/lab.json. Everything meant for people goes to stderr. SIGINT or SIGTERM
stops every server; the exit status is then 0. It is 1 when the lab cannot start (an address in
use, no permission for ports below 1024, no openssl CLI, no BIND `named` (Debian package
bind9) or it does not come up, a base outside 127.0.0.0/8, a fleet too large for RLIMIT_NOFILE).
The zone lab (`dns-lab.test`, see `hsts_coverage.lab.zonelab`) is always served, its zone by
named on `{base}.0.54` (AXFR allowed) and `{base}.0.55` (AXFR refused).

`--fleet N` adds the scale fleet (`fleet.test`, N hosts, see `hsts_coverage.lab.scale`), of
which `--fleet-hang` percent (default 10) accept connections and never answer.
`--fleet-serve dns` serves only the fleet's DNS and CT and no web host (another server, such as
the benchmark's nginx, listens on the fleet's addresses; `--fleet-hang` is then 0), and with it
`--fleet-per-address K` gives every K consecutive hosts one address.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

from hsts_coverage.lab.fleet import DEFAULT_BASE, Lab
from hsts_coverage.lab.scale import DEFAULT_HANG_PERCENT, Fleet, FleetServe
from hsts_coverage.lab.scenarios import LAB_DOMAIN

log = logging.getLogger("hsts_coverage.lab")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m hsts_coverage.lab",
        description="Serve the HSTS lab (DNS, crt.sh look-alike, web hosts) on loopback.",
    )
    parser.add_argument("--base", default=DEFAULT_BASE, help="first two octets, 127.x")
    parser.add_argument("--state-dir", type=Path, default=Path("lab-state"))
    parser.add_argument("--domain", default=LAB_DOMAIN)
    parser.add_argument("--fleet", type=int, default=0, metavar="N", help="fleet.test hosts")
    parser.add_argument(
        "--fleet-hang",
        type=float,
        default=None,
        metavar="PERCENT",
        help=f"share of the fleet that accepts connections and never answers "
        f"(default {DEFAULT_HANG_PERCENT:g}, 0 with --fleet-serve dns)",
    )
    parser.add_argument(
        "--fleet-serve",
        type=FleetServe,
        choices=list(FleetServe),
        default=FleetServe.ALL,
        help="all: the lab serves the fleet's web hosts too; dns: only its DNS and CT",
    )
    parser.add_argument(
        "--fleet-per-address",
        type=int,
        default=1,
        metavar="K",
        help="fleet hosts sharing one address (above 1 needs --fleet-serve dns)",
    )
    return parser.parse_args(argv)


def fleet_of(args: argparse.Namespace) -> Fleet:
    """The fleet the options describe; ValueError for a combination that makes no sense."""
    hang = args.fleet_hang
    if hang is None:
        hang = DEFAULT_HANG_PERCENT if args.fleet_serve is FleetServe.ALL else 0.0
    return Fleet(args.base, args.fleet, hang, args.fleet_per_address, args.fleet_serve)


async def run(args: argparse.Namespace) -> int:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        fleet = fleet_of(args)
        lab = Lab(args.domain, args.base, args.state_dir, fleet)
        await lab.start()
    except (OSError, ValueError, subprocess.CalledProcessError) as exc:
        log.error("lab: cannot start: %s", exc)
        return 1
    try:
        _announce(lab)
        await stopping.wait()
        log.info("lab: stopping")
    finally:
        await lab.stop()
    return 0


def _announce(lab: Lab) -> None:
    info = lab.info
    line = json.dumps(info)
    (lab.state_dir / "lab.json").write_text(line + "\n")
    print(line, flush=True)
    log.info(
        "lab: %s ready: %d hosts on %s.1.*, %d policy sites, DNS %s, CT %s, CA %s",
        info["domain"],
        len(set(info["hosts"].values())),
        info["base"],
        len(info["policy_sites"]),
        info["resolver"],
        info["ct_url"],
        info["ca_bundle"],
    )
    zone_lab = info["zone_lab"]
    log.info(
        "lab: %s: %d hosts on %s.5.*, zone file %s, named on %s (AXFR) and %s (AXFR refused)",
        zone_lab["domain"],
        len(zone_lab["hosts"]),
        info["base"],
        zone_lab["zone_file"],
        zone_lab["axfr"],
        zone_lab["axfr_refused"],
    )
    if lab.fleet is not None:
        log.info(
            "lab: fleet %s: %d hosts on %s.10.* onwards (%d per address), %d of them hanging, %s",
            info["fleet"]["domain"],
            info["fleet"]["hosts"],
            info["base"],
            lab.fleet.per_address,
            len(info["fleet"]["hanging"]),
            "web hosts served by the lab" if lab.fleet.web else "DNS and CT only, no web host",
        )


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
