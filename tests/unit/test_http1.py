"""The response head parser: hostile Content-Length values never raise."""

from __future__ import annotations

import pytest

from hsts_coverage.http1 import MAX_BODY, _content_length, parse_head


@pytest.mark.parametrize(
    ("value", "length"),
    [
        ("12", 12),
        ("\u00b2", MAX_BODY + 1),  # "²": str.isdigit() says yes, int() says no
        ("9" * 5000, MAX_BODY + 1),  # more digits than int() converts
        ("-1", MAX_BODY + 1),
        ("", MAX_BODY + 1),
    ],
)
def test_content_length(value: str, length: int) -> None:
    raw = f"HTTP/1.1 200 OK\r\nContent-Length: {value}".encode("latin-1")
    assert _content_length(parse_head(raw)) == length


@pytest.mark.parametrize("url", ["http://ca.example:99999/i.der", "http://[::1/i.der", "ftp://x/"])
async def test_an_aia_url_no_client_can_fetch_is_no_issuer(url: str) -> None:
    from hsts_coverage.probe import Prober
    from hsts_coverage.resolve import AddressBook, AddressPolicy, Resolver

    resolver = Resolver((), timeout=0.1, attempts=1)
    try:
        book = AddressBook(resolver, AddressPolicy(False, ()))
        prober = Prober(
            ca_bundle=None, addresses=book, timeout=0.1, max_redirects=20, user_agent="t"
        )
        assert await prober._fetch_issuer(url) is None
    finally:
        await resolver.close()
