"""Hostile option values: one line on stderr and exit 2, never a traceback or a header injected."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import hsts_coverage

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--timeout", "nan", "--timeout nan"),
        ("--timeout", "inf", "--timeout inf"),
        ("--ct-timeout", "nan", "--ct-timeout nan"),
        ("--rate", "nan", "--rate nan"),
        ("--ct-interval", "inf", "--ct-interval inf"),
        ("--shard", "1/" + "9" * 5000, "--shard"),
        ("--resolver", "fe80::1%lo", "scope id"),
        ("--resolver", "127.0.0.1:" + "9" * 5000, "invalid port"),
        ("--resolver", "127.0.0.1:\u00b2", "invalid port"),
        ("--user-agent", "\u20ac", "--user-agent"),
        ("--user-agent", "ok\r\nX-Injected: 1", "--user-agent"),
        ("--workers", "100000", "--workers"),
        ("--workers", "\u00b2", "--workers"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    run = hsts_coverage(["scan", "example.com", "--no-ct", option, value], tmp_path)
    assert run.code == 2, run.stderr
    assert run.stderr.startswith("hsts-coverage: error: ")
    assert message in run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert not (tmp_path / "report.ndjson").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [("--timeout", "nan"), ("--user-agent", "a\nb"), ("--resolver", "fe80::1%lo")],
)
def test_policy_checks_the_same_options(tmp_path: Path, option: str, value: str) -> None:
    run = hsts_coverage(["policy", "example.com", option, value], tmp_path)
    assert run.code == 2, run.stderr
    assert len(run.stderr.splitlines()) == 1
