"""The reason catalogue: every reason has its texts and is produced by a lab scenario."""

from __future__ import annotations

import pytest

from hsts_coverage.lab.scenarios import SCENARIOS
from hsts_coverage.reasons import Reason, Severity


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_its_texts(reason: Reason) -> None:
    assert reason.value == reason.value.lower()
    assert isinstance(reason.severity, Severity)
    for text in (reason.summary, reason.chrome_error, reason.firefox_error, reason.fix):
        assert text.strip(), f"{reason.value} lacks a text"


# Reasons that break in one browser only: the other's "error" says it still works there.
ONE_BROWSER = {
    Reason.CERT_DISTRUSTED_CHROME: "firefox",
    Reason.CERT_DISTRUSTED_FIREFOX: "chrome",
}


def test_breaking_reasons_name_a_browser_error() -> None:
    for reason in Reason:
        if reason.severity is Severity.BREAKS and reason is not Reason.REDIRECT_TARGET_BREAKS:
            spared = ONE_BROWSER.get(reason)
            chrome, firefox = reason.chrome_error, reason.firefox_error
            assert spared == "chrome" or chrome.startswith(("NET::", "ERR_", "HTTP")), reason
            assert spared == "firefox" or firefox.isupper() or "page" in firefox, reason
            if spared:
                assert (chrome if spared == "chrome" else firefox).startswith("none ("), reason


# Reasons no lab scenario can give on every machine, each with the test that produces it:
# a bug (tests/e2e/test_faults.py, a probe that raises), a host with more addresses than probed
# (tests/e2e/test_scan.py, --first-address on a two-address host), no route to an address
# (tests/unit/test_verdict.py: only a machine without IPv6 gives ENETUNREACH).
NOT_FROM_THE_LAB = {Reason.INTERNAL_ERROR, Reason.ADDRESSES_NOT_PROBED, Reason.NO_ROUTE}


def test_every_reason_appears_in_a_lab_scenario() -> None:
    produced = {reason for scenario in SCENARIOS for reason in scenario.expect_reasons}
    expected = set(Reason) - NOT_FROM_THE_LAB
    assert produced == expected, f"no lab scenario for {expected - produced}"


def test_scenario_status_matches_its_reasons() -> None:
    ranks = ["breaks", "unknown", "warn", "not_affected"]
    for scenario in SCENARIOS:
        severities = {r.severity.value for r in scenario.expect_reasons} - {"info"}
        expected = next((s for s in ranks if s in severities), "ok")
        assert scenario.expect_status == expected, scenario.label
