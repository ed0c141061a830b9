"""TLS the way a browser speaks it: trust store, contexts, handshake facts.

(What an OpenSSL error means to a browser is `rules.failures`'s to say.)

One verified `SSLContext` serves the whole scan (building one per connection from a full CA
bundle costs ~30 ms of CPU each). It offers what Chrome offers and differs from Python's defaults
where browsers do:
- TLS 1.2 cipher suites: Chrome's rule "ALL:!aPSK:!ECDSA+SHA1:!3DES"
  (chromium/chromium net/socket/ssl_client_socket_impl.cc, read at commit 007273ba) applied to
  BoringSSL's cipher table (google/boringssl ssl/ssl_cipher.cc, read at commit 66da97b9), written
  out in `CHROME_TLS12_CIPHERS`: ECDHE with AES-GCM or ChaCha20, ECDHE-RSA with AES-CBC-SHA, and
  RSA key exchange with AES-GCM or AES-CBC-SHA. No DHE, 3DES, RC4, NULL or export suite: BoringSSL
  has none of them (or, for 3DES, Chrome removes it), nor the CBC-SHA256/SHA384 suites (BoringSSL
  marks them deprecated, so "ALL" leaves them out, or lacks them altogether). Firefox offers the
  same families (no DHE since Firefox 78), so a server outside them fails in both.
- TLS 1.3 suites: OpenSSL's default three (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) are
  BoringSSL's three, which no cipher string changes.
- TLS 1.2 at least (TLS 1.0/1.1 were removed from browsers in 2020).
- Signature algorithms: Chrome's `kVerifyPrefs` (same file): ECDSA P-256/P-384, RSA-PSS and
  PKCS#1 with SHA-256/384/512, never SHA-1 (`CHROME_SIGALGS`). Key-exchange groups: Chrome's
  X25519MLKEM768, X25519, P-256, P-384 (net/ssl/ssl_config.cc), less X25519MLKEM768, which
  OpenSSL 3.0 lacks and which no server requires (`CHROME_GROUPS`). Python's `ssl` cannot set
  either list, so `_set_chrome_lists` calls OpenSSL's own SSL_CTX_ctrl through ctypes, on the
  SSL_CTX that CPython's SSLContext wraps, after checking that the pointer is that context's
  (its options read back through OpenSSL equal `SSLContext.options`). Where the check fails (not
  CPython, another layout) OpenSSL's defaults stay (they add FFDHE groups, Ed25519/Ed448 and
  P-521 signatures): a server that accepts only those is then judged working.
- ALPN: `h2` and `http/1.1`, as browsers send them (`ALPN`); a server that picks `h2` is read
  over HTTP/2 (`http2`).
- No fallback to the subject CN when a certificate has no SAN (Chrome 58+, Firefox 48+).
- Keys and signatures as the browsers' verifiers decide: RSA keys under 1024 bits and SHA-1/MD5
  signatures are rejected everywhere (Chrome's CertVerifyProc, mozilla::pkix); RSA keys of 1024 to
  2047 bits are accepted under a private root (Chrome checks the 2048-bit baseline only for chains
  to a known public root; Firefox falls back to 1024 bits). So the scan runs at OpenSSL security
  level 2 (RSA 2048+) against the public roots and at level 1 (RSA 1024+) against a `--ca-bundle`,
  whose roots browsers would hold as locally added anchors.
"""

from __future__ import annotations

import _ssl
import asyncio
import ctypes
import hashlib
import ssl
import sys
import warnings
from contextlib import suppress
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from hsts_coverage.descriptors import open_socket
from hsts_coverage.models import Certificate

# Chrome's TLS 1.2 cipher suites in OpenSSL's names, in BoringSSL's order (see the docstring).
CHROME_TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
)
CHROME_TLS13_CIPHERS = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
)
CHROME_CIPHERS = frozenset(CHROME_TLS12_CIPHERS + CHROME_TLS13_CIPHERS)

