"""The lab's one scenario table: every host the lab serves, and what a correct scan says of it.

The lab servers (DNS, certificate transparency, HTTP/HTTPS) are generated from this table, and the
end-to-end tests assert the scanner's verdict for every row against `expect_status` and
`expect_reasons`. Locations may contain `{domain}`, replaced by the lab domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from hsts_coverage.reasons import Reason

LAB_DOMAIN = "hsts-lab.test"


class Dns(StrEnum):
    """What the lab DNS server answers for a scenario's name."""

    A = "a"  # an A record on the scenario's own loopback address
    CNAME = "cname"  # a CNAME to `cname_target` (a name under the lab domain)
    NXDOMAIN = "nxdomain"
    SERVFAIL = "servfail"
    AAAA_SERVFAIL = "aaaa_servfail"  # an A record on its own address; AAAA queries get SERVFAIL
    FIXED = "fixed"  # an A record on `fixed_address` (outside loopback: never connected to)
    WILDCARD = "wildcard"  # no record of its own: answered by the `*.` scenario above it
    SILENT = "silent"  # the DNS server never answers queries for this name (a timeout)
    TRUNCATED = "truncated"  # over UDP: TC bit, no records; over TCP: the A record
    CNAME_LOOP = "cname_loop"  # name -> `cname_target` -> name (the server sends the loop)
    CNAME_CHAIN = "cname_chain"  # `chain_length` CNAMEs (l1.name -> l2.name ...) then the A record


class Cert(StrEnum):
    """The certificate an HTTPS listener presents."""

    VALID = "valid"  # lab CA, SANs: the lab domain and *.lab-domain
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    SELF_SIGNED = "self_signed"
    UNKNOWN_CA = "unknown_ca"  # a second CA the scan is never told about
    WRONG_NAME = "wrong_name"  # lab CA, SAN: other-site.test only
    SHA1 = "sha1"  # lab CA, signed with SHA-1 (made with the openssl CLI)
    EXPIRING_SOON = "expiring_soon"  # lab CA, expires in 3 days
    # Leaf signed by a lab intermediate (itself signed by the lab CA); the server sends only the
    # leaf, whose AIA caIssuers URL points at the intermediate (DER) on the lab's CT server.
    INCOMPLETE_CHAIN = "incomplete_chain"
    INCOMPLETE_CHAIN_DEAD_AIA = "incomplete_chain_dead_aia"  # the same, its AIA URL answers 404
    # The same as INCOMPLETE_CHAIN, its AIA URL serving the intermediate in chunked coding.
    INCOMPLETE_CHAIN_CHUNKED_AIA = "incomplete_chain_chunked_aia"
    CN_ONLY = "cn_only"  # lab CA, subject CN = the host name, no subjectAltName at all
    # Leaves of the lab's retired roots, distrusted by date (see lab/certs.py).
    ISSUED_BEFORE_DISTRUST = "issued_before_distrust"
    DISTRUSTED_CHROME = "distrusted_chrome"
    DISTRUSTED_FIREFOX = "distrusted_firefox"
    DISTRUSTED = "distrusted"
    # Lab-CA leaves naming where their revocation is published (lab/certs.py): the lab CRL
    # (served by the CT server) or the lab OCSP responder (`openssl ocsp`).
    REVOKED_CRL = "revoked_crl"
    GOOD_CRL = "good_crl"
    REVOKED_OCSP = "revoked_ocsp"
    GOOD_OCSP = "good_ocsp"
    DEAD_REVOCATION = "dead_revocation"  # a CRL URL that is a 404, an OCSP URL that refuses
    RSA = "rsa"  # lab CA, RSA-2048 leaf (for the DHE listener: DHE needs an RSA certificate)
    RSA_1024 = "rsa_1024"  # lab CA, RSA-1024 leaf (SHA-256 signature)
    RSA_768 = "rsa_768"  # lab CA, RSA-768 leaf (SHA-256 signature; key made with the openssl CLI)
    # Leaf (ECDSA) signed md5WithRSAEncryption by a lab RSA intermediate; both are served.
    MD5 = "md5"
    # A CA certificate (CA:TRUE, keyUsage keyCertSign and cRLSign, no subjectAltName) signed by
    # the lab CA, served as the leaf.
    CA_AS_LEAF = "ca_as_leaf"
    # Leaf (SHA-256) <- intermediate signed with SHA-1 by the lab CA; both are served.
    SHA1_INTERMEDIATE = "sha1_intermediate"
    EXPIRED_SELF_SIGNED = "expired_self_signed"  # self-signed and expired
    # Lab CA, CN only, the CN stuffed with terminal escape sequences and control characters:
    # "\x1b]0;pwned\x07\x1b[2J\x1b[31mevil\x1b[0m\r\n" (must never reach a terminal raw).
    HOSTILE_SUBJECT = "hostile_subject"


