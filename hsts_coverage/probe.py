"""Probe one host with aiohttp: HTTPS and HTTP `GET /` side by side, then the redirect walk.

Contract: `Prober.probe(name, address, domain)` connects to the given address with SNI and Host
set to the name, never follows redirects itself, reads headers and no body, and returns a `Probe`.
Connection failures become data (`Outcome` + `Reason`); only bugs raise. Every name the walk
meets is resolved by the scan's own `Resolver`, through the same private-address guard.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp
from yarl import URL

from hsts_coverage.models import (
    Finding,
    Hop,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
    RedirectWalk,
    WalkEnd,
)
from hsts_coverage.preload import Response
from hsts_coverage.reasons import Reason
from hsts_coverage.redirects import (
    StepKind,
    is_redirect,
    next_step,
    visit_key,
    without_credentials,
)
from hsts_coverage.resolve import BlockedAddressError, ScanResolver
from hsts_coverage.tls import (
    SECURITY_LEVEL_CODES,
    handshake_reason,
    issuer_der,
    lenient_context,
    parse_certificate,
    read_leaf,
    verified_context,
    verify_detail,
    verify_reason,
)


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: Outcome
    reason: Reason | None
    detail: str
    verify_code: int | None = None


def _certificate(exc: BaseException) -> Failure:
    error = getattr(exc, "certificate_error", None)
    if isinstance(error, ssl.SSLCertVerificationError):
        reason = verify_reason(error)
        return Failure(Outcome.CERT_INVALID, reason, verify_detail(error), error.verify_code)
    return Failure(Outcome.CERT_INVALID, Reason.CERT_UNTRUSTED, str(error or exc))


def _handshake(exc: BaseException) -> Failure:
    error = getattr(exc, "os_error", None) or exc
    if isinstance(error, ssl.SSLError):
        detail = f"TLS handshake failed: {error.reason or error}"
        return Failure(Outcome.TLS_FAILED, handshake_reason(error), detail)
    return Failure(Outcome.TLS_FAILED, Reason.TLS_PROTOCOL_ERROR, f"TLS handshake failed: {error}")


def _resolution(exc: BaseException) -> Failure:
    cause = exc.__cause__ or getattr(exc, "os_error", None)
    if isinstance(cause, BlockedAddressError):
        return Failure(Outcome.BLOCKED, Reason.PRIVATE_ADDRESS, str(cause))
    return Failure(Outcome.ERROR, Reason.NO_DNS, str(cause or exc))


def _connector(exc: BaseException) -> Failure:
    error = getattr(exc, "os_error", None)
    if isinstance(error, ssl.SSLError):
        return _handshake(exc)
    if getattr(error, "errno", None) == errno.ECONNREFUSED:
        return Failure(Outcome.REFUSED, None, "connection refused")
    return Failure(Outcome.ERROR, None, f"connection failed: {error or exc}")


def _timeout(exc: BaseException) -> Failure:
    return Failure(Outcome.TIMEOUT, None, "timed out")


def _broken_response(exc: BaseException) -> Failure:
    return Failure(Outcome.ERROR, None, f"{type(exc).__name__}: {exc}")


def _invalid_response(exc: BaseException) -> Failure:
    # The connection (and TLS) worked; what came back is not a response a browser accepts.
    detail = f"invalid response: {getattr(exc, 'message', None) or exc}"
    return Failure(Outcome.ERROR, Reason.HTTPS_INVALID_RESPONSE, detail)


def _disconnected(exc: BaseException) -> Failure:
    detail = "the server closed the connection without a response"
    return Failure(Outcome.ERROR, Reason.HTTPS_INVALID_RESPONSE, detail)


# aiohttp's exceptions -> outcomes. Most specific first: the first isinstance match wins.
_TRANSLATIONS: tuple[tuple[type[BaseException], Callable[[BaseException], Failure]], ...] = (
    (aiohttp.ClientConnectorCertificateError, _certificate),
    (aiohttp.ClientSSLError, _handshake),
    (ssl.SSLError, _handshake),
    (aiohttp.ClientConnectorDNSError, _resolution),
    (aiohttp.ClientConnectorError, _connector),
    (TimeoutError, _timeout),  # also aiohttp.ServerTimeoutError and ConnectionTimeoutError
    (aiohttp.ClientResponseError, _invalid_response),  # header too long, malformed, ...
    (aiohttp.ServerDisconnectedError, _disconnected),
    (aiohttp.ClientError, _broken_response),
    (OSError, _broken_response),
)


def translate(exc: BaseException) -> Failure:
    for kind, handler in _TRANSLATIONS:
        if isinstance(exc, kind):
            return handler(exc)
    raise exc


@dataclass(slots=True)
class _Handshake:
    """What the TLS handshake of one request showed, recorded while the connection is open."""

    version: str | None = None
    der: bytes | None = field(default=None, repr=False)


_HANDSHAKE: ContextVar[_Handshake | None] = ContextVar("hsts_coverage_handshake", default=None)


class _RecordingConnector(aiohttp.TCPConnector):
    """Records the TLS version and leaf certificate of each new connection for its request.

    aiohttp releases (and with force_close, closes) a connection as soon as a short body has
    arrived, often before the caller sees the response, so the facts are taken at connect time.
    """

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> Any:
        transport, protocol = await super()._wrap_create_connection(*args, **kwargs)
        handshake = _HANDSHAKE.get()
        ssl_object = transport.get_extra_info("ssl_object")
        if handshake is not None and ssl_object is not None:
            handshake.version = ssl_object.version()
            handshake.der = ssl_object.getpeercert(binary_form=True)
        return transport, protocol


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    location: str | None
    sts: tuple[str, ...]
    handshake: _Handshake


class Prober:
    """Holds the scan's one aiohttp session; create inside the running loop, `close()` after."""

    def __init__(
        self,
        *,
        ca_bundle: Path | None,
        resolver: ScanResolver,
        timeout: float,
        max_redirects: int,
        user_agent: str,
    ) -> None:
        self._ca_bundle = ca_bundle
        self._resolver = resolver
        self._timeout = timeout
        self._max_redirects = max_redirects
        ssl_context = verified_context(ca_bundle)
        # Hosts whose chain verifies only with an intermediate fetched from its AIA URL, and the
        # contexts that trust those intermediates (one per URL: many hosts share one).
        self._host_contexts: dict[str, ssl.SSLContext] = {}
        self._aia_contexts: dict[str, ssl.SSLContext | None] = {}
        self._lenient: ssl.SSLContext | None = None
        # force_close: every host is visited once, so aiohttp's keep-alive pool would only hold
        # finished TLS connections in memory (hundreds of MiB over a large scan).
        connector = _RecordingConnector(
            ssl=ssl_context, resolver=resolver, use_dns_cache=False, force_close=True, limit=0
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": user_agent, "Accept": "*/*"},
            auto_decompress=False,
            trust_env=False,  # a proxy from the environment would not see what users see
            timeout=aiohttp.ClientTimeout(total=timeout),
            # Browsers accept up to 256 KiB of headers (Chrome); these bound the memory a
            # hostile server can make one probe hold to about 13 MiB.
            max_line_size=MAX_HEADER_LINE,
            max_field_size=MAX_HEADER_LINE,
            max_headers=MAX_HEADERS,
        )

    async def close(self) -> None:
        await self._session.close()

    async def probe(self, name: str, address: str, domain: str) -> Probe:
        with self._resolver.pinned(name, address):
            https, http = await asyncio.gather(self._https(name, address), self._http(name))
            walk = None
            if https.outcome is Outcome.OK and is_redirect(https.status):
                walk = await self._walk(f"https://{name}/", https, domain)
        return Probe(address, https, http, walk)

    async def _get(self, url: str, context: ssl.SSLContext | None = None) -> _Answer:
        handshake = _Handshake()
        token = _HANDSHAKE.set(handshake)
        host = URL(url).host or ""
        tls: ssl.SSLContext | bool = context or self._host_contexts.get(host) or True
        try:
            async with self._session.get(url, allow_redirects=False, ssl=tls) as response:
                location = response.headers.get("Location")
                return _Answer(
                    response.status,
                    without_credentials(location) if location else None,
                    tuple(response.headers.getall("Strict-Transport-Security", ())),
                    handshake,
                )
        finally:
            _HANDSHAKE.reset(token)

    async def fetch(self, url: str) -> Response:
        """One request, no redirect followed; a failure is part of the answer."""
        try:
            answer = await self._get(url)
        except Exception as exc:
            failure = translate(exc)
            return Response(
                url,
                None,
                error=failure.detail,
                cert_invalid=failure.outcome is Outcome.CERT_INVALID,
                refused=failure.outcome is Outcome.REFUSED,
            )
        return Response(url, answer.status, answer.location, answer.sts)

    async def follow(self, url: str, *, hops: int) -> tuple[Response, ...]:
        """Follow redirects exactly as given (no HSTS upgrade), up to `hops` of them."""
        chain = [await self.fetch(url)]
        while len(chain) <= hops and is_redirect(chain[-1].status) and chain[-1].location:
            step = urljoin(chain[-1].url, chain[-1].location)
            if not step.startswith(("http://", "https://")) or step in (r.url for r in chain):
                break
            chain.append(await self.fetch(step))
        return tuple(chain)

    async def _https(
        self, name: str, address: str, context: ssl.SSLContext | None = None
    ) -> HttpsFacts:
        started = time.perf_counter()
        try:
            answer = await self._get(f"https://{name}/", context)
        except Exception as exc:
            failure = translate(exc)
            return await self._https_failure(name, address, failure, started, context is None)
        handshake = answer.handshake
        return HttpsFacts(
            Outcome.OK,
            tls_version=handshake.version,
            cert=parse_certificate(handshake.der) if handshake.der else None,
            status=answer.status,
            location=answer.location,
            sts=answer.sts,
            elapsed_ms=_ms_since(started),
        )

    async def _https_failure(
        self, name: str, address: str, failure: Failure, started: float, may_fetch_issuer: bool
    ) -> HttpsFacts:
        cert, version = None, None
        if failure.outcome in (Outcome.CERT_INVALID, Outcome.TLS_FAILED):
            # One more handshake, unverified and permissive, shows what the server presents and
            # which TLS version it speaks at all.
            cert, version = await read_leaf(address, name, budget=self._timeout)
        missing_issuer = failure.verify_code in _MISSING_ISSUER
        if may_fetch_issuer and missing_issuer and cert and cert.ca_issuers:
            completed = await self._with_fetched_issuer(name, address, cert.ca_issuers[0])
            if completed is not None:
                return completed
        hidden: tuple[Finding, ...] = ()
        if failure.verify_code in SECURITY_LEVEL_CODES:
            hidden = await self._hidden_failures(name)
        reason = failure.reason
        if reason is None and failure.outcome is Outcome.TIMEOUT:
            reason = Reason.HTTPS_TIMEOUT
        elif reason is None and failure.outcome is Outcome.REFUSED:
            reason = Reason.HTTPS_REFUSED
        return HttpsFacts(
            failure.outcome,
            reason=reason,
            detail=failure.detail,
            tls_version=version,
            cert=cert,
            verify_code=failure.verify_code,
            hidden_failures=hidden,
            elapsed_ms=_ms_since(started),
        )

    async def _hidden_failures(self, name: str) -> tuple[Finding, ...]:
        if self._lenient is None:
            self._lenient = lenient_context(self._ca_bundle)
        try:
            await self._get(f"https://{name}/", self._lenient)
        except Exception as exc:
            failure = translate(exc)
            if failure.outcome is Outcome.CERT_INVALID and failure.reason is not None:
                return (Finding(failure.reason, failure.detail),)
        return ()

    async def _with_fetched_issuer(self, name: str, address: str, url: str) -> HttpsFacts | None:
        """Retry HTTPS trusting the intermediate from the leaf's AIA URL, as browsers do."""
        context = await self._aia_context(url)
        if context is None:
            return None
        facts = await self._https(name, address, context)
        if facts.outcome is not Outcome.OK:
            return None
        self._host_contexts[name] = context  # the redirect walk's hops to this host need it too
        return replace(facts, chain_completed_from=url)

    async def _aia_context(self, url: str) -> ssl.SSLContext | None:
        if url not in self._aia_contexts:
            der = await self._fetch_issuer(url)
            self._aia_contexts[url] = self._trusting(der) if der else None
        return self._aia_contexts[url]

    async def _fetch_issuer(self, url: str) -> bytes | None:
        # The URL comes from an untrusted certificate: same address guard, size and time limits.
        host = URL(url).host or ""
        if URL(url).scheme != "http" or not self._resolver.permits_literal(host):
            return None
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                if response.status != 200:
                    return None
                body = await response.content.read(MAX_ISSUER_BYTES + 1)
        except Exception as exc:
            translate(exc)  # re-raises anything that is not a network failure
            return None
        return body if len(body) <= MAX_ISSUER_BYTES else None

    def _trusting(self, issuer: bytes) -> ssl.SSLContext | None:
        context = verified_context(self._ca_bundle)
        try:
            context.load_verify_locations(cadata=issuer_der(issuer))
        except (ssl.SSLError, ValueError):
            return None
        return context

    async def _http(self, name: str) -> HttpFacts:
        started = time.perf_counter()
        try:
            answer = await self._get(f"http://{name}/")
        except Exception as exc:
            failure = translate(exc)
            return HttpFacts(failure.outcome, failure.detail, elapsed_ms=_ms_since(started))
        return HttpFacts(Outcome.OK, "", answer.status, answer.location, _ms_since(started))

    async def _walk(self, start: str, first: HttpsFacts, domain: str) -> RedirectWalk:
        """Follow HTTPS redirects as a browser enforcing HSTS on `domain` would."""
        hops = [Hop(start, first.status, first.location)]
        visited = {visit_key(start)}
        current, status, location = start, first.status, first.location
        for _ in range(self._max_redirects):
            if not is_redirect(status) or not location:
                return RedirectWalk(WalkEnd.PAGE, tuple(hops))
            step = next_step(current, location, domain)
            if step.kind is StepKind.LEFT_SCOPE:
                return RedirectWalk(WalkEnd.LEFT_SCOPE, tuple(hops), step.url)
            if step.kind is StepKind.INVALID:
                return RedirectWalk(WalkEnd.PAGE, tuple(hops), step.detail)
            if visit_key(step.url) in visited:
                return _cycle(tuple(hops), location, step.url, step.upgraded)
            visited.add(visit_key(step.url))
            hop = await self._hop(step.url, step.upgraded)
            hops.append(hop)
            if hop.failure is not None:
                return _failed_hop(tuple(hops), hop)
            current, status, location = step.url, hop.status, hop.location
        if is_redirect(status) and location:
            detail = f"more than {self._max_redirects} redirects"
            return RedirectWalk(WalkEnd.TOO_MANY, tuple(hops), detail)
        return RedirectWalk(WalkEnd.PAGE, tuple(hops))

    async def _hop(self, url: str, upgraded: bool) -> Hop:
        try:
            answer = await self._get(url)
        except Exception as exc:
            failure = translate(exc)
            reason = failure.reason or _no_connection(failure.outcome)
            return Hop(url, upgraded=upgraded, failure=reason, detail=failure.detail)
        return Hop(url, answer.status, answer.location, upgraded)


MAX_HEADER_LINE = 128 * 1024
MAX_HEADERS = 100

# OpenSSL verify codes for "the issuer of a certificate in the chain is missing".
_MISSING_ISSUER = frozenset({2, 20, 21})
MAX_ISSUER_BYTES = 64 * 1024


def _no_connection(outcome: Outcome) -> Reason:
    return Reason.HTTPS_TIMEOUT if outcome is Outcome.TIMEOUT else Reason.HTTPS_REFUSED


def _cycle(hops: tuple[Hop, ...], location: str, url: str, upgraded: bool) -> RedirectWalk:
    if upgraded:
        detail = f"redirects to {location}, which HSTS rewrites to {url}, already visited"
        return RedirectWalk(WalkEnd.TO_HTTP, hops, detail)
    return RedirectWalk(WalkEnd.LOOP, hops, f"redirects back to {url}")


def _failed_hop(hops: tuple[Hop, ...], hop: Hop) -> RedirectWalk:
    if hop.failure is Reason.PRIVATE_ADDRESS:
        return RedirectWalk(WalkEnd.UNVERIFIED, hops, f"{hop.url}: {hop.detail}")
    failure = hop.failure.value if hop.failure else "failed"
    return RedirectWalk(WalkEnd.TARGET_BREAKS, hops, f"{hop.url}: {failure} ({hop.detail})")


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
