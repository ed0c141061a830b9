"""Pure Strict-Transport-Security checks: what browsers make of a header; `check_header` adds
what hstspreload.org says (`rules.preload_header`), because the two verdicts differ.

No I/O and no clock: a header value (a `str`) goes in, frozen data comes out (`models.header`),
and no input raises.

The browser view follows the grammar of RFC 6797 section 6.1 (directives separated by `;`,
  optional whitespace around `;` and `=`, names case-insensitive, values a token or a
  quoted-string) and Chrome's handling of the values. A header browsers would ignore is reported
  with `accepted=False`, `reason` set and the policy fields empty; otherwise `max_age` is the
  declared value (saturating at 2**64 - 1) and `effective_max_age` what Chrome stores (capped at
  one year). `preload` is not an RFC directive and browsers ignore it, but a bare `preload`
  directive is reported, because the preload list wants it.

Browser-view issue codes (stable: they are written into reports):

    sts.syntax                    error    not RFC 6797 section 6.1 syntax: the header is ignored
    sts.directive.repeated        error    max-age or includeSubDomains appears twice: ignored
    sts.max_age.missing           error    no max-age directive (6.1.1): ignored
    sts.max_age.invalid           error    max-age without a value or not digits only: ignored
    sts.include_subdomains.value  error    includeSubDomains has a value (6.1.2): ignored
    sts.max_age.zero              warning  max-age=0 deletes the host's policy, subdomains too
    sts.preload.value             warning  `preload` has a value, so the preload list ignores it
    sts.max_age.capped            info     Chrome stores at most one year
    sts.directive.unknown         info     a directive browsers ignore (6.1 item 5)
    sts.directive.repeated_rfc    info     another directive appears twice: browsers accept the
                                           header, RFC 6797 6.1 item 2 would have it ignored

An ignored header has exactly one error issue (the first problem found, as browsers stop there),
whose message is the view's `reason`; an accepted header has no error issue.

Known difference, chosen on purpose: the browser view follows Chrome and Firefox where they and
RFC 6797 differ. A repeated max-age or includeSubDomains makes them ignore the header (Chrome's
ParseHSTSHeader in net/http/http_security_headers.cc, Firefox's
nsSiteSecurityService::ParseSSSHeaders), but a repeated `preload` or unknown directive does not,
although RFC 6797 section 6.1 items 2 and 4 say every directive may appear at most once. The
header is then `accepted` (its first occurrence of each directive counts), with a
`sts.directive.repeated_rfc` note saying what the RFC would do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from hsts_coverage.models import BrowserView, HeaderCheck, Issue, IssueSeverity
from hsts_coverage.rules.preload_header import (
    ONE_YEAR,
    UINT64_MAX,
    hstspreload_issues,
    is_digits,
    uint64,
)


class BrowserCode(StrEnum):
    """The browser view's issue codes (see the module docstring)."""

    SYNTAX = "sts.syntax"
    REPEATED = "sts.directive.repeated"
    MAX_AGE_MISSING = "sts.max_age.missing"
    MAX_AGE_INVALID = "sts.max_age.invalid"
    INCLUDE_SUBDOMAINS_VALUE = "sts.include_subdomains.value"
    MAX_AGE_ZERO = "sts.max_age.zero"
    PRELOAD_VALUE = "sts.preload.value"
    MAX_AGE_CAPPED = "sts.max_age.capped"
    UNKNOWN_DIRECTIVE = "sts.directive.unknown"
    REPEATED_RFC = "sts.directive.repeated_rfc"


def check_header(value: str) -> HeaderCheck:
    """Both verdicts on one header value."""
    browser, issues = _read_browser(value)
    errors, warnings = hstspreload_issues(value)
    return HeaderCheck(value, browser, errors, warnings, issues)


def effective_field(
    fields: Sequence[str], *, over_https: bool, cert_valid: bool
) -> tuple[str | None, str]:
    """The Strict-Transport-Security field browsers process in a response, and why (RFC 6797 8.1).

    Only a response over secure transport without certificate errors counts, and of its fields
    only the first.
    """
    if not fields:
        return None, "the response has no Strict-Transport-Security field"
    if not over_https:
        return None, "received over plain HTTP: browsers ignore it (RFC 6797 section 8.1)"
    if not cert_valid:
        return None, "received on a connection with certificate errors: browsers ignore it"
    if len(fields) == 1:
        return fields[0], "the only Strict-Transport-Security field"
    others = len(fields) - 1
    return fields[0], f"the first of {len(fields)} fields: browsers ignore the other {others}"


# -- the browser view ----------------------------------------------------------------------------

# RFC 6797 section 6.1 uses RFC 2616's token and quoted-string; OWS is spaces and tabs.
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\U0010ffff]|\\[\x00-\x7f])*"'
_DIRECTIVE = re.compile(
    rf"[ \t]*(?:(?P<name>{_TOKEN})[ \t]*(?:=[ \t]*(?P<value>{_TOKEN}|{_QUOTED})[ \t]*)?)?"
    r"(?P<end>;|\Z)"
)
_QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Directive:
    name: str  # lower case
    value: str | None  # unquoted; None when the directive has no `=`


def browser_view(value: str) -> BrowserView:
    """What a browser makes of one Strict-Transport-Security value."""
    return _read_browser(value)[0]


