"""Pure parts of resolving: which addresses may be probed, which CNAME chains are trusted."""

from __future__ import annotations

import ipaddress
import tracemalloc

import pytest

from hsts_coverage.resolve import AddressPolicy, chain_problem


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("127.77.1.2", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # CGNAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),  # multicast
        ("239.255.255.250", False),
        ("240.0.0.1", False),  # reserved
        ("255.255.255.255", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),  # link-local
        ("fc00::1", False),  # unique local
        ("ff02::1", False),  # multicast
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:169.254.169.254", False),
        ("::ffff:93.184.216.34", True),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ],
)
def test_only_public_addresses_by_default(address: str, public: bool) -> None:
    assert AddressPolicy().permits(address) is public


def test_allow_private_and_allowed_networks() -> None:
    assert AddressPolicy(allow_private=True).permits("169.254.169.254")
    lab = AddressPolicy(allow_cidrs=(ipaddress.ip_network("127.0.0.0/8"),))
    assert lab.permits("127.77.1.2")
    assert not lab.permits("169.254.169.254")
    assert not lab.permits("10.0.0.1")


@pytest.mark.parametrize(
    ("cnames", "problem"),
    [
        ((), None),
        (("b.example.com",), None),
        (("b.example.com", "a.example.com"), "CNAME loop"),
        (("b.example.com", "c.example.com", "b.example.com"), "CNAME loop"),
        (tuple(f"l{i}.example.com" for i in range(16)), None),
        (tuple(f"l{i}.example.com" for i in range(17)), "17 links"),
    ],
)
def test_cname_chain_problems(cnames: tuple[str, ...], problem: str | None) -> None:
    found = chain_problem("a.example.com", cnames)
    if problem is None:
        assert found is None
    else:
        assert problem in (found or "")


def test_the_address_check_keeps_a_bounded_cache() -> None:
    # Every host asks whether its addresses may be probed; the answers are cached, but a scan
    # of 65,536 addresses kept every one of them to its end (9 MiB).
    policy = AddressPolicy(allow_cidrs=(ipaddress.ip_network("10.0.0.0/8"),))
    addresses = [f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(20_000)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert all(policy.permits(address) for address in addresses)
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 1_000_000  # 2.9 MB with an entry per address
    assert not AddressPolicy().permits("10.1.2.3")
