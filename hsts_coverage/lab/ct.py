"""The lab's certificate transparency search: a crt.sh look-alike, a Cert Spotter look-alike,
the lab intermediate's AIA URL, and the lab's stats.

`GET /?q=%25.DOMAIN&output=json` (q decoded: `%.DOMAIN`; `q=DOMAIN` is accepted too, either
case, with or without a trailing dot) answers `application/json`: an array with one record per
certificate the server holds for DOMAIN (the lab domain: `ct_certificates(domain)`; a policy
site: one certificate naming its apex and www; the scale fleet's fleet.test: one certificate per
host), in crt.sh's format:

    {"issuer_ca_id": int, "issuer_name": str, "common_name": str, "name_value": "a\\nb",
     "id": int, "entry_timestamp": "2026-01-02T03:04:05.678", "not_before": "2026-01-02T03:04:05",
     "not_after": "2026-04-02T03:04:05", "serial_number": "lower-case hex", "result_count": int}

`id`s are unique and increasing (across domains too, given `ct_records(..., start=)`);
identical name sets share a serial number (a precertificate and its certificate do on crt.sh);
`result_count` is the number of name_value lines, as crt.sh reports it. Any other domain -> `[]`.
A request without `q` or without `output=json` -> 400.

`GET /v1/issuances?domain=DOMAIN&include_subdomains=true&expand=dns_names[&after=ID]` is Cert
Spotter's API over the same certificates, paginated, with its differences and fault modes (see
`hsts_coverage.lab.certspotter`); `lab_domain` is the domain that gets the extra name only Cert
Spotter knows.

`GET /aia/lab-intermediate.der` serves the lab intermediate CA as DER (`application/pkix-cert`),
as a CA's caIssuers URL does, and `GET /aia/chunked/lab-intermediate.der` the same in chunked
transfer coding (three chunks, no Content-Length); any other `/aia/` path (the dead AIA URL) is
a 404. `GET /crl/lab.crl` serves the lab CA's CRL (DER, `application/pkix-crl`).

Every request outside `/lab/` (AIA fetches included) is recorded (time, path, query as sent,
still percent-encoded, User-Agent, and the Authorization header redacted to its scheme:
"Bearer [redacted]", or "" without one) in `requests` and appended as one JSON line to the log file,
which each start empties. `GET /lab/stats` serves the lab's counters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from hsts_coverage.lab.certs import AIA_CHUNKED_PATH, AIA_INTERMEDIATE_PATH, CRL_PATH
from hsts_coverage.lab.certspotter import PATH as CERTSPOTTER_PATH
from hsts_coverage.lab.certspotter import CertSpotterApi, issuances, redacted
from hsts_coverage.lab.scenarios import LAB_DOMAIN, CtCertificate

log = logging.getLogger(__name__)

_FIRST_ID = 9_000_000_000  # crt.sh ids are this large; makes 32-bit parsing bugs show


@dataclass(frozen=True, slots=True)
class CtRequest:
    time: float
    path: str
    query: str
    user_agent: str
    authorization: str = ""  # redacted: the scheme only


def ct_records(
    certificates: tuple[CtCertificate, ...],
    now: dt.datetime,
    start: int = 0,
    step: dt.timedelta = dt.timedelta(hours=1),
) -> list[dict[str, Any]]:
    """The crt.sh JSON records for `certificates`, the first issued 30 days before `now` and
    each next one `step` later; the first is the `start`-th record the server holds (ids stay
    unique across domains)."""
    return [_record(index, cert, now, step) for index, cert in enumerate(certificates, start=start)]


def _record(
    index: int, cert: CtCertificate, now: dt.datetime, step: dt.timedelta
) -> dict[str, Any]:
    not_before = now.replace(microsecond=0) - dt.timedelta(days=30) + step * index
    logged = not_before + dt.timedelta(hours=1, milliseconds=137 * (index + 1))
    return {
        "issuer_ca_id": _digest_int(cert.issuer) % 1_000_000,
        "issuer_name": cert.issuer,
        "common_name": cert.common_name or cert.names[0],
        "name_value": "\n".join(cert.names),
        "id": _FIRST_ID + index,
        "entry_timestamp": _timestamp(logged, "milliseconds"),
        "not_before": _timestamp(not_before, "seconds"),
        "not_after": _timestamp(not_before + dt.timedelta(days=90), "seconds"),
        "serial_number": hashlib.sha256("\n".join(cert.names).encode()).hexdigest()[:32],
        "result_count": len(cert.names),
    }


def _digest_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _timestamp(moment: dt.datetime, timespec: str) -> str:
    # crt.sh prints UTC without an offset.
    return moment.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec=timespec)


class CtServer:
    """The crt.sh look-alike on `host`:`port`: `records` maps each domain (lower case) to its
    crt.sh records (Cert Spotter's issuances are made from them); `intermediate_der` is served
    at the AIA URL."""

    def __init__(
        self,
        records: Mapping[str, list[dict[str, Any]]],
        intermediate_der: bytes,
        host: str,
        port: int,
        log_path: Path,
        stats: Callable[[bool], Mapping[str, Any]],  # reset_peaks -> the counters
        lab_domain: str = LAB_DOMAIN,
        crl_der: bytes = b"",
    ) -> None:
        self.records = records
        self.certspotter = CertSpotterApi(issuances(records, lab_domain))
        self.intermediate_der = intermediate_der
        self.crl_der = crl_der
        self.host = host
        self.port = port
        self.requests: list[CtRequest] = []
        self._log_path = log_path
        self._stats = stats
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._log_path.write_text("")  # one log per lab run
        app = web.Application(middlewares=[self._record])
        app.router.add_get("/", self._search)
        app.router.add_get(CERTSPOTTER_PATH, self.certspotter.handle)
        app.router.add_get(AIA_INTERMEDIATE_PATH, self._serve_intermediate)
        app.router.add_get(AIA_CHUNKED_PATH, self._serve_intermediate_chunked)
        app.router.add_get(CRL_PATH, self._serve_crl)
        app.router.add_get("/lab/stats", self._serve_stats)
        # Requests are logged by _record; aiohttp's access log would only repeat them.
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/lab/"):
            entry = CtRequest(
                time=time.time(),
                path=request.path,
                query=request.rel_url.raw_query_string,
                user_agent=request.headers.get("User-Agent", ""),
                authorization=redacted(request.headers.get("Authorization")),
            )
            self.requests.append(entry)
            with self._log_path.open("a") as log_file:
                log_file.write(json.dumps(asdict(entry)) + "\n")
            log.info("ct: GET %s?%s (%s)", entry.path, entry.query, entry.user_agent)
        return await handler(request)

    async def _search(self, request: web.Request) -> web.StreamResponse:
        query = request.query.get("q")
        if query is None or request.query.get("output") != "json":
            raise web.HTTPBadRequest(text="the lab serves only ?q=...&output=json\n")
        return web.json_response(self._matching(query))

    def _matching(self, query: str) -> list[dict[str, Any]]:
        domain = query.strip().lower().removeprefix("%.").rstrip(".")
        return self.records.get(domain, [])

    async def _serve_intermediate(self, request: web.Request) -> web.StreamResponse:
        # RFC 5280 section 4.2.2.1: a caIssuers URL over HTTP serves one DER certificate.
        return web.Response(body=self.intermediate_der, content_type="application/pkix-cert")

    async def _serve_crl(self, request: web.Request) -> web.StreamResponse:
        # RFC 5280 section 4.2.1.13: an HTTP CRL distribution point serves one DER CRL.
        return web.Response(body=self.crl_der, content_type="application/pkix-crl")

    async def _serve_intermediate_chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/pkix-cert"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        third = len(self.intermediate_der) // 3 + 1
        for start in range(0, len(self.intermediate_der), third):
            await response.write(self.intermediate_der[start : start + third])
        await response.write_eof()
        return response

    async def _serve_stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(dict(self._stats("reset_peaks" in request.query)))