# Chrome's signature algorithms and groups in OpenSSL's names (see the docstring).
CHROME_SIGALGS = (
    "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256:ecdsa_secp384r1_sha384:"
    "rsa_pss_rsae_sha384:rsa_pkcs1_sha384:rsa_pss_rsae_sha512:rsa_pkcs1_sha512"
)
CHROME_GROUPS = "X25519:P-256:P-384"
_SSL_CTRL_SET_GROUPS_LIST = 92  # include/openssl/ssl.h
_SSL_CTRL_SET_SIGALGS_LIST = 98

# What browsers offer in ALPN, in their order.
ALPN = ("h2", "http/1.1")

# OpenSSL security levels: 2 for the public roots (RSA 2048+), 1 for private ones (RSA 1024+).
PUBLIC_ROOTS_LEVEL = 2
PRIVATE_ROOTS_LEVEL = 1


def verified_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The scan's one verifying context; raises OSError/ssl.SSLError for an unusable bundle."""
    cafile = str(ca_bundle) if ca_bundle else _certifi_bundle()
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.hostname_checks_common_name = False
    level = PRIVATE_ROOTS_LEVEL if ca_bundle else PUBLIC_ROOTS_LEVEL
    ctx.set_ciphers(f"{':'.join(CHROME_TLS12_CIPHERS)}:@SECLEVEL={level}")
    ctx.set_alpn_protocols(list(ALPN))
    _set_chrome_lists(ctx)
    return ctx


def _certifi_bundle() -> str:
    # Imported only here: certifi loads importlib.resources (and with it tempfile, shutil, bz2,
    # lzma, random: 0.8 MiB a process), which a scan with its own --ca-bundle never needs.
    import certifi

    return certifi.where()


def _set_chrome_lists(ctx: ssl.SSLContext) -> bool:
    """Chrome's groups and signature algorithms on `ctx` through OpenSSL itself; False (and
    OpenSSL's defaults) where the SSL_CTX cannot be reached safely (see the docstring)."""
    library = _libssl()
    if library is None:
        return False
    pointer = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
    if not pointer or library.SSL_CTX_get_options(pointer) != ctx.options:
        return False
    groups = library.SSL_CTX_ctrl(pointer, _SSL_CTRL_SET_GROUPS_LIST, 0, CHROME_GROUPS.encode())
    sigalgs = library.SSL_CTX_ctrl(pointer, _SSL_CTRL_SET_SIGALGS_LIST, 0, CHROME_SIGALGS.encode())
    return bool(groups == 1 and sigalgs == 1)


@cache
def _libssl() -> ctypes.CDLL | None:
    """The OpenSSL that CPython's `_ssl` is linked with, its two functions typed."""
    if sys.implementation.name != "cpython":
        return None
    try:
        library = ctypes.CDLL(_ssl.__file__)
        library.SSL_CTX_get_options.argtypes = [ctypes.c_void_p]
        library.SSL_CTX_get_options.restype = ctypes.c_uint64
        library.SSL_CTX_ctrl.argtypes = [
            ctypes.c_void_p,
            ctypes.c_int,
            ctypes.c_long,
            ctypes.c_char_p,
        ]
        library.SSL_CTX_ctrl.restype = ctypes.c_long
    except (OSError, AttributeError):
        return None
    return library


@cache
def lenient_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """The verifying context at security level 0: finds what else is wrong with a chain that
    level 2 rejected for a weak key or signature before looking further."""
    ctx = verified_context(ca_bundle)
    ctx.set_ciphers(f"{':'.join(CHROME_TLS12_CIPHERS)}:@SECLEVEL=0")
    return ctx