class Listen(StrEnum):
    """What listens on a port."""

    NOTHING = "nothing"  # connection refused
    HANG = "hang"  # accepts TCP and never sends a byte
    PLAIN = "plain"  # plain HTTP (on 443 this is the classic misconfiguration)
    TLS = "tls"  # TLS 1.2/1.3 with `cert`
    TLS10 = "tls10"  # TLS 1.0 only, with `cert`
    TLS_SILENT = "tls_silent"  # completes the TLS handshake, then never sends a byte
    TLS_RESET = "tls_reset"  # reads the ClientHello, then resets the connection (RST)
    TLS_P521 = "tls_p521"  # TLS 1.2/1.3 with the P-521 group only (Chrome offers no P-521)
    TLS_H2 = "tls_h2"  # TLS with ALPN `h2` only, speaking HTTP/2 only (h2), with `cert`
    TLS_DHE = "tls_dhe"  # TLS 1.2 with DHE-RSA suites only (no suite browsers offer), with `cert`


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer: a status, a Location for redirects, Strict-Transport-Security fields."""

    status: int
    location: str | None = None
    sts: tuple[str, ...] = ()  # each a separate Strict-Transport-Security header field
    delay: float = 0.0  # seconds before the answer starts
    trickle: bool = False  # send the head one byte a second (a slowloris response)
    header_bytes: int = 0  # pad the head with this many bytes of 1 KiB `X-Pad-N` headers
    long_header: int = 0  # one `X-Long` header line of this many bytes
    endless_body: bool = False  # after the head, send body bytes until the client leaves
    # Sent before the answer: a `103 Early Hints` interim response (with a Link field and a
    # Strict-Transport-Security field of max-age=0, which browsers must not take).
    early_hints: bool = False
    folded_header: bool = False  # an `X-Folded` field continued on a second line (obs-fold)
    # Extra Content-Length fields: "same" repeats the real one, "conflicting" adds a larger one;
    # "chunked" sends the body chunked with a bogus Content-Length too (TE wins, RFC 9112 6.3).
    length: str = ""
    close_without_answer: bool = False  # read the request, then close: no byte of answer


def _redirect_https(label: str) -> Reply:
    host = f"{label}.{{domain}}" if label else "{domain}"
    return Reply(301, f"https://{host}/")


OK = Reply(200)


@dataclass(frozen=True, slots=True)
class Scenario:
    label: str  # "" is the apex
    purpose: str
    expect_status: str
    expect_reasons: tuple[Reason, ...]
    dns: Dns = Dns.A
    cname_target: str | None = None  # a label under the lab domain (for Dns.CNAME)
    fixed_address: str | None = None  # Dns.FIXED's address; with Dns.A, a second one
    https: Listen = Listen.TLS
    cert: Cert = Cert.VALID
    http: Listen = Listen.PLAIN
    # path -> reply, for each port; "/" must be present when the port serves HTTP.
    https_routes: tuple[tuple[str, Reply], ...] = (("/", OK),)
    http_routes: tuple[tuple[str, Reply], ...] | None = None  # None: 301 to https://same/
    # A second A record (its own loopback address, same listeners) presenting this certificate.
    alt_cert: Cert | None = None
    chain_length: int = 0  # for Dns.CNAME_CHAIN
    # The CT sources whose lab fakes list this name (crt.sh's fake lists only "crt.sh" ones).
    ct_sources: tuple[str, ...] = ("crt.sh", "certspotter")

    def name(self, domain: str = LAB_DOMAIN) -> str:
        return f"{self.label}.{domain}" if self.label else domain

    def http_replies(self) -> tuple[tuple[str, Reply], ...]:
        if self.http_routes is not None:
            return self.http_routes
        return (("/", _redirect_https(self.label)),)


@dataclass(frozen=True, slots=True)
class CtCertificate:
    """One certificate as crt.sh lists it: its raw name_value lines, exactly as logged."""

    names: tuple[str, ...]
    issuer: str = "C=US, O=HSTS Lab, CN=HSTS Lab CA"
    common_name: str = field(default="")


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("", "apex: valid certificate, HTTP redirects to HTTPS", "ok", ()),
    Scenario("www", "valid host with redirect", "ok", ()),
    Scenario("wild", "named by a wildcard in CT; the bare name is probed", "ok", ()),
    Scenario(
        "alias",
        "CNAME to www: followed, probed with its own name",
        "ok",
        (),
        dns=Dns.CNAME,
        cname_target="www",
    ),
    Scenario(
        "no-redirect",
        "HTTP serves content instead of redirecting",
        "warn",
        (Reason.NO_HTTP_REDIRECT,),
        http_routes=(("/", OK),),
    ),
    Scenario(
        "expiring",
        "certificate expires in 3 days",
        "warn",
        (Reason.CERT_EXPIRING_SOON,),
        cert=Cert.EXPIRING_SOON,
    ),
    Scenario(
        "http-only",
        "HTTP only, nothing on 443",
        "breaks",
        (Reason.HTTPS_REFUSED,),
        https=Listen.NOTHING,
        http_routes=(("/", OK),),
    ),
    Scenario("expired", "expired certificate", "breaks", (Reason.CERT_EXPIRED,), cert=Cert.EXPIRED),
    Scenario(
        "not-yet-valid",
        "certificate not valid yet",
        "breaks",
        (Reason.CERT_NOT_YET_VALID,),
        cert=Cert.NOT_YET_VALID,
    ),
    Scenario(
        "self-signed",
        "self-signed certificate",
        "breaks",
        (Reason.CERT_SELF_SIGNED,),
        cert=Cert.SELF_SIGNED,
    ),
    Scenario(
        "unknown-ca",
        "certificate from a CA the client does not trust",
        "breaks",
        (Reason.CERT_UNTRUSTED,),
        cert=Cert.UNKNOWN_CA,
    ),
    Scenario(
        "wrong-name",
        "certificate for another name",
        "breaks",
        (Reason.CERT_NAME_MISMATCH,),
        cert=Cert.WRONG_NAME,
    ),
    Scenario(
        "deep.wild",
        "*.lab-domain presented for a name two labels down",
        "breaks",
        (Reason.CERT_NAME_MISMATCH,),
    ),
    Scenario(
        "sha1",
        "certificate signed with SHA-1",
        "breaks",
        (Reason.CERT_WEAK_SIGNATURE,),
        cert=Cert.SHA1,
    ),
    Scenario(
        "tls10",
        "server speaks TLS 1.0 only",
        "breaks",
        (Reason.TLS_VERSION_UNSUPPORTED,),
        https=Listen.TLS10,
    ),
    Scenario(
        "plain-443",
        "plain HTTP answering on port 443",
        "breaks",
        (Reason.TLS_PROTOCOL_ERROR,),
        https=Listen.PLAIN,
    ),
    Scenario(
        "https-to-http",
        "HTTPS redirects back to http:// on the same host",
        "breaks",
        (Reason.REDIRECT_TO_HTTP,),
        https_routes=(("/", Reply(301, "http://https-to-http.{domain}/")),),
    ),
    Scenario(
        "loop",
        "HTTPS redirects in a cycle",
        "breaks",
        (Reason.REDIRECT_LOOP,),
        https_routes=(
            ("/", Reply(302, "/a")),
            ("/a", Reply(302, "https://loop.{domain}/")),
        ),
    ),
    Scenario(
        "to-broken",
        "HTTPS redirects to a host with an expired certificate",
        "breaks",
        (Reason.REDIRECT_TARGET_BREAKS,),
        https_routes=(("/", Reply(301, "https://expired.{domain}/")),),
    ),
    Scenario(
        "error-503",
        "HTTPS answers 503 while HTTP serves the site",
        "breaks",
        (Reason.HTTPS_ERROR_STATUS,),
        https_routes=(("/", Reply(503)),),
        http_routes=(("/", OK),),
    ),
    Scenario(
        "hang-tls",
        "accepts TCP on 443 and never answers the handshake",
        "breaks",
        (Reason.HTTPS_TIMEOUT,),
        https=Listen.HANG,
    ),
    Scenario(
        "blackhole",
        "accepts TCP on both ports and never answers",
        "unknown",
        (Reason.UNREACHABLE,),
        https=Listen.HANG,
        http=Listen.HANG,
    ),
    Scenario(
        "closed",
        "resolves, but nothing listens on 80 or 443",
        "not_affected",
        (Reason.NO_WEB_SERVICE,),
        https=Listen.NOTHING,
        http=Listen.NOTHING,
    ),
    Scenario("gone", "in CT, NXDOMAIN in DNS", "not_affected", (Reason.NO_DNS,), dns=Dns.NXDOMAIN),
    Scenario(
        "dangling",
        "CNAME to a name that does not exist",
        "not_affected",
        (Reason.NO_DNS, Reason.DANGLING_CNAME),
        dns=Dns.CNAME,
        cname_target="deleted-bucket",
    ),
    Scenario(
        "servfail",
        "the DNS server answers SERVFAIL",
        "unknown",
        (Reason.DNS_ERROR,),
        dns=Dns.SERVFAIL,
    ),
    Scenario(
        "metadata",
        "resolves to the link-local metadata address: never probed",
        "unknown",
        (Reason.PRIVATE_ADDRESS,),
        dns=Dns.FIXED,
        fixed_address="169.254.169.254",
    ),
    Scenario(
        "aaaa-servfail",
        "A answers, AAAA fails (SERVFAIL) after retries: the IPv6 side is not known",
        "unknown",
        (Reason.DNS_ERROR,),
        dns=Dns.AAAA_SERVFAIL,
    ),
    Scenario(
        "half-private",
        "a lab address and 10.0.0.5: the private one is never probed, so the host is not known",
        "unknown",
        (Reason.PRIVATE_ADDRESS,),
        fixed_address="10.0.0.5",
    ),
    # -- browser-faithful certificate and TLS verdicts --------------------------------------------
    Scenario(
        "incomplete-chain",
        "intermediate missing, fetchable from the AIA URL: works in browsers",
        "warn",
        (Reason.INCOMPLETE_CHAIN,),
        cert=Cert.INCOMPLETE_CHAIN,
    ),
    Scenario(
        "chunked-aia",
        "intermediate missing, its AIA URL answers in chunked coding: still completed",
        "warn",
        (Reason.INCOMPLETE_CHAIN,),
        cert=Cert.INCOMPLETE_CHAIN_CHUNKED_AIA,
    ),
    Scenario(
        "dead-aia",
        "intermediate missing and its AIA URL is dead",
        "breaks",
        (Reason.CERT_UNTRUSTED,),
        cert=Cert.INCOMPLETE_CHAIN_DEAD_AIA,
    ),
    Scenario(
        "cn-only",
        "the name only in the subject CN, no SAN",
        "breaks",
        (Reason.CERT_NAME_MISMATCH,),
        cert=Cert.CN_ONLY,
    ),
    Scenario(
        "before-distrust",
        "a leaf of a retired root issued before either browser's distrust date",
        "ok",
        (),
        cert=Cert.ISSUED_BEFORE_DISTRUST,
    ),
    Scenario(
        "distrusted-chrome",
        "a leaf of a retired root issued after Chrome's distrust date, before Firefox's",
        "breaks",
        (Reason.CERT_DISTRUSTED_CHROME,),
        cert=Cert.DISTRUSTED_CHROME,
    ),
    Scenario(
        "distrusted-firefox",
        "a leaf of a retired root issued after Firefox's distrust date, before Chrome's",
        "breaks",
        (Reason.CERT_DISTRUSTED_FIREFOX,),
        cert=Cert.DISTRUSTED_FIREFOX,
    ),
    Scenario(
        "distrusted",
        "a leaf of a retired root issued after both browsers' distrust dates",
        "breaks",
        (Reason.CERT_DISTRUSTED,),
        cert=Cert.DISTRUSTED,
    ),
    Scenario(
        "revoked-crl",
        "a leaf its CA's CRL lists as revoked",
        "breaks",
        (Reason.CERT_REVOKED,),
        cert=Cert.REVOKED_CRL,
    ),
    Scenario("good-crl", "a leaf its CA's CRL does not list", "ok", (), cert=Cert.GOOD_CRL),
    Scenario(
        "revoked-ocsp",
        "a leaf the OCSP responder says is revoked",
        "breaks",
        (Reason.CERT_REVOKED,),
        cert=Cert.REVOKED_OCSP,
    ),
    Scenario("good-ocsp", "a leaf the OCSP responder says is good", "ok", (), cert=Cert.GOOD_OCSP),
    Scenario(
        "dead-revocation",
        "a leaf whose CRL is a 404 and whose OCSP responder refuses: a warning, never a break",
        "warn",
        (Reason.REVOCATION_UNCHECKED,),
        cert=Cert.DEAD_REVOCATION,
    ),
    Scenario(
        "rsa-1024",
        "RSA-1024 leaf from a private root: browsers accept 1024 bits and more there",
        "ok",
        (),
        cert=Cert.RSA_1024,
    ),
    Scenario(
        "weak-key", "RSA-768 certificate", "breaks", (Reason.CERT_WEAK_KEY,), cert=Cert.RSA_768
    ),
    Scenario(
        "md5",
        "leaf signed with MD5: invalid in Chrome, not a weak signature",
        "breaks",
        (Reason.CERT_INVALID,),
        cert=Cert.MD5,
    ),
    Scenario(
        "ca-as-leaf",
        "a CA certificate without the name served as the leaf: a name error first, as in Chrome",
        "breaks",
        (Reason.CERT_NAME_MISMATCH,),
        cert=Cert.CA_AS_LEAF,
    ),
    Scenario(
        "h2-only",
        "speaks HTTP/2 only (ALPN h2): works in browsers, which offer h2",
        "ok",
        (),
        https=Listen.TLS_H2,
        https_routes=(("/", Reply(200, sts=("max-age=600",))),),
    ),
    Scenario(
        "h2-redirect",
        "HTTP/2 only, redirecting to http:// on itself: the walk reads HTTP/2 too",
        "breaks",
        (Reason.REDIRECT_TO_HTTP,),
        https=Listen.TLS_H2,
        https_routes=(("/", Reply(301, "http://h2-redirect.{domain}/")),),
    ),
    Scenario(
        "dhe-only",
        "TLS 1.2 with DHE suites only: no suite in common with browsers",
        "breaks",
        (Reason.TLS_CIPHER_MISMATCH,),
        https=Listen.TLS_DHE,
        cert=Cert.RSA,
    ),
    Scenario(
        "p521-only",
        "key exchange on P-521 only: no group in common with Chrome",
        "breaks",
        (Reason.TLS_CIPHER_MISMATCH,),
        https=Listen.TLS_P521,
    ),
    Scenario(
        "rsa-ecdhe",
        "the same RSA certificate over ECDHE: works (the DHE host's twin)",
        "ok",
        (),
        cert=Cert.RSA,
    ),
    Scenario(
        "sha1-intermediate",
        "an intermediate signed with SHA-1",
        "breaks",
        (Reason.CERT_WEAK_SIGNATURE,),
        cert=Cert.SHA1_INTERMEDIATE,
    ),
    Scenario(
        "expired-self-signed",
        "self-signed and expired: both errors, authority first as in Chrome",
        "breaks",
        (Reason.CERT_SELF_SIGNED, Reason.CERT_EXPIRED),
        cert=Cert.EXPIRED_SELF_SIGNED,
    ),
    Scenario(
        "vhost-404",
        "HTTPS lands on a default virtual host (404) while HTTP serves the site",
        "breaks",
        (Reason.HTTPS_ERROR_STATUS,),
        https_routes=(("/", Reply(404)),),
        http_routes=(("/", OK),),
    ),
    Scenario(
        "multi",
        "two addresses: the first serves a valid certificate, the second an expired one",
        "breaks",
        (Reason.CERT_EXPIRED,),
        alt_cert=Cert.EXPIRED,
    ),
    Scenario(
        "*.wild",
        "wildcard DNS under wild.: answers every other name there with the *.domain certificate",
        "breaks",
        (Reason.CERT_NAME_MISMATCH, Reason.WILDCARD_DNS),
    ),
    Scenario(
        "legacy.wild",
        "in CT, answered only by the wildcard DNS record",
        "breaks",
        (Reason.CERT_NAME_MISMATCH, Reason.WILDCARD_DNS),
        dns=Dns.WILDCARD,
    ),
    # -- faults and hostile servers: every host still gets a verdict within its budget --------
    Scenario(
        "dns-silent", "the DNS server never answers", "unknown", (Reason.DNS_ERROR,), dns=Dns.SILENT
    ),
    Scenario(
        "dns-truncated",
        "UDP answer truncated (TC): the resolver retries over TCP",
        "ok",
        (),
        dns=Dns.TRUNCATED,
    ),
    Scenario(
        "cname-loop",
        "CNAME loop between two names",
        "unknown",
        (Reason.DNS_ERROR,),
        dns=Dns.CNAME_LOOP,
        cname_target="cname-loop-b",
    ),
    Scenario(
        "cname-chain",
        "a chain of 20 CNAMEs before the address",
        "unknown",
        (Reason.DNS_ERROR,),
        dns=Dns.CNAME_CHAIN,
        chain_length=20,
    ),
    Scenario(
        "tls-silent",
        "completes TLS, never answers HTTP",
        "breaks",
        (Reason.HTTPS_TIMEOUT,),
        https=Listen.TLS_SILENT,
    ),
    Scenario(
        "tls-reset",
        "resets the connection in the middle of the handshake",
        "breaks",
        (Reason.HTTPS_RESET,),
        https=Listen.TLS_RESET,
    ),
    Scenario(
        "slowloris",
        "sends its HTTPS response head one byte a second",
        "breaks",
        (Reason.HTTPS_TIMEOUT,),
        https_routes=(("/", Reply(200, trickle=True)),),
    ),
    Scenario(
        "huge-headers",
        "1 MiB of response headers over HTTPS",
        "breaks",
        (Reason.HTTPS_INVALID_RESPONSE,),
        https_routes=(("/", Reply(200, header_bytes=1 << 20)),),
    ),
    Scenario(
        "long-header",
        "one 100 KB header line (browsers accept up to 256 KiB of headers)",
        "ok",
        (),
        https_routes=(("/", Reply(200, long_header=100_000)),),
    ),
    Scenario(
        "early-hints",
        "a 103 Early Hints (HSTS max-age=0) before the 200 with HSTS: the 200 is the answer",
        "ok",
        (),
        https_routes=(("/", Reply(200, sts=("max-age=300",), early_hints=True)),),
    ),
    Scenario(
        "folded-header",
        "a header line folded onto the next (obs-fold): browsers accept it",
        "ok",
        (),
        https_routes=(("/", Reply(200, folded_header=True)),),
    ),
    Scenario(
        "same-length-twice",
        "the same Content-Length twice: browsers accept it",
        "ok",
        (),
        https_routes=(("/", Reply(200, length="same")),),
    ),
    Scenario(
        "conflicting-length",
        "two different Content-Length fields: browsers refuse the response",
        "breaks",
        (Reason.HTTPS_CONFLICTING_LENGTH,),
        https_routes=(("/", Reply(200, length="conflicting")),),
    ),
    Scenario(
        "chunked-and-length",
        "Transfer-Encoding: chunked and a Content-Length: chunked wins, as in browsers",
        "ok",
        (),
        https_routes=(("/", Reply(200, length="chunked")),),
    ),
    Scenario(
        "empty-response",
        "completes TLS, reads the request, closes without a byte of answer",
        "breaks",
        (Reason.HTTPS_EMPTY_RESPONSE,),
        https_routes=(("/", Reply(200, close_without_answer=True)),),
    ),
    Scenario(
        "endless-body",
        "a body that never ends: only headers are read",
        "ok",
        (),
        https_routes=(("/", Reply(200, endless_body=True)),),
    ),
    Scenario(
        "chain-50",
        "50 HTTPS redirects in a row",
        "breaks",
        (Reason.REDIRECT_LOOP,),
        https_routes=(
            *((f"/{i}" if i else "/", Reply(302, f"/{i + 1}")) for i in range(50)),
            ("/50", OK),
        ),
    ),
    Scenario(
        "ping",
        "redirects to pong, which redirects back",
        "breaks",
        (Reason.REDIRECT_LOOP,),
        https_routes=(("/", Reply(301, "https://pong.{domain}/")),),
    ),
    Scenario(
        "pong",
        "redirects to ping, which redirects back",
        "breaks",
        (Reason.REDIRECT_LOOP,),
        https_routes=(("/", Reply(301, "https://ping.{domain}/")),),
    ),
    Scenario(
        "relative",
        "relative and protocol-relative Locations that end on a page",
        "ok",
        (),
        https_routes=(
            ("/", Reply(302, "start")),
            ("/start", Reply(302, "//relative.{domain}/end")),
            ("/end", OK),
        ),
    ),
    Scenario(
        "bad-location",
        "a Location with an open IPv6 bracket: Chrome's ERR_INVALID_REDIRECT",
        "breaks",
        (Reason.INVALID_REDIRECT,),
        https_routes=(("/", Reply(302, "http://[::1/broken")),),
    ),
    Scenario(
        "bad-port",
        "a Location with port 99999: Chrome's ERR_INVALID_REDIRECT",
        "breaks",
        (Reason.INVALID_REDIRECT,),
        https_routes=(("/", Reply(302, "https://bad-port.{domain}:99999/")),),
    ),
    Scenario(
        "backslash-at",
        "Location https://expired.D\\@evil.example/: by the URL standard the host is expired.D",
        "breaks",
        (Reason.REDIRECT_TARGET_BREAKS,),
        https_routes=(("/", Reply(302, "https://expired.{domain}\\@evil.example/")),),
    ),
    Scenario(
        "dot-escape",
        "Location https://expired%2eD/: a browser decodes %2e in the host to a dot",
        "breaks",
        (Reason.REDIRECT_TARGET_BREAKS,),
        https_routes=(("/", Reply(302, "https://expired%2e{domain}/")),),
    ),
    Scenario(
        "to-bad-punycode",
        "redirects to https://xn--zz.D/, punycode that decodes to nothing: the hop fails",
        "breaks",
        (Reason.REDIRECT_TARGET_BREAKS,),
        https_routes=(("/", Reply(302, "https://xn--zz.{domain}/")),),
    ),
    Scenario(
        "chain-15",
        "15 HTTPS redirects, then a page: within Chrome's 20",
        "ok",
        (),
        https_routes=(
            *((f"/{i}" if i else "/", Reply(302, f"/{i + 1}")) for i in range(15)),
            ("/15", OK),
        ),
    ),
    Scenario(
        "to-ip",
        "redirects to an IP literal: outside the domain, not followed",
        "ok",
        (),
        https_routes=(("/", Reply(302, "https://127.0.0.1/")),),
    ),
    Scenario(
        "other-port",
        "redirects to http://same-host:8080/, which HSTS turns into https://same-host:8080/",
        "breaks",
        (Reason.REDIRECT_TARGET_BREAKS,),
        https_routes=(("/", Reply(302, "http://other-port.{domain}:8080/")),),
    ),
    Scenario(
        "slow-hops",
        "each hop answers well in time, but the hops together outlast the per-host budget",
        "unknown",
        (Reason.CHECK_TIMEOUT,),
        # 14 hops of 0.6 s: 8.4 s, over the tests' 6 s budget (three 2 s time-outs), and each hop
        # 1.4 s inside its time-out, so that a loaded machine does not turn a hop into a time-out.
        https_routes=tuple(
            (f"/{i}" if i else "/", Reply(302, f"/{i + 1}", delay=0.6)) for i in range(14)
        ),
    ),
    Scenario(
        "hostile",
        "certificate subject full of terminal escape sequences",
        "breaks",
        (Reason.CERT_NAME_MISMATCH,),
        cert=Cert.HOSTILE_SUBJECT,
    ),
    Scenario(
        "only-certspotter",
        "a valid host that only Cert Spotter has logged",
        "ok",
        (),
        ct_sources=("certspotter",),
    ),
)


def scenario_by_label(label: str) -> Scenario:
    for scenario in SCENARIOS:
        if scenario.label == label:
            return scenario
    raise KeyError(label)


def ct_certificates(domain: str = LAB_DOMAIN) -> tuple[CtCertificate, ...]:
    """What the lab's crt.sh serves: every scenario name, plus the noise real CT logs carry."""
    d = domain
    listed = [
        s
        for s in SCENARIOS
        if s.label not in ("", "wild") and not s.label.startswith("*") and "crt.sh" in s.ct_sources
    ]
    # cname-loop-b and the links of cname-chain exist only in DNS, as in real zones
    certs = [CtCertificate((s.name(d),)) for s in listed]
    certs += [
        # The usual apex + www certificate, logged twice (precertificate and certificate).
        CtCertificate((d, f"www.{d}")),
        CtCertificate((d, f"www.{d}")),
        # Upper case, a trailing dot and a wildcard for the apex.
        CtCertificate((f"WWW.{d.upper()}", f"*.{d}", f"expired.{d}.")),
        # A wildcard: recorded as such; the bare name under it is probed.
        CtCertificate((f"*.wild.{d}",)),
        # An e-mail address (S/MIME certificates are logged too), an IP literal, an invalid name.
        CtCertificate((f"hostmaster@{d}",)),
        CtCertificate(("127.0.0.1", f"bad_name!.{d}")),
        # Out of scope: another domain that merely ends with the same letters, and a suffix trap.
        CtCertificate((f"not{d}", f"{d}.evil.example")),
    ]
    return tuple(certs)


