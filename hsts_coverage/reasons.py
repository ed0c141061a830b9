"""The one catalogue of reasons a host gets its status for.

Every reason carries what a person needs to act: its severity (which host status it implies), the
error a user would see in Chrome and in Firefox once HSTS forbids the click-through, and the fix.
Verdict logic picks reasons; reports only render them.
"""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How much a reason weighs; the worst severity of a host's reasons is its status."""

    BREAKS = "breaks"
    UNKNOWN = "unknown"
    WARN = "warn"
    NOT_AFFECTED = "not_affected"
    INFO = "info"


class Reason(StrEnum):
    """A reason code, stable across versions (it is written into reports and diffed)."""

    severity: Severity
    summary: str
    chrome_error: str
    firefox_error: str
    fix: str

    def __new__(
        cls,
        code: str,
        severity: Severity,
        summary: str,
        chrome_error: str,
        firefox_error: str,
        fix: str,
    ) -> Reason:
        member = str.__new__(cls, code)
        member._value_ = code
        member.severity = severity
        member.summary = summary
        member.chrome_error = chrome_error
        member.firefox_error = firefox_error
        member.fix = fix
        return member

    # -- breaks: under HSTS a user can no longer reach the host ----------------------------------
    HTTPS_REFUSED = (
        "https_refused",
        Severity.BREAKS,
        "port 443 refuses connections while port 80 answers",
        "ERR_CONNECTION_REFUSED",
        "NS_ERROR_CONNECTION_REFUSED",
        "serve HTTPS on port 443 with a trusted certificate, or retire the name",
    )
    HTTPS_TIMEOUT = (
        "https_timeout",
        Severity.BREAKS,
        "port 443 does not complete a TLS handshake in time while port 80 answers",
        "ERR_CONNECTION_TIMED_OUT",
        "NS_ERROR_NET_TIMEOUT",
        "open port 443 in the firewall and serve HTTPS there, or retire the name",
    )
    TLS_PROTOCOL_ERROR = (
        "tls_protocol_error",
        Severity.BREAKS,
        "port 443 does not speak TLS (often plain HTTP on 443)",
        "ERR_SSL_PROTOCOL_ERROR",
        "SSL_ERROR_RX_RECORD_TOO_LONG",
        "terminate TLS on port 443 (the listener serves plain HTTP or is misconfigured)",
    )
    TLS_VERSION_UNSUPPORTED = (
        "tls_version_unsupported",
        Severity.BREAKS,
        "the server offers only TLS versions browsers refuse (TLS 1.0/1.1)",
        "ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
        "SSL_ERROR_UNSUPPORTED_VERSION",
        "enable TLS 1.2 and TLS 1.3 on the server",
    )
    TLS_CIPHER_MISMATCH = (
        "tls_cipher_mismatch",
        Severity.BREAKS,
        "the server accepts only cipher suites browsers do not offer (DHE, 3DES, RC4, CBC-SHA384)",
        "ERR_SSL_VERSION_OR_CIPHER_MISMATCH",
        "SSL_ERROR_NO_CYPHER_OVERLAP",
        "enable ECDHE with AES-GCM or ChaCha20-Poly1305, and TLS 1.3",
    )
    HTTPS_RESET = (
        "https_reset",
        Severity.BREAKS,
        "port 443 resets the connection instead of completing TLS and answering",
        "ERR_CONNECTION_RESET",
        "NS_ERROR_NET_RESET",
        "find what resets connections on port 443 (a firewall, a proxy without this name, a "
        "crashing TLS terminator) and serve HTTPS there",
    )
    CERT_EXPIRED = (
        "cert_expired",
        Severity.BREAKS,
        "the certificate has expired",
        "NET::ERR_CERT_DATE_INVALID",
        "SEC_ERROR_EXPIRED_CERTIFICATE",
        "renew the certificate and automate renewal (ACME)",
    )
    CERT_NOT_YET_VALID = (
        "cert_not_yet_valid",
        Severity.BREAKS,
        "the certificate is not valid yet",
        "NET::ERR_CERT_DATE_INVALID",
        "MOZILLA_PKIX_ERROR_NOT_YET_VALID_CERTIFICATE",
        "check the server clock and the certificate's notBefore; reissue if wrong",
    )
    CERT_NAME_MISMATCH = (
        "cert_name_mismatch",
        Severity.BREAKS,
        "the certificate does not name this host in its subjectAltName",
        "NET::ERR_CERT_COMMON_NAME_INVALID",
        "SSL_ERROR_BAD_CERT_DOMAIN",
        "issue a certificate whose SANs include this exact name (a wildcard covers one label)",
    )
    CERT_SELF_SIGNED = (
        "cert_self_signed",
        Severity.BREAKS,
        "the certificate is self-signed",
        "NET::ERR_CERT_AUTHORITY_INVALID",
        "MOZILLA_PKIX_ERROR_SELF_SIGNED_CERT",
        "replace it with a certificate from a publicly trusted CA",
    )
    CERT_UNTRUSTED = (
        "cert_untrusted",
        Severity.BREAKS,
        "the certificate chain does not lead to a trusted root",
        "NET::ERR_CERT_AUTHORITY_INVALID",
        "SEC_ERROR_UNKNOWN_ISSUER",
        "use a publicly trusted CA and serve the full chain (leaf + intermediates)",
    )
    CERT_REVOKED = (
        "cert_revoked",
        Severity.BREAKS,
        "the certificate is revoked (its CA's CRL or OCSP responder says so)",
        "NET::ERR_CERT_REVOKED if Chrome's CRLSet lists it (see detail), else none",
        "SEC_ERROR_REVOKED_CERTIFICATE",
        "replace the certificate now: its CA has revoked it",
    )
    CERT_DISTRUSTED = (
        "cert_distrusted",
        Severity.BREAKS,
        "the certificate was issued after both browsers stopped trusting its root for new ones",
        "NET::ERR_CERT_AUTHORITY_INVALID",
        "MOZILLA_PKIX_ERROR_ISSUER_NO_LONGER_TRUSTED",
        "replace the certificate with one from a CA that browsers still trust",
    )
    CERT_DISTRUSTED_CHROME = (
        "cert_distrusted_chrome",
        Severity.BREAKS,
        "the certificate was issued after Chrome stopped trusting its root for new ones",
        "NET::ERR_CERT_AUTHORITY_INVALID",
        "none (Firefox still trusts it)",
        "replace the certificate with one from a CA that Chrome still trusts",
    )
    CERT_DISTRUSTED_FIREFOX = (
        "cert_distrusted_firefox",
        Severity.BREAKS,
        "the certificate was issued after Firefox stopped trusting its root for new ones",
        "none (Chrome still trusts it)",
        "MOZILLA_PKIX_ERROR_ISSUER_NO_LONGER_TRUSTED",
        "replace the certificate with one from a CA that Firefox still trusts",
    )
    CERT_INVALID = (
        "cert_invalid",
        Severity.BREAKS,
        "the certificate is signed with MD5, which browsers treat as an invalid signature",
        "NET::ERR_CERT_INVALID",
        "SEC_ERROR_CERT_SIGNATURE_ALGORITHM_DISABLED",
        "reissue the certificate with a SHA-256 signature",
    )
    CERT_WEAK_SIGNATURE = (
        "cert_weak_signature",
        Severity.BREAKS,
        "the chain uses a SHA-1 signature, which browsers reject",
        "NET::ERR_CERT_WEAK_SIGNATURE_ALGORITHM",
        "SEC_ERROR_CERT_SIGNATURE_ALGORITHM_DISABLED",
        "reissue the certificate with SHA-256 and an RSA-2048+ or ECDSA key",
    )
    CERT_WEAK_KEY = (
        "cert_weak_key",
        Severity.BREAKS,
        "the certificate's key is too small for browsers (RSA under 1024 bits, or under 2048 bits "
        "from a public CA)",
        "NET::ERR_CERT_WEAK_KEY",
        "MOZILLA_PKIX_ERROR_INADEQUATE_KEY_SIZE",
        "reissue the certificate with an RSA-2048+ or ECDSA P-256 key",
    )
    REDIRECT_TO_HTTP = (
        "redirect_to_http",
        Severity.BREAKS,
        "HTTPS redirects to http:// on a covered host, which HSTS turns back into HTTPS: a loop",
        "ERR_TOO_MANY_REDIRECTS",
        "NS_ERROR_REDIRECT_LOOP",
        "make the HTTPS site serve content (or redirect to https://), never to http://",
    )
    REDIRECT_LOOP = (
        "redirect_loop",
        Severity.BREAKS,
        "the redirects under HSTS never reach a page",
        "ERR_TOO_MANY_REDIRECTS",
        "NS_ERROR_REDIRECT_LOOP",
        "fix the redirect rules so that the chain ends on a page within a few hops",
    )
    REDIRECT_TARGET_BREAKS = (
        "redirect_target_breaks",
        Severity.BREAKS,
        "HTTPS redirects to a covered host whose HTTPS is broken",
        "the target's error (see detail)",
        "the target's error (see detail)",
        "fix HTTPS on the redirect target, or redirect somewhere that works",
    )
    INVALID_REDIRECT = (
        "invalid_redirect",
        Severity.BREAKS,
        "HTTPS redirects to a Location that is not a URL (a port over 65535, an open bracket)",
        "ERR_INVALID_REDIRECT",
        "the redirect response's own page (nothing to follow)",
        "send a Location that is a valid absolute or relative URL",
    )
    HTTPS_ERROR_STATUS = (
        "https_error_status",
        Severity.BREAKS,
        "HTTPS answers with an error status where HTTP served content",
        "HTTP ERROR page (the status in detail)",
        "the server's error page (the status in detail)",
        "serve the same site over HTTPS as over HTTP (check the HTTPS virtual host)",
    )
    HTTPS_INVALID_RESPONSE = (
        "https_invalid_response",
        Severity.BREAKS,
        "HTTPS answers with a response browsers reject (malformed or oversized headers)",
        "ERR_RESPONSE_HEADERS_TOO_BIG or ERR_INVALID_HTTP_RESPONSE",
        "NS_ERROR_CORRUPTED_CONTENT",
        "fix the HTTPS server's response headers (size, syntax)",
    )
    HTTPS_CONFLICTING_LENGTH = (
        "https_conflicting_length",
        Severity.BREAKS,
        "HTTPS answers with differing Content-Length fields, which browsers refuse",
        "ERR_RESPONSE_HEADERS_MULTIPLE_CONTENT_LENGTH",
        "NS_ERROR_CORRUPTED_CONTENT",
        "send one Content-Length (or chunked encoding alone); look for a proxy adding its own",
    )
    HTTPS_EMPTY_RESPONSE = (
        "https_empty_response",
        Severity.BREAKS,
        "HTTPS completes the handshake, then closes the connection without an answer",
        "ERR_EMPTY_RESPONSE",
        "NS_ERROR_NET_EMPTY_RESPONSE",
        "fix the HTTPS server or proxy behind port 443 so that it answers requests for this name",
    )
    # -- warn: works under HSTS today, but deserves attention ------------------------------------
    NO_HTTP_REDIRECT = (
        "no_http_redirect",
        Severity.WARN,
        "plain HTTP serves content instead of redirecting to HTTPS",
        "none under HSTS (the browser upgrades); first-time visitors stay on HTTP",
        "none under HSTS (the browser upgrades); first-time visitors stay on HTTP",
        "redirect http:// to https:// on the same host with a 301",
    )
    CERT_EXPIRING_SOON = (
        "cert_expiring_soon",
        Severity.WARN,
        "the certificate expires soon; under HSTS an expired certificate locks users out",
        "NET::ERR_CERT_DATE_INVALID (once expired)",
        "SEC_ERROR_EXPIRED_CERTIFICATE (once expired)",
        "renew the certificate now and automate renewal (ACME)",
    )
    REVOCATION_UNCHECKED = (
        "revocation_unchecked",
        Severity.WARN,
        "the certificate's CRL or OCSP responder could not be read or did not know it",
        "none (Chrome does not check revocation online)",
        "none (Firefox goes on when OCSP fails; CRLite may still know)",
        "make sure the CA's CRL and OCSP URLs answer; nothing to do on the server itself",
    )
    INCOMPLETE_CHAIN = (
        "incomplete_chain",
        Severity.WARN,
        "the server omits an intermediate certificate; browsers fetch it, other clients fail",
        "none (Chrome fetches the intermediate from the AIA URL)",
        "none (Firefox has the intermediate preloaded or fetches it)",
        "serve the full chain: the leaf followed by every intermediate",
    )
    # -- not affected: nothing for HSTS to break ---------------------------------------------------
    NO_DNS = (
        "no_dns",
        Severity.NOT_AFFECTED,
        "the name does not resolve (NXDOMAIN or no address records)",
        "ERR_NAME_NOT_RESOLVED (already today)",
        "dnsNotFound (already today)",
        "nothing to do for HSTS; remove stale DNS records and certificates",
    )
    NO_WEB_SERVICE = (
        "no_web_service",
        Severity.NOT_AFFECTED,
        "neither port 80 nor port 443 accepts connections",
        "ERR_CONNECTION_REFUSED (already today)",
        "NS_ERROR_CONNECTION_REFUSED (already today)",
        "nothing to do for HSTS; if the host should serve web traffic, serve HTTPS",
    )
    # -- unknown: the scan could not tell; never counted as safe ---------------------------------
    DNS_ERROR = (
        "dns_error",
        Severity.UNKNOWN,
        "DNS failed (SERVFAIL, refused or timed out) after retries",
        "ERR_NAME_RESOLUTION_FAILED (probably)",
        "dnsNotFound (probably)",
        "check the zone's name servers, then scan again",
    )
    PRIVATE_ADDRESS = (
        "private_address",
        Severity.UNKNOWN,
        "the name resolves to a private, loopback or reserved address, which is not probed",
        "unknown: depends on the user's network",
        "unknown: depends on the user's network",
        "scan from inside that network with --allow-private (or --allow-cidr)",
    )
    UNREACHABLE = (
        "unreachable",
        Severity.UNKNOWN,
        "neither port 80 nor port 443 answered in time",
        "ERR_CONNECTION_TIMED_OUT (from this vantage point)",
        "NS_ERROR_NET_TIMEOUT (from this vantage point)",
        "scan from a network that can reach the host, or raise --timeout",
    )
    CHECK_TIMEOUT = (
        "check_timeout",
        Severity.UNKNOWN,
        "the host's checks did not finish within the per-host time budget",
        "unknown: the host answers too slowly to tell",
        "unknown: the host answers too slowly to tell",
        "look at why the host (or its redirects) answers so slowly, or raise --timeout",
    )
    ADDRESSES_NOT_PROBED = (
        "addresses_not_probed",
        Severity.UNKNOWN,
        "the name has more addresses than the scan probed (16, or 1 with --first-address)",
        "unknown: depends on the address the browser picks",
        "unknown: depends on the address the browser picks",
        "scan with --all-addresses (the default); past 16 addresses, check the others apart",
    )
    NO_ROUTE = (
        "no_route",
        Severity.UNKNOWN,
        "the scanner's network has no route to the address (often: no IPv6 where it runs)",
        "unknown: the scanner could not reach the address",
        "unknown: the scanner could not reach the address",
        "scan from a network with a route to the address (IPv6 connectivity)",
    )
    INTERNAL_ERROR = (
        "internal_error",
        Severity.UNKNOWN,
        "the scanner failed on this host (a bug): it was not judged",
        "unknown: the scanner could not tell",
        "unknown: the scanner could not tell",
        "report the bug with the detail (the error's type and message), then scan again",
    )
    # -- info: worth knowing, does not change the status -----------------------------------------
    DANGLING_CNAME = (
        "dangling_cname",
        Severity.INFO,
        "a CNAME points at a name that does not resolve (a subdomain takeover risk)",
        "ERR_NAME_NOT_RESOLVED",
        "dnsNotFound",
        "delete the CNAME or point it at a resource you control",
    )
    WILDCARD_DNS = (
        "wildcard_dns",
        Severity.INFO,
        "the name is answered by a wildcard DNS record: every name under it is covered by HSTS",
        "as for the wildcard's target",
        "as for the wildcard's target",
        "make the wildcard's target serve valid HTTPS for every name, or remove the wildcard",
    )