def inspecting_context() -> ssl.SSLContext:
    """Accepts anything, so that a failing server's certificate can still be read and reported."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Deliberate: this context only inspects servers that browsers would refuse anyway.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


class VerifiedCertificates:
    """The facts of verified peer certificates, each distinct certificate decoded once.

    Hundreds of a domain's names often share one wildcard or multi-name certificate. Its DER
    (a copy out of OpenSSL, ~2 us) keys the facts; decoding them costs ~60 us a host. At most
    `capacity` certificates are kept, the oldest dropped first, so memory stays flat however
    many hosts have certificates of their own.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._known: dict[bytes, Certificate] = {}

    def __call__(self, ssl_object: ssl.SSLObject) -> Certificate | None:
        der = ssl_object.getpeercert(binary_form=True)
        if der is None:
            return None
        known = self._known.get(der)
        if known is not None:
            return known
        if not ssl_object.getpeercert():  # empty unless the chain was verified
            return None
        cert = decoded(der)
        if cert is None:
            return None
        chain = _verified_chain(ssl_object)
        root = hashlib.sha256(chain[-1]).hexdigest() if chain else ""
        revocable = bool(cert.crl_urls or cert.ocsp_urls) and len(chain) >= 2
        cert = replace(cert, root_sha256=root, chain_der=chain[:2] if revocable else ())
        if len(self._known) >= self._capacity:
            del self._known[next(iter(self._known))]
        self._known[der] = cert
        return cert


def _verified_chain(ssl_object: ssl.SSLObject) -> tuple[bytes, ...]:
    """The verified chain (leaf first, root last) as DER, for the distrust-after table and the
    revocation check.

    Python 3.11 has the verified chain only on the private `_sslobj` (public from 3.13 as
    `get_verified_chain`); empty where it is missing (another TLS implementation).
    """
    chain = getattr(getattr(ssl_object, "_sslobj", None), "get_verified_chain", None)
    certificates = chain() if chain else None
    return tuple(c.public_bytes(_ssl.ENCODING_DER) for c in certificates or ())


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> Certificate | None:
    """A peer certificate's facts (see `rules.der`), or None when there is
    none or it cannot be decoded: OpenSSL accepts DER that cryptography refuses (an encoded
    default such as `critical FALSE`, UTCTime without seconds, ...). The verification failure
    itself came from OpenSSL and stands; only the certificate's facts are missing then."""
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    return decoded(der) if der else None


def decoded(der: bytes) -> Certificate | None:
    """`rules.der.parse_certificate`, or None for DER that cryptography refuses."""
    from hsts_coverage.rules.der import parse_certificate  # loads cryptography

    try:
        return parse_certificate(der)
    except ValueError:  # cryptography's parse errors, on loading or on reading a field
        return None


@dataclass(frozen=True, slots=True)
class Presented:
    """What a server presents to a permissive client: its leaf, TLS version and cipher suite."""

    cert: Certificate | None = None
    version: str | None = None
    cipher: str | None = None

    @property
    def modern(self) -> bool:
        return self.version in ("TLSv1.2", "TLSv1.3")

    @property
    def cipher_refused(self) -> bool:
        """A TLS 1.2+ handshake that works only with a suite browsers do not offer (e.g. DHE)."""
        modern = self.version in ("TLSv1.2", "TLSv1.3")
        return modern and self.cipher is not None and self.cipher not in CHROME_CIPHERS


async def read_leaf(address: str, server_name: str, *, port: int = 443, budget: float) -> Presented:
    """One unverified, permissive handshake: what the server presents when anything goes."""
    sock = await open_socket(address)  # waits for a free file descriptor, outside the budget
    try:
        async with asyncio.timeout(budget):
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
            _, writer = await asyncio.open_connection(
                sock=sock, ssl=inspecting_context(), server_hostname=server_name
            )
    except (OSError, TimeoutError, ValueError):
        sock.close()
        return Presented()
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is None:
            return Presented()
        cipher = ssl_object.cipher()
        return Presented(
            peer_certificate(ssl_object), ssl_object.version(), cipher[0] if cipher else None
        )
    finally:
        writer.close()
        with suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(budget):
                await writer.wait_closed()
