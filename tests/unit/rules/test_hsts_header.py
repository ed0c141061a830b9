"""Strict-Transport-Security parsing: the browsers' verdict and hstspreload.org's, on every rule."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsts_coverage.models import BrowserView, IssueSeverity
from hsts_coverage.report.header import header_text
from hsts_coverage.report.records import header_check_record
from hsts_coverage.rules.hsts_header import BrowserCode, browser_view, check_header, effective_field
from hsts_coverage.rules.preload_header import ONE_YEAR, TEN_YEARS, hstspreload_issues

FULL = "max-age=31536000; includeSubDomains; preload"
UINT64_MAX = 2**64 - 1

# hstspreload.org's codes, shortened for the tables.
EMPTY = "header.parse.empty"
REP_PRELOAD = "header.parse.repeated.preload"
REP_ISD = "header.parse.repeated.include_sub_domains"
REP_MAX_AGE = "header.parse.repeated.max_age"
BAD_PRELOAD = "header.parse.invalid.preload"
BAD_ISD = "header.parse.invalid.include_sub_domains"
LEADING_ZERO = "header.parse.max_age.leading_zero"
NON_DIGIT = "header.parse.max_age.non_digit_characters"
PARSE_INT = "header.parse.max_age.parse_int_error"
NO_VALUE = "header.parse.invalid.max_age.no_value"
EMPTY_DIRECTIVE = "header.parse.empty_directive"
UNKNOWN = "header.parse.unknown_directive"
ISD_MISSING = "header.preloadable.include_sub_domains.missing"
PRELOAD_MISSING = "header.preloadable.preload.missing"
MAX_AGE_MISSING = "header.preloadable.max_age.missing"
ZERO = "header.preloadable.max_age.zero"
BELOW_1Y = "header.preloadable.max_age.below_1_year"
OVER_10Y = "header.preloadable.max_age.over_10_years"
ALL_MISSING = (ISD_MISSING, PRELOAD_MISSING, MAX_AGE_MISSING)
PRELOAD_CODES = {
    *(EMPTY, REP_PRELOAD, REP_ISD, REP_MAX_AGE, BAD_PRELOAD, BAD_ISD, LEADING_ZERO, NON_DIGIT),
    *(PARSE_INT, NO_VALUE, EMPTY_DIRECTIVE, UNKNOWN, *ALL_MISSING, ZERO, BELOW_1Y, OVER_10Y),
}
# Go's unicode.IsSpace, which strings.TrimSpace uses.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B))
)

B = BrowserCode
IGNORED = (False, None, None, False, False)  # (accepted, max_age, effective, isd, preload)


@dataclass(frozen=True)
class Case:
    header: str
    browser: tuple[bool, int | None, int | None, bool, bool]
    issues: tuple[BrowserCode, ...] = ()  # the browser view's codes, in order
    errors: tuple[str, ...] = ()  # hstspreload.org, in order
    warnings: tuple[str, ...] = ()


def ok(max_age: int, isd: bool = True, preload: bool = True) -> tuple[bool, int, int, bool, bool]:
    return (True, max_age, min(max_age, ONE_YEAR), isd, preload)


# Case(header, (accepted, max_age, effective max-age, includeSubDomains, preload),
#      browser-view codes, hstspreload errors, hstspreload warnings)
# fmt: off
CASES = [
    # -- well-formed, and the whitespace, case and quoting RFC 6797 section 6.1 allows
    Case(FULL, ok(ONE_YEAR)),
    Case("includeSubDomains; preload; max-age=31536000", ok(ONE_YEAR)),
    Case("MAX-AGE=31536000; INCLUDESUBDOMAINS; PreLoad", ok(ONE_YEAR)),
    Case("   max-age=31536000  ;includeSubDomains;\tpreload\t", ok(ONE_YEAR)),
    Case("max-age = 31536000; includeSubDomains; preload",
         ok(ONE_YEAR), (), (NO_VALUE, MAX_AGE_MISSING)),
    Case("max-age= 31536000; includeSubDomains; preload",
         ok(ONE_YEAR), (), (NON_DIGIT, MAX_AGE_MISSING)),
    Case('max-age="31536000"; includeSubDomains; preload',
         ok(ONE_YEAR), (), (NON_DIGIT, MAX_AGE_MISSING)),
    Case('max-age="0"', ok(0, False, False), (B.MAX_AGE_ZERO,), (NON_DIGIT, *ALL_MISSING)),
    Case("max-age=00031536000; includeSubDomains; preload", ok(ONE_YEAR), (), (), (LEADING_ZERO,)),
    # -- what the directives and values mean
    Case("max-age=31536000", ok(ONE_YEAR, False, False), (), (ISD_MISSING, PRELOAD_MISSING)),
    Case("max-age=31536000; includeSubDomains", ok(ONE_YEAR, True, False), (), (PRELOAD_MISSING,)),
    Case("max-age=31536000; preload", ok(ONE_YEAR, False, True), (), (ISD_MISSING,)),
    Case("max-age=0", ok(0, False, False), (B.MAX_AGE_ZERO,), (ISD_MISSING, PRELOAD_MISSING, ZERO)),
    Case("max-age=0; includeSubDomains",
         ok(0, True, False), (B.MAX_AGE_ZERO,), (PRELOAD_MISSING, ZERO)),
    Case("max-age=10886400; includeSubDomains; preload", ok(10886400), (), (BELOW_1Y,)),
    Case("max-age=31535999; includeSubDomains; preload", ok(31535999), (), (BELOW_1Y,)),
    Case("max-age=63072000; includeSubDomains; preload", ok(63072000), (B.MAX_AGE_CAPPED,)),
    Case(f"max-age={TEN_YEARS}; includeSubDomains; preload", ok(TEN_YEARS), (B.MAX_AGE_CAPPED,)),
    Case(f"max-age={TEN_YEARS + 1}; includeSubDomains; preload",
         ok(TEN_YEARS + 1), (B.MAX_AGE_CAPPED,), (), (OVER_10Y,)),
    Case(f"max-age={UINT64_MAX}; includeSubDomains; preload",
         ok(UINT64_MAX), (B.MAX_AGE_CAPPED,), (), (OVER_10Y,)),
    Case(f"max-age={UINT64_MAX + 1}; includeSubDomains; preload",
         ok(UINT64_MAX), (B.MAX_AGE_CAPPED,), (PARSE_INT, MAX_AGE_MISSING)),
    Case("max-age=" + "9" * 5000 + "; includeSubDomains; preload",
         ok(UINT64_MAX), (B.MAX_AGE_CAPPED,), (PARSE_INT, MAX_AGE_MISSING)),
    # -- unknown directives: ignored by browsers, warned about by hstspreload.org
    Case(f"{FULL}; foo", ok(ONE_YEAR), (B.UNKNOWN_DIRECTIVE,), (), (UNKNOWN,)),
    Case(f'{FULL}; foo=bar; baz="q;x"',
         ok(ONE_YEAR), (B.UNKNOWN_DIRECTIVE,) * 2, (), (UNKNOWN,) * 3),
    Case(f"{FULL}; max-agex=5", ok(ONE_YEAR), (B.UNKNOWN_DIRECTIVE,), (NO_VALUE,)),
    Case("max-age=31536000; includeSubDomainsX",
         ok(ONE_YEAR, False, False), (B.UNKNOWN_DIRECTIVE,), (ISD_MISSING, PRELOAD_MISSING),
         (BAD_ISD,)),
    Case("max-age=31536000; includeSubDomains; preloaded",
         ok(ONE_YEAR, True, False), (B.UNKNOWN_DIRECTIVE,), (PRELOAD_MISSING,), (BAD_PRELOAD,)),
    Case("max-age=31536000; includeSubDomains; preload=true",
         ok(ONE_YEAR, True, False), (B.PRELOAD_VALUE,), (PRELOAD_MISSING,), (BAD_PRELOAD,)),
    Case("max-age=31536000; preload=1; preload=2; includeSubDomains",
         ok(ONE_YEAR, True, False), (B.PRELOAD_VALUE, B.REPEATED_RFC), (PRELOAD_MISSING,),
         (BAD_PRELOAD,)),
    # -- empty directives: fine for browsers, one warning from hstspreload.org
    Case(f"{FULL};", ok(ONE_YEAR), (), (), (EMPTY_DIRECTIVE,)),
    Case(f";;{FULL};  ;", ok(ONE_YEAR), (), (), (EMPTY_DIRECTIVE,)),
    Case(";", IGNORED, (B.MAX_AGE_MISSING,), ALL_MISSING, (EMPTY_DIRECTIVE,)),
    # -- an empty value: nothing else is parsed, the preloadable checks still run
    Case("", IGNORED, (B.MAX_AGE_MISSING,), ALL_MISSING, (EMPTY,)),
    Case(" \t ", IGNORED, (B.MAX_AGE_MISSING,), ALL_MISSING, (EMPTY,)),
    # -- max-age missing or malformed
    Case("includeSubDomains; preload", IGNORED, (B.MAX_AGE_MISSING,), (MAX_AGE_MISSING,)),
    Case("max-age", IGNORED, (B.MAX_AGE_INVALID,), (NO_VALUE, *ALL_MISSING)),
    Case("max-age; max-age; includeSubDomains; preload",
         IGNORED, (B.MAX_AGE_INVALID,), (NO_VALUE, MAX_AGE_MISSING)),
    Case("max-age=", IGNORED, (B.SYNTAX,), (PARSE_INT, *ALL_MISSING)),
    Case("max-age=-1; includeSubDomains; preload",
         IGNORED, (B.MAX_AGE_INVALID,), (NON_DIGIT, MAX_AGE_MISSING)),
    Case("max-age=+1; includeSubDomains; preload",
         IGNORED, (B.MAX_AGE_INVALID,), (NON_DIGIT, MAX_AGE_MISSING)),
    Case("max-age=1.5; includeSubDomains; preload",
         IGNORED, (B.MAX_AGE_INVALID,), (NON_DIGIT, MAX_AGE_MISSING)),
    Case("max-age=0x10; includeSubDomains; preload",
         IGNORED, (B.MAX_AGE_INVALID,), (NON_DIGIT, MAX_AGE_MISSING), (LEADING_ZERO,)),
    Case('max-age=""; includeSubDomains; preload',
         IGNORED, (B.MAX_AGE_INVALID,), (NON_DIGIT, MAX_AGE_MISSING)),
    Case("max-age=\u0661\u0662; includeSubDomains; preload",
         IGNORED, (B.SYNTAX,), (NON_DIGIT, MAX_AGE_MISSING)),
    # -- a repeated max-age or includeSubDomains: browsers ignore the header; a repeated preload
    # or unknown directive: browsers accept it (RFC 6797 would not: a note); hstspreload.org warns
    Case(f"{FULL}; max-age=31536000", IGNORED, (B.REPEATED,), (), (REP_MAX_AGE,)),
    Case(f"max-age=100; {FULL}; max-age=5", IGNORED, (B.REPEATED,), (BELOW_1Y,), (REP_MAX_AGE,)),
    Case(f"max-age=abc; {FULL}", IGNORED, (B.MAX_AGE_INVALID,), (NON_DIGIT,)),
    Case(f"{FULL}; max-age", IGNORED, (B.REPEATED,), (NO_VALUE,)),
    Case(f"{FULL}; INCLUDESUBDOMAINS; includeSubDomains", IGNORED, (B.REPEATED,), (), (REP_ISD,)),
    Case(f"{FULL}; preload; preload", ok(ONE_YEAR), (B.REPEATED_RFC,), (), (REP_PRELOAD,)),
    Case(f"{FULL}; foo; FOO",
         ok(ONE_YEAR), (B.UNKNOWN_DIRECTIVE, B.REPEATED_RFC), (), (UNKNOWN, UNKNOWN)),
    # browsers take the first `preload` (with a value: no preload); hstspreload.org any bare one
    Case("max-age=5; preload=x; preload; includeSubDomains",
         ok(5, True, False), (B.PRELOAD_VALUE, B.REPEATED_RFC), (BELOW_1Y,), (BAD_PRELOAD,)),
    # -- includeSubDomains with a value
    Case("max-age=31536000; includeSubDomains=yes; preload",
         IGNORED, (B.INCLUDE_SUBDOMAINS_VALUE,), (ISD_MISSING,), (BAD_ISD,)),
    Case('max-age=31536000; includeSubDomains=""; preload',
         IGNORED, (B.INCLUDE_SUBDOMAINS_VALUE,), (ISD_MISSING,), (BAD_ISD,)),
    # -- syntax errors: browsers ignore the whole header
    Case("max-age=31536000, includeSubDomains, preload",
         IGNORED, (B.SYNTAX,), (NON_DIGIT, *ALL_MISSING)),
    Case("max-age=31536000 includeSubDomains preload",
         IGNORED, (B.SYNTAX,), (NON_DIGIT, *ALL_MISSING)),
    Case(f"{FULL}; foo=", IGNORED, (B.SYNTAX,), (), (UNKNOWN,)),
    Case(f"{FULL}; =foo", IGNORED, (B.SYNTAX,), (), (UNKNOWN,)),
    Case(f'{FULL}; foo="unterminated', IGNORED, (B.SYNTAX,), (), (UNKNOWN,)),
    Case(f"{FULL}; f(o)o", IGNORED, (B.SYNTAX,), (), (UNKNOWN,)),
    Case("max-age=31536000;\xa0includeSubDomains; preload", IGNORED, (B.SYNTAX,)),
    Case(f"{FULL}\x1b[2J", IGNORED, (B.SYNTAX,), (PRELOAD_MISSING,), (BAD_PRELOAD,)),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[repr(c.header[:60]) for c in CASES])
def test_both_verdicts(case: Case) -> None:
    check = check_header(case.header)
    browser = check.browser
    got = (
        browser.accepted,
        browser.max_age,
        browser.effective_max_age,
        browser.include_subdomains,
        browser.preload,
    )
    assert got == case.browser
    assert tuple(i.code for i in check.issues) == case.issues
    assert tuple(i.code for i in check.preload_errors) == case.errors
    assert tuple(i.code for i in check.preload_warnings) == case.warnings
    assert browser_view(case.header) == browser
    assert hstspreload_issues(case.header) == (check.preload_errors, check.preload_warnings)


def test_every_browser_code_and_hstspreload_code_has_a_case() -> None:
    browser_codes = {code for case in CASES for code in case.issues}
    preload_codes = {code for case in CASES for code in (*case.errors, *case.warnings)}
    assert browser_codes == set(BrowserCode)
    assert preload_codes == PRELOAD_CODES


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (FULL, ""),
        ("", "no max-age directive (RFC 6797 6.1.1)"),
        ("max-age", "max-age has no value"),
        ("max-age=1y", "max-age must be digits only, not `1y`"),
        ("max-age=1; Max-Age=2", "the `max-age` directive appears twice"),
        ("max-age=1; includeSubDomains=1", "includeSubDomains has a value"),
        ("max-age=1; a b", "not RFC 6797 section 6.1 syntax: `a b`"),
        ('max-age=1; a="x;y" b; c', 'not RFC 6797 section 6.1 syntax: `a="x`'),
    ],
)
def test_reason_says_why_browsers_ignore_it(header: str, reason: str) -> None:
    assert browser_view(header).reason == reason


def test_quoted_values_are_unquoted() -> None:
    assert browser_view(r'max-age="3\1"').max_age == 31
    assert browser_view('max-age=1; foo="a\\"b;c"; includeSubDomains').include_subdomains


@pytest.mark.parametrize(
    ("header", "protects"),
    [
        (FULL, True),
        ("max-age=1; includeSubDomains", True),
        ("max-age=0; includeSubDomains", False),
        ("max-age=1", False),
        ("includeSubDomains", False),
    ],
)
def test_protects_subdomains(header: str, protects: bool) -> None:
    assert browser_view(header).protects_subdomains is protects


def test_hstspreload_messages() -> None:
    errors, warnings = hstspreload_issues("max-age=100; max-age=1x; foo;")
    assert [i.message for i in errors] == [
        "The header's max-age value contains characters that are not digits: `max-age=1x`",
        "The header must contain the `includeSubDomains` directive.",
        "The header must contain the `preload` directive.",
        "The max-age must be at least 31536000 seconds (≈ 1 year), but the header currently only"
        " has max-age=100.",
    ]
    assert [i.message for i in warnings] == [
        "The header contains an unknown directive: `foo`",
        "The header includes an empty directive or extra semicolon.",
    ]
    assert {i.severity for i in errors} == {IssueSeverity.ERROR}
    assert {i.severity for i in warnings} == {IssueSeverity.WARNING}


def test_hstspreload_trims_unicode_space_like_go() -> None:
    assert hstspreload_issues("max-age=31536000;\u3000includeSubDomains\x85;\vpreload") == ((), ())


# -- which field counts (RFC 6797 section 8.1) ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "over_https", "cert_valid", "counted", "why"),
    [
        ((FULL,), True, True, FULL, "the only"),
        ((FULL, "max-age=0"), True, True, FULL, "the first of 2 fields"),
        (("max-age=0", FULL, "x"), True, True, "max-age=0", "ignore the other 2"),
        ((FULL,), False, True, None, "plain HTTP"),
        ((FULL,), False, False, None, "plain HTTP"),
        ((FULL,), True, False, None, "certificate errors"),
        ((), True, True, None, "no Strict-Transport-Security"),
    ],
)
def test_effective_field(
    fields: tuple[str, ...], over_https: bool, cert_valid: bool, counted: str | None, why: str
) -> None:
    field, reason = effective_field(fields, over_https=over_https, cert_valid=cert_valid)
    assert field == counted
    assert why in reason


# -- the views -----------------------------------------------------------------------------------


def test_header_json_shape() -> None:
    assert header_check_record(check_header("max-age=63072000; includeSubDomains")) == {
        "header": "max-age=63072000; includeSubDomains",
        "browser": {
            "accepted": True,
            "max_age": 63072000,
            "effective_max_age": ONE_YEAR,
            "include_subdomains": True,
            "preload": False,
            "reason": "",
        },
        "hstspreload": {
            "preloadable": {
                "errors": [
                    {
                        "code": PRELOAD_MISSING,
                        "message": "The header must contain the `preload` directive.",
                    }
                ],
                "warnings": [],
            }
        },
        "issues": [
            {
                "code": "sts.max_age.capped",
                "severity": "info",
                "message": "Chrome caps max-age at 31536000 seconds (1 year) and stores that",
            }
        ],
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            FULL,
            f"Browsers: ACCEPTED, max-age {ONE_YEAR} (1 year), includeSubDomains, preload\n"
            "hstspreload.org: preloadable",
        ),
        (
            "max-age=63072000; preload; includeSubDomains; x",
            "Browsers: ACCEPTED, max-age 63072000 (2 years), includeSubDomains, preload\n"
            "  info sts.max_age.capped: Chrome caps max-age at 31536000 seconds (1 year) and"
            " stores that\n"
            "  info sts.directive.unknown: ignored: `x`\n"
            "hstspreload.org: preloadable, with warnings\n"
            f"  warning {UNKNOWN}: The header contains an unknown directive: `x`",
        ),
        (
            "max-age=5400",
            "Browsers: ACCEPTED, max-age 5400 (≈ 1.5 hours)\n"
            "hstspreload.org: NOT preloadable\n"
            f"  error {ISD_MISSING}: The header must contain the `includeSubDomains` directive.\n"
            f"  error {PRELOAD_MISSING}: The header must contain the `preload` directive.\n"
            f"  error {BELOW_1Y}: The max-age must be at least 31536000 seconds (≈ 1 year), but the"
            " header currently only has max-age=5400.",
        ),
    ],
)
def test_header_text(header: str, expected: str) -> None:
    assert header_text(check_header(header)) == expected


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0, "0 seconds"),
        (1, "1 second"),
        (60, "1 minute"),
        (86400 * 126, "126 days"),
        (ONE_YEAR, "1 year"),
        (ONE_YEAR * 2, "2 years"),
        (ONE_YEAR * 3 // 2, "≈ 1.5 years"),
    ],
)
def test_header_text_durations(seconds: int, shown: str) -> None:
    first = header_text(check_header(f"max-age={seconds}")).splitlines()[0]
    assert first == f"Browsers: ACCEPTED, max-age {seconds} ({shown})"


def test_header_text_ignored_and_control_characters_stripped() -> None:
    text = header_text(check_header("max-age=1; x\x1b[31m y\x07\r\n z\x9b; a"))
    assert text.splitlines()[0] == "Browsers: IGNORED: not RFC 6797 section 6.1 syntax: `x y z`"
    assert all(ch.isprintable() for ch in text.replace("\n", ""))
    assert "sts.syntax" not in text  # the reason is on the first line, not repeated


# -- properties ----------------------------------------------------------------------------------

HEADERISH = st.text(
    alphabet=st.sampled_from([*'mMax-gAe=;"\\ \t0123456789incldubSDoInsprelPO,\x00\xa0é\u3000']),
    max_size=60,
)
ANY_TEXT = st.one_of(st.text(max_size=80), HEADERISH)


@settings(max_examples=300)
@given(ANY_TEXT)
def test_browser_view_is_consistent(value: str) -> None:
    check = check_header(value)
    view = check.browser
    errors = [i for i in check.issues if i.severity is IssueSeverity.ERROR]
    assert {i.code for i in check.issues} <= set(BrowserCode)
    if view.accepted:
        assert view.reason == ""
        assert not errors
        assert view.max_age is not None
        assert 0 <= view.max_age <= UINT64_MAX
        assert view.effective_max_age == min(view.max_age, ONE_YEAR)
    else:
        assert view == BrowserView(False, None, None, False, False, view.reason)
        assert [i.message for i in errors] == [view.reason]
        assert check.issues == tuple(errors)


@settings(max_examples=300)
@given(ANY_TEXT)
def test_hstspreload_is_consistent(value: str) -> None:
    errors, warnings = hstspreload_issues(value)
    codes = [i.code for i in (*errors, *warnings)]
    assert {i.severity for i in errors} <= {IssueSeverity.ERROR}
    assert {i.severity for i in warnings} <= {IssueSeverity.WARNING}
    assert codes.count(EMPTY_DIRECTIVE) <= 1
    assert codes.count(NO_VALUE) <= 1
    assert set(codes) <= PRELOAD_CODES
    assert (EMPTY in codes) == (";" not in value and not value.strip(GO_SPACE))
    for issues in (errors, warnings):  # parse issues first, then the preloadable checks
        stages = [issue.code.split(".")[1] for issue in issues]
        assert stages == sorted(stages)


DIRECTIVE_SPACE = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def well_formed(draw: st.DrawFn) -> tuple[str, int, bool, bool]:
    """A valid header with random order, case, spacing, quoting and unknown directives."""
    max_age = draw(st.integers(0, 2**40))
    quoted = draw(st.booleans())
    directives = [
        f"max-age{draw(DIRECTIVE_SPACE)}={draw(DIRECTIVE_SPACE)}"
        + (f'"{max_age}"' if quoted else str(max_age))
    ]
    isd, preload = draw(st.booleans()), draw(st.booleans())
    directives += ["includeSubDomains"] * isd + ["preload"] * preload
    directives += draw(st.lists(st.sampled_from(["foo", "bar=baz", 'qux="a;b"']), unique=True))
    directives = [_random_case(draw, d) for d in draw(st.permutations(directives))]
    joined = ";".join(draw(DIRECTIVE_SPACE) + d + draw(DIRECTIVE_SPACE) for d in directives)
    return joined, max_age, isd, preload


def _random_case(draw: st.DrawFn, directive: str) -> str:
    upper = draw(st.lists(st.booleans(), min_size=len(directive), max_size=len(directive)))
    return "".join(
        c.upper() if u and c.isalpha() else c for c, u in zip(directive, upper, strict=True)
    )


@settings(max_examples=200)
@given(well_formed())
def test_well_formed_headers_are_accepted(case: tuple[str, int, bool, bool]) -> None:
    header, max_age, isd, preload = case
    assert browser_view(header) == BrowserView(
        True, max_age, min(max_age, ONE_YEAR), isd, preload, ""
    )


@settings(max_examples=200)
@given(st.integers(0, UINT64_MAX))
def test_hstspreload_max_age_thresholds(max_age: int) -> None:
    errors, warnings = hstspreload_issues(f"max-age={max_age}; includeSubDomains; preload")
    low = (ZERO,) if max_age == 0 else (BELOW_1Y,) if max_age < ONE_YEAR else ()
    assert tuple(i.code for i in errors) == low
    assert tuple(i.code for i in warnings) == ((OVER_10Y,) if max_age > TEN_YEARS else ())
