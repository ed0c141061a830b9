"""Where a browser enforcing HSTS goes next: RFC 6797 section 8.3 upgrades, scope, junk."""

from __future__ import annotations

import pytest

from hsts_coverage.rules.redirects import Step, StepKind, next_step, visit_key, without_credentials

D = "example.com"
HERE = "https://a.example.com/x/y"


@pytest.mark.parametrize(
    ("location", "step"),
    [
        ("/a", Step(StepKind.FETCH, "https://a.example.com/a")),
        ("z", Step(StepKind.FETCH, "https://a.example.com/x/z")),
        ("//www.example.com/", Step(StepKind.FETCH, "https://www.example.com/")),
        ("https://example.com/#frag", Step(StepKind.FETCH, "https://example.com/")),
        ("http://a.example.com/", Step(StepKind.FETCH, "https://a.example.com/", upgraded=True)),
        ("http://a.example.com:80/", Step(StepKind.FETCH, "https://a.example.com/", upgraded=True)),
        (
            "http://a.example.com:8080/",
            Step(StepKind.FETCH, "https://a.example.com:8080/", upgraded=True),
        ),
        (
            "HTTP://WWW.EXAMPLE.COM/",
            Step(StepKind.FETCH, "https://www.example.com/", upgraded=True),
        ),
        ("https://user:secret@www.example.com/", Step(StepKind.FETCH, "https://www.example.com/")),
        ("http://example.org/", Step(StepKind.LEFT_SCOPE, "http://example.org/")),
        (
            "https://example.com.evil.net/",
            Step(StepKind.LEFT_SCOPE, "https://example.com.evil.net/"),
        ),
        ("http://192.0.2.1/", Step(StepKind.LEFT_SCOPE, "http://192.0.2.1/")),
        # The WHATWG URL standard, as browsers resolve them: a backslash ends the authority in
        # a special URL, percent-encoded dots decode in the host, `https:\\host\` is absolute.
        (
            "https://a.example.com\\@evil.example/",
            Step(StepKind.FETCH, "https://a.example.com/@evil.example/"),
        ),
        ("https://b%2eexample%2ecom/", Step(StepKind.FETCH, "https://b.example.com/")),
        ("https:\\\\b.example.com\\", Step(StepKind.FETCH, "https://b.example.com/")),
        ("https:\\\\evil.example\\", Step(StepKind.LEFT_SCOPE, "https://evil.example/")),
        (" /a\t\n", Step(StepKind.FETCH, "https://a.example.com/a")),
        ("https://xn--zz.example.com/", Step(StepKind.FETCH, "https://xn--zz.example.com/")),
    ],
)
def test_next_step(location: str, step: Step) -> None:
    assert next_step(HERE, location, D) == step


@pytest.mark.parametrize("location", ["javascript:alert(1)", "ftp://a.example.com/"])
def test_locations_of_other_schemes_end_the_walk(location: str) -> None:
    assert next_step(HERE, location, D).kind is StepKind.NOT_HTTP


@pytest.mark.parametrize(
    "location",
    [
        "http://[::1/",
        "https://a.example.com:99999/",
        "https://a.example.com:65536/",
        "https://[::1/",
        "http://a b.example.com/",
        "https://a.example.com:port/",
    ],
)
def test_locations_a_browser_refuses_are_invalid_redirects(location: str) -> None:
    step = next_step(HERE, location, D)
    assert step.kind is StepKind.INVALID
    assert step.detail.startswith("ERR_INVALID_REDIRECT")


def test_visit_key_ignores_default_port() -> None:
    assert visit_key("https://a.example.com:443/") == visit_key("https://a.example.com/")
    assert visit_key("https://a.example.com:8443/") != visit_key("https://a.example.com/")


@pytest.mark.parametrize(
    ("location", "written"),
    [
        ("https://user:secret@www.example.com/x", "https://www.example.com/x"),
        ("//user@www.example.com/p", "//www.example.com/p"),
        ("http://u:p@[::1/broken", "http://[::1/broken"),  # not parseable: still stripped
        ("/relative?user=a@b", "/relative?user=a@b"),
        ("https://www.example.com/", "https://www.example.com/"),
    ],
)
def test_credentials_never_reach_a_report(location: str, written: str) -> None:
    assert without_credentials(location) == written