def _read_browser(value: str) -> tuple[BrowserView, tuple[Issue, ...]]:
    directives = _scan(value)
    if isinstance(directives, Issue):
        return _ignored(directives)
    if problem := _first_problem(directives):
        return _ignored(problem)
    return _accepted(directives)


def _ignored(problem: Issue) -> tuple[BrowserView, tuple[Issue, ...]]:
    return BrowserView(False, None, None, False, False, problem.message), (problem,)


def _scan(value: str) -> tuple[_Directive, ...] | Issue:
    """The directives of a value, or the `sts.syntax` error at the first one that does not parse."""
    directives: list[_Directive] = []
    position = 0
    while match := _DIRECTIVE.match(value, position):
        if match["name"] is not None:
            directives.append(_Directive(match["name"].lower(), _unquote(match["value"])))
        if not match["end"]:
            return tuple(directives)
        position = match.end()
    fragment = value[position:].split(";", 1)[0].strip(" \t")
    return _error(BrowserCode.SYNTAX, f"not RFC 6797 section 6.1 syntax: `{fragment[:60]}`")


def _unquote(value: str | None) -> str | None:
    if value is None or not value.startswith('"'):
        return value
    return _QUOTED_PAIR.sub(r"\1", value[1:-1])


def _first_problem(directives: tuple[_Directive, ...]) -> Issue | None:
    seen: set[str] = set()
    for directive in directives:
        if problem := _directive_problem(directive, seen):
            return problem
        seen.add(directive.name)
    if "max-age" not in seen:
        return _error(BrowserCode.MAX_AGE_MISSING, "no max-age directive (RFC 6797 6.1.1)")
    return None


# The directives whose repetition makes Chrome and Firefox ignore the header.
_UNIQUE = frozenset({"max-age", "includesubdomains"})


def _directive_problem(directive: _Directive, seen: set[str]) -> Issue | None:
    # RFC 6797 section 6.1 items 2 and 4: every directive at most once, or the field is ignored.
    # Chrome and Firefox enforce this only for max-age and includeSubDomains (see the docstring).
    if directive.name in seen and directive.name in _UNIQUE:
        return _error(BrowserCode.REPEATED, f"the `{directive.name}` directive appears twice")
    if directive.name == "includesubdomains" and directive.value is not None:
        return _error(BrowserCode.INCLUDE_SUBDOMAINS_VALUE, "includeSubDomains has a value")
    if directive.name == "max-age" and not is_digits(directive.value):
        return _error(BrowserCode.MAX_AGE_INVALID, _max_age_problem(directive.value))
    return None


def _max_age_problem(value: str | None) -> str:
    if value is None:
        return "max-age has no value"
    return f"max-age must be digits only, not `{value[:30]}`"


def _accepted(directives: tuple[_Directive, ...]) -> tuple[BrowserView, tuple[Issue, ...]]:
    values: dict[str, str | None] = {}
    repeated: list[str] = []
    for directive in directives:
        if directive.name in values and directive.name not in repeated:
            repeated.append(directive.name)
        values.setdefault(directive.name, directive.value)  # the first occurrence counts
    max_age = _saturated(values["max-age"] or "")
    effective = min(max_age, ONE_YEAR)
    preload = "preload" in values and values["preload"] is None
    view = BrowserView(True, max_age, effective, "includesubdomains" in values, preload, "")
    return view, _notes(view, values, repeated)


def _notes(
    view: BrowserView, values: dict[str, str | None], repeated: list[str]
) -> tuple[Issue, ...]:
    notes: list[Issue] = []
    if view.max_age == 0:
        notes.append(_warning(BrowserCode.MAX_AGE_ZERO, _ZERO))
    if values.get("preload") is not None:
        notes.append(_warning(BrowserCode.PRELOAD_VALUE, _PRELOAD_VALUE))
    if view.max_age != view.effective_max_age:
        notes.append(_info(BrowserCode.MAX_AGE_CAPPED, _CAPPED))
    unknown = (name for name in values if name not in ("max-age", "includesubdomains", "preload"))
    notes.extend(_info(BrowserCode.UNKNOWN_DIRECTIVE, f"ignored: `{name}`") for name in unknown)
    notes.extend(_info(BrowserCode.REPEATED_RFC, _repeated_rfc(name)) for name in repeated)
    return tuple(notes)


def _repeated_rfc(name: str) -> str:
    return (
        f"`{name}` appears twice: Chrome and Firefox accept the header (the first counts); "
        "RFC 6797 section 6.1 would have it ignored"
    )


_ZERO = "max-age=0 makes browsers delete this host's HSTS policy, includeSubDomains too"
_PRELOAD_VALUE = "`preload` has a value: the preload list checker does not count it"
_CAPPED = f"Chrome caps max-age at {ONE_YEAR} seconds (1 year) and stores that"


def _saturated(digits: str) -> int:
    """ASCII digits as an int, saturating at 2**64 - 1 (as Chrome saturates at its limit)."""
    parsed = uint64(digits)
    return UINT64_MAX if parsed is None else parsed


def _error(code: BrowserCode, message: str) -> Issue:
    return Issue(code, IssueSeverity.ERROR, message)


def _warning(code: BrowserCode, message: str) -> Issue:
    return Issue(code, IssueSeverity.WARNING, message)


def _info(code: BrowserCode, message: str) -> Issue:
    return Issue(code, IssueSeverity.INFO, message)
