"""Pure name handling: normalise what CT logs and users give us, and scope it to the domain.

No I/O here. Everything that comes in is untrusted: CT `name_value` lines carry e-mail addresses,
IP literals, upper case, trailing dots, wildcards and junk; the domain argument may be a URL.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from urllib.parse import urlsplit

import idna
import publicsuffixlist

# RFC 1123 host labels (letters, digits, hyphen; no hyphen at either end). Underscores are legal
# DNS but not hostnames, and public CAs stopped issuing certificates for them in 2019.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")
_MAX_NAME = 253


class Rejected(StrEnum):
    """Why a raw name was dropped."""

    EMPTY = "empty"
    EMAIL = "email"
    IP_LITERAL = "ip_literal"
    INVALID = "invalid"
    OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class ScopedName:
    """A name under the domain; `wildcard` when CT listed it as `*.name`."""

    name: str
    wildcard: bool = False


class DomainError(ValueError):
    """The domain a user asked for cannot be scanned; the message is one line for the user."""


def normalise(raw: str) -> str | Rejected:
    """Lower-case A-label form of a host name, without a trailing dot, or why it is not one."""
    name = raw.strip().lower().rstrip(".")
    if not name:
        return Rejected.EMPTY
    if "@" in name:
        return Rejected.EMAIL
    if _is_ip_literal(name):
        return Rejected.IP_LITERAL
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            return Rejected.INVALID
    if not _is_hostname(name) or ("xn--" in name and not _valid_a_labels(name)):
        return Rejected.INVALID
    return name


def _valid_a_labels(name: str) -> bool:
    # An ASCII-looking name may carry punycode that decodes to nothing (`xn--zz`): IDNA checks it.
    try:
        idna.decode(name)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def scope(raw: str, domain: str) -> ScopedName | Rejected:
    """Normalise a CT name and keep it only if it is `domain` or under it."""
    text = raw.strip()
    wildcard = text.startswith("*.")
    name = normalise(text[2:] if wildcard else text)
    if isinstance(name, Rejected):
        return name
    if not in_scope(name, domain):
        return Rejected.OUT_OF_SCOPE
    return ScopedName(name, wildcard)


def in_scope(name: str, domain: str) -> bool:
    """True for the domain itself and every name under it (label boundary, not a suffix match)."""
    return name == domain or name.endswith("." + domain)


def parse_domain(text: str) -> str:
    """The domain a user typed (or the host of a pasted URL), checked; DomainError if unusable."""
    value = text.strip()
    if not value:
        raise DomainError("the domain is empty")
    if "://" in value:
        value = _host_of_url(value)
    elif "/" in value or ":" in value:
        raise DomainError(f"{text!r} is not a domain: give a bare name such as example.com")
    name = normalise(value)
    if name is Rejected.IP_LITERAL:
        raise DomainError(f"{text!r} is an IP address: give a domain name")
    if isinstance(name, Rejected):
        raise DomainError(f"{text!r} is not a valid domain name")
    if is_public_suffix(name):
        raise DomainError(
            f"{name} is a public suffix: HSTS for it is set by its registry, give a domain under it"
        )
    return name


def _host_of_url(value: str) -> str:
    try:
        host = urlsplit(value).hostname
    except ValueError as exc:
        raise DomainError(f"{value!r} is not a valid URL: {exc}") from None
    if not host:
        raise DomainError(f"{value!r} has no host name")
    return host


def _is_hostname(name: str) -> bool:
    return len(name) <= _MAX_NAME and _HOSTNAME.fullmatch(name) is not None


def _is_ip_literal(name: str) -> bool:
    # Cheap test first: a host name's last label is never all digits, an IPv4 literal's is,
    # and only IPv6 literals hold a colon. Most names never reach the parser.
    if ":" not in name and not name[-1:].isdigit():
        return False
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def is_public_suffix(name: str) -> bool:
    """Whether `name` is a public suffix (com, co.uk, github.io ...) by the Public Suffix List's
    rules: an exact rule, a wildcard rule over its parent or under it (`*.kawasaki.jp` makes
    kawasaki.jp a suffix too), or no dot at all; `!` exceptions win. Only this one question is
    asked, so the list is read as a table of rules, not compiled."""
    forms = (name, _unicode(name))
    if any(_has_rule(f"!{form}") for form in forms):
        return False
    for form in forms:
        parent = form.partition(".")[2]
        if _has_rule(form) or _has_rule(f"*.{form}") or (parent and _has_rule(f"*.{parent}")):
            return True
    return "." not in name


def _has_rule(rule: str) -> bool:
    rules = _suffix_rules()
    fingerprint = hash(rule)
    at = bisect_left(rules, fingerprint)
    return at < len(rules) and rules[at] == fingerprint


@cache
def _suffix_rules() -> array[int]:
    """The list as the publicsuffixlist package ships (and updates) it, as the sorted `hash()`
    of each rule: 8 bytes a rule.

    The main process keeps this for the whole scan: its 10,400 rules as strings in a set held
    1.7 MB (2.4 MB while the file was read as a list of lines), these 83 KB (1 MB while they are
    sorted); a look-up takes about 5 us, not 1, and the resolver caches its answers by parent.
    A name that is no rule matches one by chance with a probability of about 10,400 in 2**64,
    and `hash()` is keyed anew in every process (unless PYTHONHASHSEED fixes it), so a name
    cannot be made to match."""
    with open(publicsuffixlist.PSLFILE, encoding="utf-8") as lines:
        rules = (line.split()[0] for line in lines if line.strip() and not line.startswith("//"))
        return array("q", sorted(hash(rule) for rule in rules))


def _unicode(name: str) -> str:
    # The list writes internationalised suffixes in Unicode; our names are A-labels.
    if "xn--" not in name:
        return name
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name


def wildcard_probe_name(zone: str) -> str:
    """A name under `zone` that no one registers, the same in every run (and every shard)."""
    return f"hsts-coverage-{hashlib.sha256(zone.encode()).hexdigest()[:10]}.{zone}"


def in_shard(name: str, shard: int, shards: int) -> bool:
    """Whether `name` belongs to slice `shard` (1..shards): a stable hash, the same on every
    machine and in every run, so that N scans of the N slices cover every name exactly once."""
    digest = hashlib.sha256(name.encode("ascii", "replace")).digest()
    return int.from_bytes(digest[:8], "big") % shards == shard - 1
