"""Pure: everything a browser holds against a certificate, the error it shows first.

OpenSSL stops at its first verification error. Browsers collect every problem and show the most
serious one; Chromium's MapCertStatusToNetError (net/cert/cert_status_flags.cc) ranks an invalid
certificate (an MD5 signature: not overridable) first, then revoked, authority, name, weak
signature, weak key and dates. The OpenSSL verify code says what the full chain check found
first; the leaf, read in a second unverified handshake, shows what else applies (an expired
self-signed certificate is both).

OpenSSL also refuses a CA certificate served as the leaf (X509_V_ERR_INVALID_PURPOSE) before it
looks at the name; browsers build its chain like any other, so such a leaf's own problems (most
often: it names no host) are what they report, and the purpose failure is dropped.

Key sizes as the browsers decide: RSA under 1024 bits is weak for both (Chrome's CertVerifyProc,
mozilla::pkix); 1024 to 2047 bits is weak only from a public CA, which the verifying context's
security level checks (see `tls`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from hsts_coverage.models import Certificate, Finding
from hsts_coverage.reasons import Reason

CHROME_PRIORITY = (
    Reason.CERT_INVALID,
    Reason.CERT_SELF_SIGNED,
    Reason.CERT_UNTRUSTED,
    Reason.CERT_NAME_MISMATCH,
    Reason.CERT_WEAK_SIGNATURE,
    Reason.CERT_WEAK_KEY,
    Reason.CERT_EXPIRED,
    Reason.CERT_NOT_YET_VALID,
)
WEAK_HASHES = frozenset({"sha1"})
INVALID_HASHES = frozenset({"md5", "md2", "md4"})
MIN_RSA_BITS = 1024
INVALID_PURPOSE = 26  # OpenSSL X509_V_ERR_INVALID_PURPOSE


def certificate_findings(
    primary: Finding,
    cert: Certificate | None,
    host: str,
    now: datetime,
    hidden: Iterable[Finding] = (),
    verify_code: int | None = None,
) -> tuple[Finding, ...]:
    """The verification failures plus every other problem of the leaf, in Chrome's order."""
    own = tuple(leaf_problems(cert, host, now)) if cert else ()
    if verify_code == INVALID_PURPOSE and cert is not None and cert.is_ca and own:
        # A CA certificate as the leaf: browsers report what is wrong with it, not its purpose.
        primary, own = own[0], own[1:]
    found = {primary.reason: primary.detail}
    for finding in hidden:
        found.setdefault(finding.reason, finding.detail)
    for finding in own:
        # The leaf's own facts (its names, its dates) say more than OpenSSL's message alone.
        known = found.get(finding.reason)
        found[finding.reason] = f"{finding.detail}; {known}" if known else finding.detail
    if Reason.CERT_SELF_SIGNED in found:
        found.pop(Reason.CERT_UNTRUSTED, None)  # a self-signed leaf is untrusted by definition
    if Reason.CERT_INVALID in found:
        found.pop(Reason.CERT_WEAK_SIGNATURE, None)  # OpenSSL's "weak digest" is the MD5 one
    ranked = sorted(found, key=_rank)
    return tuple(Finding(reason, found[reason]) for reason in ranked)


def leaf_problems(cert: Certificate, host: str, now: datetime) -> Iterable[Finding]:
    if cert.self_signed:
        yield Finding(Reason.CERT_SELF_SIGNED, f"issuer = subject = {cert.subject}")
    if not matches_host(cert.sans, host):
        names = ", ".join(cert.sans) or f"no subjectAltName (subject {cert.subject})"
        yield Finding(Reason.CERT_NAME_MISMATCH, f"certificate names: {names}")
    hash_name = (cert.signature_algorithm or "").lower()
    if hash_name in INVALID_HASHES:
        yield Finding(Reason.CERT_INVALID, f"signed with {cert.signature_algorithm}")
    if hash_name in WEAK_HASHES:
        yield Finding(Reason.CERT_WEAK_SIGNATURE, f"signed with {cert.signature_algorithm}")
    if cert.key_type == "RSA" and 0 < cert.key_bits < MIN_RSA_BITS:
        yield Finding(Reason.CERT_WEAK_KEY, f"RSA key of {cert.key_bits} bits")
    if now > cert.not_after:
        yield Finding(Reason.CERT_EXPIRED, f"expired {cert.not_after:%Y-%m-%d %H:%M} UTC")
    if now < cert.not_before:
        yield Finding(Reason.CERT_NOT_YET_VALID, f"valid from {cert.not_before:%Y-%m-%d %H:%M} UTC")


def matches_host(sans: Iterable[str], host: str) -> bool:
    """RFC 6125 section 6.4 as browsers apply it: exact, or `*.` standing for one whole label."""
    host = host.lower().rstrip(".")
    for san in sans:
        pattern = san.lower().rstrip(".")
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == pattern[2:] and "." in rest:
                return True
    return False


def _rank(reason: Reason) -> int:
    return CHROME_PRIORITY.index(reason) if reason in CHROME_PRIORITY else len(CHROME_PRIORITY)
