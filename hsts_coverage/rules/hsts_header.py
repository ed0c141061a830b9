"""Pure Strict-Transport-Security checks: what browsers make of a header, what hstspreload.org says.

No I/O and no clock: a header value (a `str`) goes in, frozen data comes out, and no input raises.

Two verdicts, because they differ:

* The browser view follows the grammar of RFC 6797 section 6.1 (directives separated by `;`,
  optional whitespace around `;` and `=`, names case-insensitive, values a token or a
  quoted-string) and Chrome's handling of the values. A header browsers would ignore is reported
  with `accepted=False`, `reason` set and the policy fields empty; otherwise `max_age` is the
  declared value (saturating at 2**64 - 1) and `effective_max_age` what Chrome stores (capped at
  one year). `preload` is not an RFC directive and browsers ignore it, but a bare `preload`
  directive is reported, because the preload list wants it.
* The hstspreload.org view reproduces the checker of chromium/hstspreload (`header.go`,
  `PreloadableHeaderString` with the one-year policy), with its issue codes and messages: parse
  issues first, then the preloadable checks on what parsed; errors and warnings each in the order
  found. It is stricter than browsers in places (a quoted max-age, spaces around `=`).

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

Known differences, chosen on purpose:

* The browser view follows Chrome and Firefox where they and RFC 6797 differ: a repeated
  max-age or includeSubDomains makes them ignore the header (Chrome's ParseHSTSHeader in
  net/http/http_security_headers.cc, Firefox's nsSiteSecurityService::ParseSSSHeaders), but a
  repeated `preload` or unknown directive does not, although RFC 6797 section 6.1 items 2 and 4
  say every directive may appear at most once. The header is then `accepted` (its first
  occurrence of each directive counts), with a `sts.directive.repeated_rfc` note saying what the
  RFC would do.
* hstspreload folds case with Unicode rules (Go's EqualFold, ToLower); this module folds ASCII
  only, which is the same on every Latin-1 value (all an HTTP field carries) and differs only on
  characters such as U+017F or U+0130 that fold onto ASCII letters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

ONE_YEAR = 31536000  # Chrome's kMaxHSTSAgeSecs and the preload list's minimum
TEN_YEARS = 315360000
_UINT64_MAX = 2**64 - 1  # hstspreload parses max-age with ParseUint(s, 10, 64)


class IssueSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"  # browser view only: worth knowing, changes nothing


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    severity: IssueSeverity
    message: str


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


@dataclass(frozen=True, slots=True)
class BrowserView:
    accepted: bool
    max_age: int | None
    effective_max_age: int | None
    include_subdomains: bool
    preload: bool
    reason: str  # why browsers ignore the header; '' when accepted

    @property
    def protects_subdomains(self) -> bool:
        """Whether the header puts subdomains under HSTS (max-age=0 removes the policy)."""
        return self.include_subdomains and bool(self.effective_max_age)


@dataclass(frozen=True, slots=True)
class HeaderCheck:
    header: str
    browser: BrowserView
    preload_errors: tuple[Issue, ...]
    preload_warnings: tuple[Issue, ...]
    issues: tuple[Issue, ...]  # the browser view's issues (BrowserCode)


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
    if directive.name == "max-age" and not _is_digits(directive.value):
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


def _is_digits(value: str | None) -> bool:
    return value is not None and value.isascii() and value.isdigit()


def _saturated(digits: str) -> int:
    """ASCII digits as an int, saturating at 2**64 - 1 (as Chrome saturates at its limit)."""
    parsed = _uint64(digits)
    return _UINT64_MAX if parsed is None else parsed


def _uint64(digits: str) -> int | None:
    """ASCII digits as an unsigned 64-bit int; None if empty or too large (Go's ParseUint)."""
    significant = digits.lstrip("0") or "0"
    if not digits or len(significant) > 20:  # also keeps int() below its 4300-digit limit
        return None
    number = int(significant)
    return number if number <= _UINT64_MAX else None


def _error(code: BrowserCode, message: str) -> Issue:
    return Issue(code, IssueSeverity.ERROR, message)


def _warning(code: BrowserCode, message: str) -> Issue:
    return Issue(code, IssueSeverity.WARNING, message)


def _info(code: BrowserCode, message: str) -> Issue:
    return Issue(code, IssueSeverity.INFO, message)


# -- the hstspreload.org view --------------------------------------------------------------------

# Go's strings.TrimSpace trims Unicode white space (unicode.IsSpace), not only spaces and tabs.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
_GO_SPACE += "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


@dataclass(slots=True)
class _Parsed:
    """What hstspreload's parser collects while it walks the directives."""

    max_age: int | None = None
    include_subdomains: bool = False
    preload: bool = False
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)

    def add(self, issue: Issue, *, unique: bool = False) -> None:
        """Record an issue; a unique one only once per code (Go's addUnique*)."""
        found = self.errors if issue.severity is IssueSeverity.ERROR else self.warnings
        if not (unique and any(known.code == issue.code for known in found)):
            found.append(issue)


def hstspreload_issues(value: str) -> tuple[tuple[Issue, ...], tuple[Issue, ...]]:
    """The (errors, warnings) hstspreload.org reports for a header value."""
    parsed = _parse_for_preload(value)
    _check_preloadable(parsed)
    return tuple(parsed.errors), tuple(parsed.warnings)


