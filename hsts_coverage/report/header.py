"""The plain-text view of one Strict-Transport-Security check (its JSON form is a record:
`records.header_check_record`).

Views only render a `HeaderCheck`; every judgement is made in `hsts_coverage.rules.hsts_header`.
The header comes from a server we do not trust, and the issue messages quote parts of it, so
every line of the text view goes through `clean` before it can reach a terminal.
"""

from __future__ import annotations

from hsts_coverage.models import BrowserView, HeaderCheck, Issue, IssueSeverity
from hsts_coverage.report.text import clean
from hsts_coverage.rules.preload_header import ONE_YEAR

_UNITS = (("year", ONE_YEAR), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def header_text(check: HeaderCheck) -> str:
    """A readable verdict: the browsers' line and its notes, then hstspreload.org's verdict."""
    lines = [_browser_line(check.browser)]
    lines += [_issue_line(i) for i in check.issues if i.severity is not IssueSeverity.ERROR]
    lines.append(_preload_line(check))
    lines += [_issue_line(i) for i in (*check.preload_errors, *check.preload_warnings)]
    return "\n".join(clean(line) for line in lines)


def _browser_line(browser: BrowserView) -> str:
    if not browser.accepted or browser.max_age is None:
        return f"Browsers: IGNORED: {browser.reason}"
    parts = [f"max-age {browser.max_age} ({_duration(browser.max_age)})"]
    parts += ["includeSubDomains"] if browser.include_subdomains else []
    parts += ["preload"] if browser.preload else []
    return "Browsers: ACCEPTED, " + ", ".join(parts)


def _preload_line(check: HeaderCheck) -> str:
    if check.preload_errors:
        return "hstspreload.org: NOT preloadable"
    return "hstspreload.org: preloadable" + (", with warnings" if check.preload_warnings else "")


def _issue_line(issue: Issue) -> str:
    return f"  {issue.severity.value} {issue.code}: {issue.message}"


def _duration(seconds: int) -> str:
    """Seconds in the largest unit that fits: '1 year', '126 days', '≈ 1.5 years'."""
    name, size = next((name, size) for name, size in _UNITS if seconds >= size or size == 1)
    if seconds % size:
        return f"≈ {seconds / size:.1f} {name}s"
    count = seconds // size
    return f"{count} {name}" + ("" if count == 1 else "s")
