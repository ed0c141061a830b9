"""Name normalisation, scoping and the domain argument: every case CT and users throw at us."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsts_coverage.rules.names import (
    DomainError,
    Rejected,
    ScopedName,
    is_public_suffix,
    normalise,
    parse_domain,
    scope,
)

DOMAIN = "example.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("www.example.com", "www.example.com"),
        ("  WWW.Example.COM  ", "www.example.com"),
        ("www.example.com.", "www.example.com"),
        ("bücher.example.com", "xn--bcher-kva.example.com"),
        ("xn--bcher-kva.example.com", "xn--bcher-kva.example.com"),
        ("", Rejected.EMPTY),
        ("   ", Rejected.EMPTY),
        ("hostmaster@example.com", Rejected.EMAIL),
        ("192.0.2.1", Rejected.IP_LITERAL),
        ("2001:db8::1", Rejected.IP_LITERAL),
        ("[2001:db8::1]", Rejected.IP_LITERAL),
        ("bad_name!.example.com", Rejected.INVALID),
        ("under_score.example.com", Rejected.INVALID),
        ("-lead.example.com", Rejected.INVALID),
        ("trail-.example.com", Rejected.INVALID),
        ("a..example.com", Rejected.INVALID),
        ("sp ace.example.com", Rejected.INVALID),
        ("x" * 64 + ".example.com", Rejected.INVALID),
        (".".join(["a" * 60] * 5), Rejected.INVALID),  # 304 characters
        ("\u2603\u0000.example.com", Rejected.INVALID),
        ("xn--zz.example.com", Rejected.INVALID),  # punycode that decodes to nothing
        ("www.XN--A.example.com", Rejected.INVALID),
    ],
)
def test_normalise(raw: str, expected: str | Rejected) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("example.com", ScopedName("example.com")),
        ("www.example.com", ScopedName("www.example.com")),
        ("*.example.com", ScopedName("example.com", wildcard=True)),
        ("*.dev.EXAMPLE.com.", ScopedName("dev.example.com", wildcard=True)),
        ("www.example.com.au", Rejected.OUT_OF_SCOPE),
        ("notexample.com", Rejected.OUT_OF_SCOPE),
        ("example.com.evil.net", Rejected.OUT_OF_SCOPE),
        ("com", Rejected.OUT_OF_SCOPE),
        ("*.*.example.com", Rejected.INVALID),
        ("www*.example.com", Rejected.INVALID),
        ("admin@example.com", Rejected.EMAIL),
    ],
)
def test_scope(raw: str, expected: ScopedName | Rejected) -> None:
    assert scope(raw, DOMAIN) == expected


@pytest.mark.parametrize(
    ("typed", "domain"),
    [
        ("example.com", "example.com"),
        ("Example.COM.", "example.com"),
        ("https://www.example.com/some/path?q=1", "www.example.com"),
        ("http://EXAMPLE.com:8080", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("dev.example.co.uk", "dev.example.co.uk"),
        ("hsts-lab.test", "hsts-lab.test"),
    ],
)
def test_parse_domain_accepts(typed: str, domain: str) -> None:
    assert parse_domain(typed) == domain


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("co.uk", "public suffix"),
        ("com", "public suffix"),
        ("github.io", "public suffix"),
        ("localhost", "public suffix"),
        ("example.com/path", "not a domain"),
        ("example.com:443", "not a domain"),
        ("192.0.2.1", "IP address"),
        ("bad_name.com", "not a valid domain"),
        ("https://", "no host"),
        ("http://[::1", "not a valid URL"),
    ],
)
def test_parse_domain_refuses(typed: str, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        parse_domain(typed)


@given(st.text(max_size=300))
def test_normalise_never_crashes_and_is_idempotent(raw: str) -> None:
    result = normalise(raw)
    if not isinstance(result, Rejected):
        assert result == result.lower()
        assert len(result) <= 253
        assert normalise(result) == result


@given(st.text(max_size=100), st.sampled_from(["example.com", "hsts-lab.test"]))
def test_scope_never_returns_a_name_outside_the_domain(raw: str, domain: str) -> None:
    result = scope(raw, domain)
    if isinstance(result, ScopedName):
        assert result.name == domain or result.name.endswith("." + domain)


@given(st.text(max_size=100))
def test_parse_domain_gives_a_name_or_a_domain_error(typed: str) -> None:
    try:
        domain = parse_domain(typed)
    except DomainError:
        return
    assert normalise(domain) == domain


@pytest.mark.parametrize(
    "name",
    [
        "com", "co.uk", "example.co.uk", "github.io", "foo.github.io", "ck", "foo.ck", "www.ck",
        "kawasaki.jp", "city.kawasaki.jp", "foo.kawasaki.jp", "xn--55qx5d.cn", "a.xn--55qx5d.cn",
        "localhost", "hsts-lab.test", "test", "example.com", "s3.amazonaws.com", "appspot.com",
        "blogspot.com", "foo.bar.blogspot.com", "bd", "com.bd", "a.com.bd",
    ],
)  # fmt: skip
def test_public_suffixes_agree_with_the_reference_library(name: str) -> None:
    from publicsuffixlist import PublicSuffixList

    assert is_public_suffix(name) is PublicSuffixList().is_public(name)


def _listed_rules() -> list[str]:
    from importlib import resources

    data = resources.files("publicsuffixlist").joinpath("public_suffix_list.dat")
    lines = data.read_text(encoding="utf-8").splitlines()
    return [line.split()[0] for line in lines if line.strip() and not line.startswith("//")]


def test_every_listed_rule_its_parent_and_a_child_agree_with_the_reference_library() -> None:
    # The rules are kept as fingerprints: every one of them must still be found, and the names
    # around them must still be told apart.
    from publicsuffixlist import PublicSuffixList

    reference = PublicSuffixList()
    names = set()
    for rule in _listed_rules():
        bare = rule.removeprefix("!").removeprefix("*.")
        if bare.isascii():
            names |= {bare, f"x.{bare}", bare.partition(".")[2] or bare}
    assert len(names) > 15_000
    disagree = [n for n in sorted(names) if is_public_suffix(n) is not reference.is_public(n)]
    assert not disagree, disagree[:10]


def test_the_public_suffix_list_costs_the_scan_under_100_kb() -> None:
    import tracemalloc

    from hsts_coverage.rules import names

    names._suffix_rules.cache_clear()
    names._suffix_rules()  # whatever reading the file loads, loaded
    names._suffix_rules.cache_clear()
    tracemalloc.start()
    try:
        names._suffix_rules()
        kept, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 100_000, kept  # as a set of its 10,400 strings: 1.7 MB
