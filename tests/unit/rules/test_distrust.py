"""Distrust-after constraints: each kind of row of the table, on leaves issued around its dates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from hsts_coverage.models import Certificate
from hsts_coverage.reasons import Reason
from hsts_coverage.rules.distrust import BUILT_IN, Constraint, distrust_findings, parse_rows, table

ENTRUST_G2 = "43df5774b03e7fef5fe40d931a7bedf1bb2e6b42738c4e6d3841103d3aa7f339"
HIPKI = "f015ce3cc239bfef064be9f1d2c417e1a0264a0a94be1f0c8d121864eb6949cc"
LEAF = Certificate(
    subject="CN=www.example.com",
    sans=("www.example.com",),
    issuer="CN=Some CA",
    not_before=datetime(2024, 1, 1, tzinfo=UTC),
    not_after=datetime(2027, 1, 1, tzinfo=UTC),
    serial="1",
    signature_algorithm=None,
    self_signed=False,
)


def reasons(root: str, issued: str, rows: dict[str, Constraint] | None = None) -> list[Reason]:
    leaf = replace(LEAF, root_sha256=root, not_before=datetime.fromisoformat(issued))
    return [f.reason for f in distrust_findings(leaf, rows or table())]


@pytest.mark.parametrize(
    ("root", "issued", "expected"),
    [
        # a row both browsers hold (Entrust): Chrome from 2024-11-12, Firefox from 2024-12-01
        (ENTRUST_G2, "2024-11-11T23:59:59+00:00", []),
        (ENTRUST_G2, "2024-11-12T00:00:00+00:00", [Reason.CERT_DISTRUSTED_CHROME]),
        (ENTRUST_G2, "2024-11-30T23:59:59+00:00", [Reason.CERT_DISTRUSTED_CHROME]),
        (ENTRUST_G2, "2024-12-01T00:00:00+00:00", [Reason.CERT_DISTRUSTED]),
        # a Chrome-only row (Chunghwa Telecom, Netlock): from 2025-08-01, Firefox never
        (HIPKI, "2025-07-31T23:59:59+00:00", []),
        (HIPKI, "2025-08-01T00:00:00+00:00", [Reason.CERT_DISTRUSTED_CHROME]),
        (HIPKI, "2026-06-01T00:00:00+00:00", [Reason.CERT_DISTRUSTED_CHROME]),
        # a root outside the table, and a leaf whose chain was not verified
        ("ab" * 32, "2026-01-01T00:00:00+00:00", []),
        ("", "2026-01-01T00:00:00+00:00", []),
    ],
)
def test_each_kind_of_row(root: str, issued: str, expected: list[Reason]) -> None:
    assert reasons(root, issued) == expected


def test_a_firefox_only_row_from_a_file() -> None:
    [row] = parse_rows([{"sha256": "AB:" * 31 + "AB", "firefox_after": "2025-01-01"}])
    assert row.chrome_after is None
    assert row.firefox_after == datetime(2025, 1, 1, tzinfo=UTC)
    rows = table([row])
    assert reasons("ab" * 32, "2025-02-01T00:00:00+00:00", rows) == [Reason.CERT_DISTRUSTED_FIREFOX]
    assert reasons(ENTRUST_G2, "2025-02-01T00:00:00+00:00", rows) == [Reason.CERT_DISTRUSTED]


def test_the_table_is_data_with_sources() -> None:
    assert len({row.sha256 for row in BUILT_IN}) == len(BUILT_IN) == 12
    for row in BUILT_IN:
        assert len(row.sha256) == 64
        assert row.source
        assert row.chrome_after is not None  # every built-in row is Chrome's
        assert all(d is None or d.tzinfo is UTC for d in (row.chrome_after, row.firefox_after))
    assert table()[ENTRUST_G2].firefox_after == datetime(2024, 11, 30, 23, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ({}, "a JSON list"),
        ([1], "row 0: an object"),
        ([{"sha256": "12"}], "64 hexadecimal"),
        ([{"sha256": "ab" * 32}], "neither chrome_after nor firefox_after"),
        ([{"sha256": "ab" * 32, "chrome_after": "soon"}], "not an ISO 8601 time"),
    ],
)
def test_bad_rows_say_why(rows: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rows(rows)


def test_a_leaf_issued_after_the_date_by_a_second_is_distrusted() -> None:
    after = table()[HIPKI].chrome_after
    assert after is not None
    issued = (after + timedelta(seconds=1)).isoformat()
    assert reasons(HIPKI, issued) == [Reason.CERT_DISTRUSTED_CHROME]
