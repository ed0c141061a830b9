"""Pure: a Strict-Transport-Security header as the hstspreload.org checker reads it.

No I/O and no clock, and no input raises. It reproduces the checker of chromium/hstspreload
(`header.go`, `PreloadableHeaderString` with the one-year policy), with its issue codes and
messages: parse issues first, then the preloadable checks on what parsed; errors and warnings
each in the order found. It is stricter than browsers in places (a quoted max-age, spaces
around `=`); `rules.hsts_header` is the browsers' view, and `check_header` there gives both.
The numbers (one year, ten years, an unsigned 64-bit max-age) are shared with it.

Known difference, chosen on purpose: hstspreload folds case with Unicode rules (Go's EqualFold,
ToLower); this module folds ASCII only, which is the same on every Latin-1 value (all an HTTP
field carries) and differs only on characters such as U+017F or U+0130 that fold onto ASCII
letters.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from hsts_coverage.models import Issue, IssueSeverity

ONE_YEAR = 31536000  # Chrome's kMaxHSTSAgeSecs and the preload list's minimum
TEN_YEARS = 315360000
UINT64_MAX = 2**64 - 1  # hstspreload parses max-age with ParseUint(s, 10, 64)


def is_digits(value: str | None) -> bool:
    return value is not None and value.isascii() and value.isdigit()


def uint64(digits: str) -> int | None:
    """ASCII digits as an unsigned 64-bit int; None if empty or too large (Go's ParseUint)."""
    significant = digits.lstrip("0") or "0"
    if not digits or len(significant) > 20:  # also keeps int() below its 4300-digit limit
        return None
    number = int(significant)
    return number if number <= UINT64_MAX else None


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
    if digits and not is_digits(digits):  # no quotes and no spaces: stricter than browsers
        message = (
            f"The header's max-age value contains characters that are not digits: `{directive}`"
        )
        parsed.add(_preload_error("header.parse.max_age.non_digit_characters", message))
        return None
    max_age = uint64(digits)
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
