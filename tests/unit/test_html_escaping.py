"""Every untrusted string of a report reaches the HTML page escaped, wherever the page shows it.

Each field the page shows gets its own tagged copy of one hostile value (a script element, both
quotes and an ampersand); the page must show each tag escaped and never the raw value, in the
single report and in the history page. The negative twin renders the same records through an
environment without autoescape and sees the raw script come through.
"""

from __future__ import annotations

import tomllib
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from hsts_coverage.report import html
from hsts_coverage.report.history import render_history
from hsts_coverage.report.html import render_html
from hsts_coverage.report.reader import parse_records

RAW = '<script>alert("x")</script>\'&'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;&amp;"
_tags = count(1)
TAGS: list[str] = []


def hostile() -> str:
    tag = f"t{next(_tags):02d}x"
    TAGS.append(tag)
    return tag + RAW


def records() -> list[dict[str, Any]]:
    TAGS.clear()
    domain = hostile()
    reason = {
        "code": hostile(),
        "severity": "breaks",
        "summary": hostile(),
        "chrome_error": hostile(),
        "firefox_error": hostile(),
        "detail": hostile(),
        "fix": hostile(),
    }
    host = {
        "type": "host",
        "host": hostile(),
        "domain": domain,
        "status": "breaks",
        "reasons": [reason],
        "addresses": [hostile()],
        "found_by": [hostile()],
        "https": {
            "strict_transport_security": [hostile()],
            "certificate": {
                "subject": hostile(),
                "issuer": hostile(),
                "not_after": "2026-12-20T00:00:00Z",
                "days_left": 19,
            },
        },
        "redirects": {
            "end": hostile(),
            "detail": hostile(),
            "hops": [{"url": hostile(), "status": 301, "failure": hostile(), "detail": hostile()}],
        },
    }
    summary = {
        "type": "summary",
        "domain": domain,
        "verdict": "NOT SAFE",  # an enum: the reader refuses any other value
        "why": hostile(),
        "exit_meaning": hostile(),
        "counts": {"breaks": 1},
        "hosts": 1,
        "enumeration": {
            "status": hostile(),
            "names": 1,
            "sources": [hostile()],
            "error": hostile(),
            "notes": [hostile()],
            "per_source": {hostile(): {"names": 1}},
        },
        "wildcard_dns": [{"zone": hostile(), "probe_name": hostile()}],
        "advice": [hostile()],
        "policy": {
            "domain": hostile(),
            "strict_transport_security": [hostile()],
            "effective": {"browser": {"accepted": False, "reason": hostile()}},
            "preload_list": {"source": hostile(), "preloaded": True, "entry": hostile()},
            "requirements": [
                {"code": hostile(), "title": hostile(), "status": hostile(),
                 "failures": [hostile()], "detail": hostile()}
            ],
        },
    }  # fmt: skip
    scan = {
        "type": "scan",
        "schema_version": 2,
        "tool": hostile(),
        "version": hostile(),
        "started_at": "2026-12-01T00:00:00Z",
        "options": {"shard": hostile()},
    }
    return [scan, host, summary]


class Elements(HTMLParser):
    """The elements and attributes the browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.update(name for name, _ in attrs)


def assert_escaped_everywhere(page: str) -> None:
    assert RAW not in page
    assert "<script>alert" not in page
    missing = [tag for tag in TAGS if f"{tag}{ESCAPED}" not in page]
    assert missing == []  # every field is shown, and shown escaped
    parsed = Elements()
    parsed.feed(page)
    assert parsed.tags.count("script") == 1  # the page's own
    assert not {a for a in parsed.attributes if a.startswith("on")}


def test_every_hostile_string_is_escaped_in_the_report() -> None:
    assert_escaped_everywhere(render_html(parse_records(records(), "r").records))


def test_every_hostile_string_is_escaped_in_the_history() -> None:
    older, newer = records(), records()
    older[0]["started_at"] = "2026-11-30T00:00:00Z"
    reports = [parse_records(older, "old"), parse_records(newer, "new")]
    assert_escaped_everywhere(render_history(reports))


def test_without_autoescape_the_script_would_come_through(monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative twin: the checks above see an unescaped page."""
    html._environment.cache_clear()
    html._template.cache_clear()
    real = html.Environment

    def unescaped(**options: Any) -> Any:
        return real(**{**options, "autoescape": False})

    monkeypatch.setattr(html, "Environment", unescaped)
    try:
        with pytest.raises(AssertionError):
            assert_escaped_everywhere(render_html(parse_records(records(), "r").records))
    finally:
        html._environment.cache_clear()
        html._template.cache_clear()


def test_the_templates_ship_with_the_package() -> None:
    """Wheels carry only the package data pyproject names (an editable install hides this)."""
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    data = pyproject["tool"]["setuptools"]["package-data"]["hsts_coverage"]
    assert "report/templates/*" in data
    shipped = Path(html.__file__).with_name("templates")
    assert {p.name for p in shipped.iterdir()} >= {"page.html.j2", "page.css", "page.js"}
