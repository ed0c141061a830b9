"""crt.sh rows -> names: deduplication, CT facts, wildcards, rejections and truncation."""

from __future__ import annotations

from datetime import UTC, datetime

from hsts_coverage.sources.collect import NameCollector
from hsts_coverage.sources.crtsh import TRUNCATION_ROWS, add_rows, parse_timestamp


def row(names: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "issuer_ca_id": 1,
        "issuer_name": "C=US, O=Test CA, CN=Test CA",
        "common_name": names.split("\n")[0],
        "name_value": names,
        "id": 1,
        "entry_timestamp": "2026-01-02T03:04:05.678",
        "not_before": "2026-01-01T00:00:00",
        "not_after": "2026-04-01T00:00:00",
        "serial_number": "0a",
        "result_count": 1,
    }
    base.update(extra)
    return base


def test_rows_are_split_normalised_deduplicated_and_scoped() -> None:
    collector = NameCollector("example.com")
    rows = [
        row("example.com\nwww.example.com"),
        row("WWW.EXAMPLE.COM.\n*.dev.example.com", not_after="2027-01-01T00:00:00"),
        row("hostmaster@example.com\n192.0.2.1\nbad_name!.example.com"),
        row("www.example.com.au\nnotexample.com"),
        row("bücher.example.com"),
    ]
    assert add_rows(collector, rows) == 5
    assert collector.names() == (
        "example.com",
        "dev.example.com",
        "www.example.com",
        "xn--bcher-kva.example.com",
    )
    assert collector.wildcards() == ("*.dev.example.com",)
    assert dict(collector.rejected) == {
        "email": 1,
        "ip_literal": 1,
        "invalid": 1,
        "out_of_scope": 2,
    }
    www = collector.ct_facts()["www.example.com"]
    assert www.certificates == 2
    assert www.first_not_before == datetime(2026, 1, 1, tzinfo=UTC)
    assert www.last_not_after == datetime(2027, 1, 1, tzinfo=UTC)
    assert www.issuers == ("C=US, O=Test CA, CN=Test CA",)


def test_a_name_twice_in_one_certificate_counts_once() -> None:
    collector = NameCollector("example.com")
    add_rows(collector, [row("www.example.com\nWWW.example.com.")])
    assert collector.ct_facts()["www.example.com"].certificates == 1


def test_malformed_rows_are_counted_not_fatal() -> None:
    collector = NameCollector("example.com")
    assert add_rows(collector, [42, {"name_value": None}, row("a.example.com")]) == 1
    assert collector.rejected["malformed_row"] == 2
    assert collector.names() == ("a.example.com",)


def test_result_count_sums_to_the_truncation_mark() -> None:
    collector = NameCollector("example.com")
    rows = [row(f"h{i}.example.com", result_count=2) for i in range(TRUNCATION_ROWS // 2)]
    assert add_rows(collector, rows) == TRUNCATION_ROWS


def test_user_names_are_scoped_too() -> None:
    collector = NameCollector("example.com")
    assert collector.add_name("API.example.com.")
    assert not collector.add_name("api.other.org")
    assert collector.names() == ("api.example.com",)
    assert collector.ct_facts() == {}


def test_timestamps_are_utc() -> None:
    assert parse_timestamp("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_timestamp("nonsense") is None
    assert parse_timestamp(None) is None
