"""Probe one host: HTTPS and HTTP `GET /` side by side, then the redirect walk.

Contract: `Prober.probe(name, address, domain)` connects to the given address with SNI and Host
set to the name, never follows redirects itself, reads headers and no body, and returns a `Probe`.
Connection failures become data (`probe.failures.translate`: a `Failure`, kept in the facts),
which the pure `rules.failures` reduces to the reason a browser would give, and `rules.redirects`
says where a walk ends; only bugs raise. No reason is chosen here. Every name the walk
meets is resolved by the scan's own `Resolver`, through the same private-address guard.
Requests go through `http1` (one request per connection, head only): cheaper per host than a
general HTTP client, which is what a scan of thousands of hosts spends its CPU on.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ada_url import URL

from hsts_coverage.models import (
    Certificate,
    Failure,
    Hop,
    HttpFacts,
    HttpsFacts,
    Outcome,
    Probe,
    RedirectWalk,
    Response,
    Revocation,
    RevocationStatus,
    WalkEnd,
)
from hsts_coverage.probe.failures import MISSING_ISSUER, SECURITY_LEVEL_CODES, diagnose, translate
from hsts_coverage.probe.http1 import PeerReader, fetch
from hsts_coverage.probe.http_messages import MAX_BODY, Head, Request
from hsts_coverage.probe.limits import ConnectionLimits
from hsts_coverage.probe.reach import (
    ConnectTimeoutError,
    Reachability,
    SharedOutcome,
)
from hsts_coverage.probe.tls import (
    Presented,
    VerifiedCertificates,
    lenient_context,
    read_leaf,
    verified_context,
)
from hsts_coverage.resolve import AddressBook
from hsts_coverage.rules.redirects import (
    cycle_end,
    failed_hop_end,
    is_redirect,
    next_step,
    resolve_location,
    step_end,
    too_many_end,
    visit_key,
    without_credentials,
)

if TYPE_CHECKING:
    from hsts_coverage.probe.revocation import Checker


class Prober:
    """What every probe of a scan shares: the trust store, the address book, the limits."""

    def __init__(
        self,
        *,
        ca_bundle: Path | None,
        addresses: AddressBook,
        timeout: float,
        max_redirects: int,
        user_agent: str,
        limits: ConnectionLimits | None = None,
        connect_timeout: float | None = None,
    ) -> None:
        self._ca_bundle = ca_bundle
        self._addresses = addresses
        self._limits = limits or ConnectionLimits()
        self.reach = Reachability()  # one wait per dead address and port, not one per name
        self._timeout = timeout
        # A connect's first try; one that times out gets one more at the full `timeout`.
        self._connect_timeout = min(connect_timeout or timeout, timeout)
        self._max_redirects = max_redirects
        self._user_agent = user_agent
        self._verified = verified_context(ca_bundle)
        self._certificates = VerifiedCertificates()
        # Hosts whose chain verifies only with an intermediate fetched from its AIA URL, and the
        # contexts that trust those intermediates (one per URL: many hosts share one).
        self._host_contexts: dict[str, ssl.SSLContext] = {}
        self._aia_contexts: dict[str, ssl.SSLContext | None] = {}
        self._lenient: ssl.SSLContext | None = None
        self._revocations: Checker | None = None

    async def probe(self, name: str, address: str, domain: str) -> Probe:
        with self._addresses.pinned(name, address):
            plain = asyncio.create_task(self._http(name))  # side by side with HTTPS
            try:
                https = await self._https(name, address)
            except BaseException:
                plain.cancel()
                raise
            http = await plain
            walk = None
            if https.outcome is Outcome.OK and is_redirect(https.status):
                walk = await self._walk(f"https://{name}/", https, domain)
        return Probe(address, https, http, walk)

    async def _get(
        self,
        url: str,
        context: ssl.SSLContext | None = None,
        *,
        want_body: bool = False,
        max_body: int = MAX_BODY,
    ) -> Head:
        # Only URLs the WHATWG parser accepted come here (`resolve_location`), A-labels as sent.
        target = URL(url)
        return await self._get_at(
            target.hostname.rstrip("."),
            secure=target.protocol == "https:",
            port=int(target.port) if target.port else None,
            path=(target.pathname or "/") + target.search,
            context=context,
            want_body=want_body,
            max_body=max_body,
        )

    async def _get_at(
        self,
        host: str,
        *,
        secure: bool,
        port: int | None = None,
        path: str = "/",
        context: ssl.SSLContext | None = None,
        want_body: bool = False,
        max_body: int = MAX_BODY,
        certificate: bool = False,
    ) -> Head:
        """`GET path` from `host`; the two requests every host gets come here without a URL.
        With `certificate`, the verified peer's certificate is decoded into the head (only the
        host's own HTTPS probe needs it: the apex check, redirect hops and retries do not, and
        a process that never decodes one never loads cryptography)."""
        tls = (context or self._host_contexts.get(host) or self._verified) if secure else None
        peer = self._certificates if certificate else None
        request = Request(
            address=await self._addresses.address_for(host),
            port=port or (443 if secure else 80),
            host=host,
            path=path,
            user_agent=self._user_agent,
        )
        try:
            first = self._connect_timeout
            return await self._attempt(request, tls, want_body, max_body, first, peer)
        except (ConnectTimeoutError, SharedOutcome) as exc:
            if self._connect_timeout >= self._timeout or not _connect_timed_out(exc):
                raise
        second = self._timeout  # the second try
        return await self._attempt(request, tls, want_body, max_body, second, peer)

    async def _attempt(
        self,
        request: Request,
        tls: ssl.SSLContext | None,
        want_body: bool,
        max_body: int,
        connect: float,
        peer: PeerReader | None,
    ) -> Head:
        """One try, through the table of dead addresses; `connect` bounds the TCP connect.

        `--per-ip` counts established connections: where the address and port are known to
        answer, the slot is taken before connecting; the first attempt on them (the only one
        until it ends: `Reachability`) takes it once the server has answered, so that a tarpit's
        hanging handshake holds none and the names behind it do not queue for slots."""

        async def attempt(established: Callable[[], None] | None) -> Head:
            slot = self._limits.connection(request.address, when_answered=bool(established))
            async with slot:

                async def answered() -> None:
                    assert established is not None
                    established()  # first: the names waiting on it queue for slots after it
                    await slot.take()

                return await fetch(
                    request,
                    tls=tls,
                    deadline=self._timeout,
                    want_body=want_body,
                    read_peer=peer,
                    connect_timeout=connect if connect < self._timeout else None,
                    established=answered if established else None,
                    max_body=max_body,
                )

        address, port = request.address, request.port
        return await self.reach.attempt(address, port, connect, request.host, attempt)

    async def fetch(self, url: str) -> Response:
        """One request, no redirect followed; a failure is part of the answer."""
        try:
            head = await self._get(url)
        except Exception as exc:
            failure = translate(exc)
            return Response(
                url,
                None,
                error=failure.detail,
                cert_invalid=failure.outcome is Outcome.CERT_INVALID,
                refused=failure.outcome is Outcome.REFUSED,
            )
        return Response(url, head.status, _location(head), head.get_all(_STS))

    async def _https(
        self, name: str, address: str, context: ssl.SSLContext | None = None
    ) -> HttpsFacts:
        started = time.perf_counter()
        try:
            head = await self._get_at(name, secure=True, context=context, certificate=True)
        except Exception as exc:
            failure = translate(exc)
            return await self._https_failure(name, address, failure, started, context is None)
        cert = head.peer_certificate
        revocation = await self._revocation(cert) if cert and cert.chain_der else None
        return HttpsFacts(
            Outcome.OK,
            tls_version=head.tls_version,
            alpn=head.alpn,
            revocation=revocation,
            cert=cert,
            status=head.status,
            location=_location(head),
            sts=head.get_all(_STS),
            elapsed_ms=_ms_since(started),
        )

    async def _https_failure(
        self, name: str, address: str, failure: Failure, started: float, may_fetch_issuer: bool
    ) -> HttpsFacts:
        presented = Presented()
        if failure.outcome in (Outcome.CERT_INVALID, Outcome.TLS_FAILED):
            # One more handshake, unverified and permissive, shows what the server presents and
            # which TLS version and cipher suite it speaks at all.
            async with self._limits.connection(address):  # a connection like any other
                presented = await read_leaf(address, name, budget=self._timeout)
        cert = presented.cert
        missing_issuer = failure.verify_code in MISSING_ISSUER
        if may_fetch_issuer and missing_issuer and cert and cert.ca_issuers:
            completed = await self._with_fetched_issuer(name, address, cert.ca_issuers[0])
            if completed is not None:
                return completed
        hidden: tuple[Failure, ...] = ()
        if failure.verify_code in SECURITY_LEVEL_CODES:
            hidden = await self._hidden_failures(name)
        failure = diagnose(failure, presented)
        return HttpsFacts(
            failure.outcome,
            failure,
            tls_version=presented.version,
            cipher=presented.cipher,
            cert=cert,
            hidden_failures=hidden,
            elapsed_ms=_ms_since(started),
        )

    async def _revocation(self, cert: Certificate) -> Revocation:
        """The leaf's CRL or OCSP answer, within one timeout; unchecked if none came."""
        if self._revocations is None:
            from hsts_coverage.probe.revocation import Checker  # loads cryptography: rarely needed

            self._revocations = Checker(self._fetch_body)
        try:
            async with asyncio.timeout(self._timeout):
                answer = await self._revocations.check(cert)
        except TimeoutError:
            answer = None
        detail = "no CRL or OCSP answer within the timeout"
        return answer or Revocation(RevocationStatus.UNCHECKED, "", "", detail)

    async def _fetch_body(self, url: str, max_body: int = MAX_BODY) -> bytes | None:
        """The body of a 200 answer to `GET url` over plain HTTP (intermediates, CRLs, OCSP),
        else None. The URL comes from an untrusted certificate: the WHATWG parser must accept
        it, and the same address guard, size and time limits hold as for any request."""
        target = resolve_location(url, url)
        if target is None or target.protocol != "http:":
            return None
        try:
            head = await self._get(url, want_body=True, max_body=max_body)
        except Exception as exc:
            translate(exc)  # re-raises anything that is not a network failure
            return None
        return head.body if head.status == 200 else None

    async def _hidden_failures(self, name: str) -> tuple[Failure, ...]:
        """The certificate failure a verification at security level 0 still finds, if any."""
        if self._lenient is None:
            self._lenient = lenient_context(self._ca_bundle)
        try:
            await self._get_at(name, secure=True, context=self._lenient)
        except Exception as exc:
            failure = translate(exc)
            if failure.outcome is Outcome.CERT_INVALID:
                return (failure,)
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
            der = await self._fetch_body(url)
            self._aia_contexts[url] = self._trusting(der) if der else None
        return self._aia_contexts[url]

    def _trusting(self, issuer: bytes) -> ssl.SSLContext | None:
        from hsts_coverage.rules.der import issuer_der  # loads cryptography: rarely needed

        context = verified_context(self._ca_bundle)
        try:
            context.load_verify_locations(cadata=issuer_der(issuer))
        except (ssl.SSLError, ValueError):
            return None
        return context

    async def _http(self, name: str) -> HttpFacts:
        started = time.perf_counter()
        try:
            head = await self._get_at(name, secure=False)
        except Exception as exc:
            failure = translate(exc)
            return HttpFacts(failure.outcome, failure.detail, elapsed_ms=_ms_since(started))
        return HttpFacts(Outcome.OK, "", head.status, _location(head), _ms_since(started))

    async def _walk(self, start: str, first: HttpsFacts, domain: str) -> RedirectWalk:
        """Follow HTTPS redirects as a browser enforcing HSTS on `domain` would."""
        hops = [Hop(start, first.status, first.location)]
        visited = {visit_key(start)}
        current, status, location = start, first.status, first.location
        for _ in range(self._max_redirects):
            if not is_redirect(status) or not location:
                return RedirectWalk(WalkEnd.PAGE, tuple(hops))
            step = next_step(current, location, domain)
            end = step_end(step, tuple(hops))
            if end is not None:
                return end
            if visit_key(step.url) in visited:
                return cycle_end(tuple(hops), location, step.url, step.upgraded)
            visited.add(visit_key(step.url))
            hop = await self._hop(step.url, step.upgraded)
            hops.append(hop)
            if hop.failure is not None:
                return failed_hop_end(tuple(hops), hop)
            current, status, location = step.url, hop.status, hop.location
        if is_redirect(status) and location:
            return too_many_end(tuple(hops), self._max_redirects)
        return RedirectWalk(WalkEnd.PAGE, tuple(hops))

    async def _hop(self, url: str, upgraded: bool) -> Hop:
        try:
            head = await self._get(url)
        except Exception as exc:
            return Hop(url, upgraded=upgraded, failure=translate(exc))
        return Hop(url, head.status, _location(head), upgraded)


_STS = "strict-transport-security"


def _location(head: Head) -> str | None:
    location = head.get("location")
    return without_credentials(location) if location is not None else None


def _connect_timed_out(exc: BaseException) -> bool:
    outcome = exc.outcome if isinstance(exc, SharedOutcome) else exc
    return isinstance(outcome, ConnectTimeoutError)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