# -- apex domains for `hsts-coverage policy`: one preload-ready, one failing each requirement ----

READY_STS = "max-age=63072000; includeSubDomains; preload"


@dataclass(frozen=True, slots=True)
class PolicySite:
    """A lab apex domain (with www unless `www` is None) for the preload-readiness check.

    Each site is its own DNS zone and gets a lab-CA certificate for the domain and *.domain.
    `expect_errors` / `expect_warnings` are the requirement codes the check must report.
    """

    domain: str
    purpose: str
    expect_errors: tuple[str, ...]
    expect_warnings: tuple[str, ...] = ()
    sts: tuple[str, ...] = (READY_STS,)  # on the apex's HTTPS answer to /
    https_routes: tuple[tuple[str, Reply], ...] | None = None  # None: 200 with `sts`
    http_routes: tuple[tuple[str, Reply], ...] | None = None  # None: 301 to https://apex/
    cert: Cert = Cert.VALID
    www: Listen | None = Listen.TLS  # what www.domain serves on 443 (None: no DNS record)

    @property
    def ready(self) -> bool:
        return not self.expect_errors

    def apex_https(self) -> tuple[tuple[str, Reply], ...]:
        return self.https_routes or (("/", Reply(200, sts=self.sts)),)

    def apex_http(self) -> tuple[tuple[str, Reply], ...]:
        return self.http_routes or (("/", Reply(301, f"https://{self.domain}/")),)

    def www_https(self) -> tuple[tuple[str, Reply], ...]:
        return (("/", Reply(301, f"https://{self.domain}/", sts=(READY_STS,))),)

    def www_http(self) -> tuple[tuple[str, Reply], ...]:
        return (("/", Reply(301, f"https://www.{self.domain}/")),)


