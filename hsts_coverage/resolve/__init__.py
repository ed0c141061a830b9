"""The resolve stage: names -> addresses, and which of them a scan may connect to.

`resolver` (aiodns: A and AAAA, CNAME chains, retries within a time budget, a silent zone's
wait shared by its names), `pacer` (DNS at the pace of the answers) and `addresses` (the
private-address guard, and the address each connection of the prober goes to). Every name the
other stages use is imported from here.

`resolver`'s names load with it, on first use (PEP 562): a worker process needs the address
guard for every host but DNS only when a redirect leads to another name, and aiodns, pycares
and c-ares's thread cost a worker about 1 MiB (2,000-host fleet, `make bench`).
"""

from typing import TYPE_CHECKING, Any

from hsts_coverage.resolve.addresses import (
    AddressBook,
    AddressPolicy,
    BlockedAddressError,
    Resolves,
    UnresolvedError,
    is_public,
)
from hsts_coverage.resolve.pacer import Pacer

if TYPE_CHECKING:
    from hsts_coverage.resolve.resolver import MAX_CNAME_CHAIN, Resolver, chain_problem, zone_of

_FROM_RESOLVER = ("MAX_CNAME_CHAIN", "Resolver", "chain_problem", "zone_of")


def __getattr__(name: str) -> Any:
    if name in _FROM_RESOLVER:
        from hsts_coverage.resolve import resolver

        return getattr(resolver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_CNAME_CHAIN",
    "AddressBook",
    "AddressPolicy",
    "BlockedAddressError",
    "Pacer",
    "Resolver",
    "Resolves",
    "UnresolvedError",
    "chain_problem",
    "is_public",
    "zone_of",
]
