"""The diff rules, on plain records."""

from __future__ import annotations

from typing import Any

import pytest

from hsts_coverage.diff import Change, host_changes


def host(status: str, *reasons: str, days_left: int | None = None) -> dict[str, Any]:
    certificate = {"days_left": days_left} if days_left is not None else None
    return {
        "domain": "example.com",
        "host": "a.example.com",
        "status": status,
        "reasons": [{"code": code} for code in reasons],
        "https": {"certificate": certificate},
    }


@pytest.mark.parametrize(
    ("old", "new", "changes"),
    [
        (host("ok"), host("ok"), []),
        (host("ok"), host("breaks", "cert_expired"), [Change.NEWLY_BREAKS, Change.REASONS_CHANGED]),
        (None, host("breaks", "cert_expired"), [Change.APPEARED, Change.NEWLY_BREAKS]),
        (None, host("ok"), [Change.APPEARED]),
        (host("breaks", "cert_expired"), None, [Change.DISAPPEARED]),
        (host("breaks", "cert_expired"), host("ok"), [Change.FIXED, Change.REASONS_CHANGED]),
        (host("breaks", "cert_expired"), host("breaks", "cert_untrusted"),
         [Change.REASONS_CHANGED]),
        (host("ok", days_left=30), host("warn", "cert_expiring_soon", days_left=10),
         [Change.REASONS_CHANGED, Change.EXPIRY_CROSSED]),
        (host("ok", days_left=30), host("ok", days_left=15), []),
        (host("warn", days_left=10), host("warn", days_left=9), []),
    ],
)  # fmt: skip
def test_host_changes(
    old: dict[str, Any] | None, new: dict[str, Any] | None, changes: list[Change]
) -> None:
    assert [c.change for c in host_changes(old, new, horizon=14)] == changes