def _parse_for_preload(value: str) -> _Parsed:
    parsed = _Parsed()
    directives = [directive.strip(_GO_SPACE) for directive in value.split(";")]
    if directives == [""]:
        parsed.add(_preload_warning("header.parse.empty", "The HSTS header is empty."))
        return parsed
    for directive in directives:
        _parse_preload_directive(directive, parsed)
    return parsed


def _parse_preload_directive(directive: str, parsed: _Parsed) -> None:
    # hstspreload compares names case-insensitively with Unicode folding; on any Latin-1 value
    # (all HTTP can carry) that is exactly ASCII case-insensitivity.
    name = directive.translate(_ASCII_LOWER)
    if name == "preload":
        parsed.preload = _flag(parsed, parsed.preload, "preload", "preload")
    elif name.startswith("preload"):
        parsed.add(_INVALID_PRELOAD, unique=True)
    elif name == "includesubdomains":
        parsed.include_subdomains = _flag(
            parsed, parsed.include_subdomains, "include_sub_domains", "includeSubDomains"
        )
    elif name.startswith("includesubdomains"):
        parsed.add(_INVALID_INCLUDE_SUBDOMAINS, unique=True)
    elif name.startswith("max-age="):
        _parse_preload_max_age(directive, parsed)
    elif name.startswith("max-age"):
        parsed.add(_MAX_AGE_NO_VALUE, unique=True)
    elif not name:
        parsed.add(_EMPTY_DIRECTIVE, unique=True)
    else:
        message = f"The header contains an unknown directive: `{directive}`"
        parsed.add(_preload_warning("header.parse.unknown_directive", message))


def _flag(parsed: _Parsed, already: bool, code: str, name: str) -> bool:
    """Set a boolean directive, warning (once) when it was already set."""
    if already:
        message = f"Header contains a repeated directive: `{name}`"
        parsed.add(_preload_warning(f"header.parse.repeated.{code}", message), unique=True)
    return True


def _parse_preload_max_age(directive: str, parsed: _Parsed) -> None:
    max_age = _preload_max_age(directive, parsed)
    if max_age is None:
        return
    if parsed.max_age is None:  # the first valid max-age wins
        parsed.max_age = max_age
    else:
        message = "The header contains a repeated directive: `max-age`"
        parsed.add(_preload_warning("header.parse.repeated.max_age", message), unique=True)


def _preload_max_age(directive: str, parsed: _Parsed) -> int | None:
    digits = directive[len("max-age=") :]
    if digits.startswith("0") and len(digits) > 1:
        message = f"The header's max-age value contains a leading 0: `{directive}`"
        parsed.add(_preload_warning("header.parse.max_age.leading_zero", message))
    if digits and not _is_digits(digits):  # no quotes and no spaces: stricter than browsers
        message = (
            f"The header's max-age value contains characters that are not digits: `{directive}`"
        )
        parsed.add(_preload_error("header.parse.max_age.non_digit_characters", message))
        return None
    max_age = _uint64(digits)
    if max_age is None:
        message = f"We could not parse the header's max-age value `{digits}`."
        parsed.add(_preload_error("header.parse.max_age.parse_int_error", message))
    return max_age


def _check_preloadable(parsed: _Parsed) -> None:
    if not parsed.include_subdomains:
        message = "The header must contain the `includeSubDomains` directive."
        parsed.add(_preload_error("header.preloadable.include_sub_domains.missing", message))
    if not parsed.preload:
        message = "The header must contain the `preload` directive."
        parsed.add(_preload_error("header.preloadable.preload.missing", message))
    if issue := _preloadable_max_age(parsed.max_age):
        parsed.add(issue)


def _preloadable_max_age(max_age: int | None) -> Issue | None:
    if max_age is None:
        message = "Header requirement error: Header must contain a valid `max-age` directive."
        return _preload_error("header.preloadable.max_age.missing", message)
    too_low = (
        f"The max-age must be at least {ONE_YEAR} seconds (≈ 1 year), but the header currently"
        f" only has max-age={max_age}."
    )
    if max_age == 0:
        removal = (
            " If you are trying to remove this domain from the preload list, please visit"
            " https://hstspreload.org/removal/"
        )
        return _preload_error("header.preloadable.max_age.zero", too_low + removal)
    if max_age < ONE_YEAR:
        return _preload_error("header.preloadable.max_age.below_1_year", too_low)
    if max_age > TEN_YEARS:
        message = (
            f"FYI: The max-age ({max_age} seconds) is longer than 10 years, which is an unusually"
            " long value."
        )
        return _preload_warning("header.preloadable.max_age.over_10_years", message)
    return None


def _preload_error(code: str, message: str) -> Issue:
    return Issue(code, IssueSeverity.ERROR, message)


def _preload_warning(code: str, message: str) -> Issue:
    return Issue(code, IssueSeverity.WARNING, message)


_INVALID_PRELOAD = _preload_warning(
    "header.parse.invalid.preload", "Header contains a `preload` directive with extra parts."
)
_INVALID_INCLUDE_SUBDOMAINS = _preload_warning(
    "header.parse.invalid.include_sub_domains",
    "The header contains an `includeSubDomains` directive with extra directives.",
)
_MAX_AGE_NO_VALUE = _preload_error(
    "header.parse.invalid.max_age.no_value",
    "The header contains a max-age directive name without an associated value. Please specify"
    " the max-age in seconds.",
)
_EMPTY_DIRECTIVE = _preload_warning(
    "header.parse.empty_directive", "The header includes an empty directive or extra semicolon."
)
