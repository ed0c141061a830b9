"""The resolve stage: names -> addresses, and which of them a scan may connect to.

`resolver` (aiodns: A and AAAA, CNAME chains, retries within a time budget, a silent zone's
wait shared by its names), `pacer` (DNS at the pace of the answers) and `addresses` (the
private-address guard, and the address each connection of the prober goes to). Every name the
other stages use is imported from here.
"""

from hsts_coverage.resolve.addresses import (
    AddressBook,
    AddressPolicy,
    BlockedAddressError,
    UnresolvedError,
    is_public,
)
from hsts_coverage.resolve.pacer import Pacer
from hsts_coverage.resolve.resolver import MAX_CNAME_CHAIN, Resolver, chain_problem, zone_of

__all__ = [
    "MAX_CNAME_CHAIN",
    "AddressBook",
    "AddressPolicy",
    "BlockedAddressError",
    "Pacer",
    "Resolver",
    "UnresolvedError",
    "chain_problem",
    "is_public",
    "zone_of",
]