POLICY_SITES: tuple[PolicySite, ...] = (
    PolicySite("preload-ready.test", "meets every requirement", ()),
    PolicySite("no-header.test", "no HSTS header", ("response.no_header",), sts=()),
    PolicySite(
        "short-max-age.test",
        "max-age of one day",
        ("header.preloadable.max_age.below_1_year",),
        sts=("max-age=86400; includeSubDomains; preload",),
    ),
    PolicySite(
        "no-include-subdomains.test",
        "includeSubDomains missing",
        ("header.preloadable.include_sub_domains.missing",),
        sts=("max-age=63072000; preload",),
    ),
    PolicySite(
        "no-preload.test",
        "preload token missing",
        ("header.preloadable.preload.missing",),
        sts=("max-age=63072000; includeSubDomains",),
    ),
    PolicySite(
        "http-to-www.test",
        "HTTP redirects straight to https://www.",
        ("redirects.http.www_first",),
        http_routes=(("/", Reply(301, "https://www.http-to-www.test/")),),
    ),
    PolicySite(
        "http-no-redirect.test",
        "HTTP serves content",
        ("redirects.http.no_redirect",),
        http_routes=(("/", OK),),
    ),
    PolicySite(
        "http-insecure.test",
        "HTTP redirects to another http:// page first",
        ("redirects.http.first_redirect.insecure",),
        http_routes=(
            ("/", Reply(301, "http://http-insecure.test/landing")),
            ("/landing", Reply(301, "https://http-insecure.test/")),
        ),
    ),
    PolicySite(
        "too-many-redirects.test",
        "four redirects before the page",
        ("redirects.too_many",),
        https_routes=(
            ("/", Reply(301, "/1", sts=(READY_STS,))),
            ("/1", Reply(301, "/2", sts=(READY_STS,))),
            ("/2", Reply(301, "/3", sts=(READY_STS,))),
            ("/3", Reply(301, "/4", sts=(READY_STS,))),
            ("/4", Reply(200, sts=(READY_STS,))),
        ),
    ),
    PolicySite(
        "redirect-no-hsts.test",
        "HTTPS / redirects without an HSTS header (the target has one)",
        ("response.no_header",),
        https_routes=(
            ("/", Reply(301, "/home")),
            ("/home", Reply(200, sts=(READY_STS,))),
        ),
    ),
    PolicySite(
        "https-to-http.test",
        "HTTPS / redirects to an http:// page (seen from both starting points)",
        ("redirects.insecure.subsequent", "redirects.insecure.initial"),
        https_routes=(
            ("/", Reply(301, "http://https-to-http.test/page", sts=(READY_STS,))),
            ("/page", Reply(200, sts=(READY_STS,))),
        ),
        http_routes=(
            ("/", Reply(301, "https://https-to-http.test/")),
            ("/page", OK),
        ),
    ),
    PolicySite(
        "bad-port-redirect.test",
        "HTTPS / redirects to port 99999: no browser follows it (ERR_INVALID_REDIRECT)",
        ("redirects.follow_error",),
        https_routes=(
            ("/", Reply(301, "https://bad-port-redirect.test:99999/", sts=(READY_STS,))),
        ),
    ),
    PolicySite(
        "open-bracket-redirect.test",
        "HTTP / redirects to https://[::1/ (an open IPv6 bracket): no browser follows it",
        ("redirects.http.first_redirect.insecure", "redirects.follow_error"),
        http_routes=(("/", Reply(301, "https://[::1/")),),
    ),
    PolicySite(
        "expired-cert.test",
        "expired certificate on the apex",
        ("domain.tls.invalid_cert_chain",),
        cert=Cert.EXPIRED,
    ),
    PolicySite(
        "www-no-https.test",
        "www resolves but does not serve HTTPS",
        ("domain.www.no_tls",),
        www=Listen.NOTHING,
    ),
    PolicySite(
        "no-www.test",
        "no www record at all: nothing to check there",
        (),
        www=None,
    ),
    PolicySite(
        "sts-over-http.test",
        "ready, but also sends HSTS over plain HTTP (ignored by browsers)",
        (),
        ("response.http.sts_ignored",),
        http_routes=(("/", Reply(301, "https://sts-over-http.test/", sts=(READY_STS,))),),
    ),
    PolicySite(
        "repeated-preload.test",
        "ready: `preload` twice, which Chrome and Firefox accept (RFC 6797 would ignore it)",
        (),
        ("header.parse.repeated.preload",),
        sts=("max-age=63072000; includeSubDomains; preload; preload",),
    ),
    PolicySite(
        "ten-years.test",
        "ready, with a max-age over ten years",
        (),
        ("header.preloadable.max_age.over_10_years",),
        sts=("max-age=400000000; includeSubDomains; preload",),
    ),
)
