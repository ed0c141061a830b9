"""The history page's pure part: when each host that breaks now first broke, run by run."""

from __future__ import annotations

import pytest

from hsts_coverage.report.history import Run, first_broke


def runs(*statuses: dict[str, str]) -> list[Run]:
    return [
        Run(f"run{i}", None, {host: {"host": host, "status": s} for host, s in night.items()})
        for i, night in enumerate(statuses, 1)
    ]


@pytest.mark.parametrize(
    ("nights", "expected"),
    [
        ([{"a": "ok"}, {"a": "breaks"}, {"a": "breaks"}], {"a": "run2"}),
        ([{"a": "breaks"}, {"a": "ok"}, {"a": "breaks"}], {"a": "run3"}),  # fixed, broken again
        ([{"a": "breaks"}, {}, {"a": "breaks"}], {"a": "run3"}),  # missing from a run: a gap
        ([{"a": "breaks"}, {"a": "breaks"}], {"a": "run1"}),
        ([{"a": "breaks"}, {"a": "ok"}], {}),  # fixed now: not listed
        ([{"a": "unknown"}, {"a": "breaks", "b": "breaks"}], {"a": "run2", "b": "run2"}),
        ([], {}),
    ],
)
def test_first_broke(nights: list[dict[str, str]], expected: dict[str, str]) -> None:
    assert first_broke(runs(*nights)) == expected
