"""The fields several records share: times as RFC 3339 text, what CT says of a name."""

from __future__ import annotations

from datetime import datetime

from hsts_coverage.models import (
    CtFacts,
)
from hsts_coverage.report.shapes import (
    CtRecord,
)


def ct_record(facts: CtFacts | None) -> CtRecord | None:
    if facts is None:
        return None
    return {
        "certificates": facts.certificates,
        "first_not_before": time_text(facts.first_not_before) if facts.first_not_before else None,
        "last_not_after": time_text(facts.last_not_after) if facts.last_not_after else None,
        "issuers": list(facts.issuers),
        "sources": list(facts.sources),
    }


def time_text(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
