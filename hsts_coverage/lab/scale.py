"""The scale fleet: `--fleet N` adds the domain `fleet.test`, N identical hosts for load tests.

- `h0001.fleet.test` ... `hNNNN.fleet.test`, host i (from 0) on `{base}.{10 + i // 250}.{i % 250
  + 1}`: third octets 10 and up, clear of the lab's `.0` to `.4` and of `.250` (a test's own
  listener); `MAX_HOSTS` keeps the range below `.240`. The apex `fleet.test` is on
  `{base}.9.1` and is a normal host.
- A normal host redirects HTTP to https://same/ (301) and answers 200 over HTTPS, with the one
  VALID certificate for fleet.test and *.fleet.test (ECDSA, like every lab key).
- A hanging host accepts TCP on both ports and never speaks (Listen.HANG). Which ones hang is
  deterministic: host i hangs when floor((i + 1) * p / 100) > floor(i * p / 100), for p
  percent; at 10 % that is every 10th host (h0010, h0020, ...), evenly spread at any p.
- DNS: the zone fleet.test (every host and the apex); CT: one certificate per host, naming it.

Who serves the web hosts is `serve` (`--fleet-serve`): ALL (the default) has the lab listen on
every fleet address itself; DNS has the lab serve only DNS and CT, for a web server of its own
(the benchmark's nginx) that listens on `addresses()` with the lab's fleet certificate. A fleet
served elsewhere hangs nowhere (its hang percent must be 0), and only it may put `per_address`
(`--fleet-per-address`) K > 1 names on one address: host i is then on address slot i // K, so
hosts 0 to K-1 share the first address (RLIMIT_NOFILE caps the listening sockets of one
process, two per address; a server tells the names apart by SNI and Host).

Nothing is done per host at start beyond building these plans and binding two listeners (1000
hosts add about 0.3 s to the lab's start); `raise_fd_limit` makes room for the sockets.
"""

from __future__ import annotations

import datetime as dt
import math
import resource
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from hsts_coverage.lab.dns import Node, Zone
from hsts_coverage.lab.scenarios import CtCertificate

FLEET_DOMAIN = "fleet.test"
DEFAULT_HANG_PERCENT = 10.0
_FIRST_OCTET = 10
_PER_OCTET = 250
_APEX_OCTET = 9
MAX_HOSTS = (240 - _FIRST_OCTET) * _PER_OCTET  # 57,500: third octets 10 to 239
# CT rows a minute apart: an hour apart (the lab domain's spacing) would date a large fleet's
# last certificates more than a year into the future.
CT_STEP = dt.timedelta(minutes=1)
# File descriptors beyond the listeners: DNS, CT, and the connections clients hold open (a
# scanner's worth of concurrent connections, hanging hosts keeping theirs until it gives up).
FD_RESERVE = 1024


class FleetServe(StrEnum):
    """Who serves the fleet's web hosts (`--fleet-serve`)."""

    ALL = "all"  # the lab: DNS, CT and a listener pair per address
    DNS = "dns"  # the lab serves DNS and CT only; another server listens on the addresses


@dataclass(frozen=True, slots=True)
class FleetHost:
    name: str
    address: str
    hanging: bool


@dataclass(frozen=True, slots=True)
class Fleet:
    """`size` hosts under `base` ("127.x"), `hang_percent` of them hanging, `per_address` of
    them on each address, their web hosts served as `serve` says."""

    base: str
    size: int
    hang_percent: float = DEFAULT_HANG_PERCENT
    per_address: int = 1
    serve: FleetServe = FleetServe.ALL

    def __post_init__(self) -> None:
        if self.per_address < 1:
            raise ValueError(f"--fleet-per-address is at least 1, not {self.per_address}")
        limit = MAX_HOSTS * self.per_address
        if not 0 <= self.size <= limit:
            raise ValueError(f"a fleet holds 0 to {limit} hosts, not {self.size}")
        if not 0 <= self.hang_percent <= 100:
            raise ValueError(f"--fleet-hang is a percentage, not {self.hang_percent}")
        self._check_serve()

    def _check_serve(self) -> None:
        # The lab's own listeners serve one name per address and are what hangs.
        if self.serve is FleetServe.ALL and self.per_address > 1:
            raise ValueError("--fleet-per-address above 1 needs --fleet-serve dns")
        if self.serve is FleetServe.DNS and self.hang_percent:
            raise ValueError("--fleet-hang needs --fleet-serve all: only the lab's hosts hang")

    @property
    def web(self) -> bool:
        """Whether the lab listens on the fleet's addresses itself."""
        return self.serve is FleetServe.ALL

    @property
    def apex(self) -> FleetHost:
        return FleetHost(FLEET_DOMAIN, f"{self.base}.{_APEX_OCTET}.1", hanging=False)

    def hosts(self) -> Iterator[FleetHost]:
        """Every host but the apex, in order."""
        share = self._share()
        for index in range(self.size):
            yield FleetHost(self.name(index), self.address(index), _crosses(index, share))

    def name(self, index: int) -> str:
        return f"h{index + 1:04d}.{FLEET_DOMAIN}"

    def address(self, index: int) -> str:
        return self._slot_address(index // self.per_address)

    def addresses(self) -> list[str]:
        """Every distinct address of the fleet, the apex's first, in order."""
        slots = math.ceil(self.size / self.per_address)
        return [self.apex.address, *(self._slot_address(slot) for slot in range(slots))]

    def _slot_address(self, slot: int) -> str:
        return f"{self.base}.{_FIRST_OCTET + slot // _PER_OCTET}.{slot % _PER_OCTET + 1}"

    def hangs(self, index: int) -> bool:
        return _crosses(index, self._share())

    def _share(self) -> Fraction:
        # Exact arithmetic: in floats, 10 % of some multiples of 10 falls just short of whole.
        return Fraction(str(self.hang_percent)) / 100

    def zone(self) -> Zone:
        zone = Zone(FLEET_DOMAIN)
        for host in (self.apex, *self.hosts()):
            zone.add(host.name, Node(addresses=(host.address,)))
        return zone

    def ct_certificates(self) -> tuple[CtCertificate, ...]:
        return tuple(CtCertificate((host.name,)) for host in self.hosts())

    def info(self) -> dict[str, Any]:
        """The fleet's entry in lab.json."""
        hanging = [host.name for host in self.hosts() if host.hanging]
        return {"domain": FLEET_DOMAIN, "hosts": self.size, "hanging": hanging}


def _crosses(index: int, share: Fraction) -> bool:
    """Whether host `index` takes the running count of `share` of the hosts to a new whole."""
    return math.floor((index + 1) * share) > math.floor(index * share)


def raise_fd_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit, and both to `needed` when the hard limit
    is lower (only a privileged process, e.g. root, may); the soft limit now in force.

    Raises OSError with a one-line message when `needed` descriptors cannot be had.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        target = (max(soft, needed), hard)
    elif hard >= needed:
        target = (hard, hard)
    else:
        target = (needed, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, target)
    except (ValueError, OSError):
        raise OSError(
            f"the lab needs about {needed} file descriptors, but RLIMIT_NOFILE allows {hard} "
            "and this process may not raise it: raise `ulimit -Hn` or use a smaller --fleet"
        ) from None
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
