"""The lab's Cert Spotter look-alike: `GET /v1/issuances`, served by the lab's CT server.

`?domain=D&include_subdomains=true&expand=dns_names&expand=issuer[&after=ID]` answers a JSON
array of at most `PAGE_SIZE` issuances, those with an id above ID (ids compared as numbers);
past the last one, `[]`. D is matched in any case, with or without a trailing dot; without
`include_subdomains=true` only issuances naming D itself are listed; a domain the server does
not hold -> `[]`. Each issuance:

    {"id": "10000000003", "tbs_sha256": hex, "cert_sha256": hex, "pubkey_sha256": hex,
     "not_before": "2026-01-02T03:04:05Z", "not_after": "2026-04-02T03:04:05Z",
     "revoked": false, "dns_names": [...], "issuer": {"friendly_name": "HSTS Lab CA",
     "name": "C=US, O=HSTS Lab, CN=HSTS Lab CA", "pubkey_sha256": hex}}

`dns_names` and `issuer` only when `expand` asks for them, as on the real API. Ids are decimal
strings, increasing across domains, and cross a power of ten (9999999999 -> 10000000000), so
that comparing them as strings goes wrong. A request without `domain` or with an `after` that
is not an id -> 400; every error is an object `{"code": "...", "message": "..."}`.

The issuances are the crt.sh look-alike's records (`records`), with the differences between
the two services that a scanner must live with:

- a precertificate and its certificate are one issuance (records sharing a serial number);
- `dns_names` holds DNS names only: e-mail addresses and IP literals are left out, and a
  certificate left with none is not listed;
- the lab domain has one more issuance, naming `ONLY_CERTSPOTTER` under it: a name crt.sh
  does not know.

Fault modes, one domain each (`FAULT_DOMAINS`, five issuances `h1` to `h5` under each, so two
pages and the empty one), chosen by the domain since the client builds the URL:

- `certspotter-429.test`: the first page is answered 429 with `Retry-After: 1` and an error
  object every other time it is asked for (the 1st, 3rd, ... time);
- `certspotter-error.test`: the second page is answered 429 with the error object
  `{"code": "rate_limited", ...}` and no Retry-After the first time each listing asks for it
  (a request for the first page starts a listing);
- `certspotter-forbidden.test`: every page is 403 with `{"code": "forbidden", ...}`;
- `certspotter-key.test`: every page is 401 `{"code": "unauthorized", ...}` unless the request
  carries `Authorization: Bearer <key>` (any key);
- `certspotter-endless.test`: never an empty page: after any id, the three ids that follow it
  (these ids count on from `after`, apart from the others).

A faulty first page fails on alternate requests, counted since the lab started: a listing that
gives up there leaves the next one to succeed at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

PATH = "/v1/issuances"
PAGE_SIZE = 3
ONLY_CERTSPOTTER = "only-certspotter"  # the label of the name only Cert Spotter knows
ENDLESS_DOMAIN = "certspotter-endless.test"
KEY_DOMAIN = "certspotter-key.test"
_FIRST_ID = 9_999_999_990  # the tenth id has eleven digits
_FAULT_NAMES = 5


@dataclass(frozen=True, slots=True)
class Fault:
    """How one page of a fault domain fails: `page` 1 is the first, 2 the next."""

    page: int
    status: int
    code: str
    message: str
    retry_after: str | None = None
    every_time: bool = False


FAULTS: dict[str, Fault] = {
    "certspotter-429.test": Fault(1, 429, "rate_limited", "slow down", retry_after="1"),
    "certspotter-error.test": Fault(2, 429, "rate_limited", "You have exceeded the rate limit"),
    "certspotter-forbidden.test": Fault(
        1, 403, "forbidden", "Your API key may not query this domain", every_time=True
    ),
}
FAULT_DOMAINS = (*FAULTS, KEY_DOMAIN, ENDLESS_DOMAIN)


def issuances(
    records: Mapping[str, list[dict[str, Any]]], lab_domain: str
) -> dict[str, list[dict[str, Any]]]:
    """Domain -> its issuances, fully expanded, from the crt.sh look-alike's `records`; the
    lab domain gets its extra issuance, and every fault domain but the endless one its five."""
    ids = _ids()
    listed = {domain: _coalesced(found, ids) for domain, found in records.items()}
    if lab_domain in listed:
        listed[lab_domain].append(_only_certspotter(lab_domain, listed[lab_domain], ids))
    for domain in FAULT_DOMAINS:
        if domain != ENDLESS_DOMAIN:
            listed[domain] = [_made((name,), next(ids)) for name in _names(domain)]
    return listed


def _names(domain: str) -> tuple[str, ...]:
    return tuple(f"h{n}.{domain}" for n in range(1, _FAULT_NAMES + 1))


def _ids() -> Iterator[int]:
    n = _FIRST_ID
    while True:
        yield n
        n += 1


def _coalesced(records: list[dict[str, Any]], ids: Iterator[int]) -> list[dict[str, Any]]:
    """One issuance per serial number (precertificate and certificate), DNS names only."""
    found: list[dict[str, Any]] = []
    serials: set[str] = set()
    for record in sorted(records, key=lambda r: int(r["id"])):
        names = [n for n in str(record["name_value"]).split("\n") if _is_dns_name(n)]
        if record["serial_number"] in serials or not names:
            continue
        serials.add(record["serial_number"])
        found.append(_issuance(record, names, next(ids)))
    return found


def _is_dns_name(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return "@" not in name
    return False


def _issuance(record: dict[str, Any], names: list[str], issuance_id: int) -> dict[str, Any]:
    issuer = str(record["issuer_name"])
    return {
        "id": str(issuance_id),
        "tbs_sha256": _sha256("tbs", record["serial_number"]),
        "cert_sha256": _sha256("cert", record["serial_number"]),
        "pubkey_sha256": _sha256("key", *names),
        "not_before": f"{record['not_before']}Z",
        "not_after": f"{record['not_after']}Z",
        "revoked": False,
        "dns_names": names,
        "issuer": {
            "friendly_name": _common_name(issuer),
            "name": issuer,
            "pubkey_sha256": _sha256("issuer", issuer),
        },
    }


def _only_certspotter(
    domain: str, listed: list[dict[str, Any]], ids: Iterator[int]
) -> dict[str, Any]:
    """A copy of the domain's newest issuance, for the name only Cert Spotter knows."""
    made = _made((f"{ONLY_CERTSPOTTER}.{domain}",), next(ids))
    if listed:
        newest = listed[-1]
        made |= {key: newest[key] for key in ("not_before", "not_after", "issuer")}
    return made


def _made(names: tuple[str, ...], issuance_id: int) -> dict[str, Any]:
    serial = _sha256("made", *names)[:32]
    record = {
        "name_value": "\n".join(names),
        "serial_number": serial,
        "issuer_name": "C=US, O=HSTS Lab, CN=HSTS Lab CA",
        "not_before": "2026-01-01T00:00:00",
        "not_after": "2026-04-01T00:00:00",
    }
    return _issuance(record, list(names), issuance_id)


def _common_name(issuer: str) -> str:
    for part in issuer.split(","):
        key, _, value = part.strip().partition("=")
        if key == "CN":
            return value
    return issuer


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class CertSpotterApi:
    """The `/v1/issuances` handler over `listed` (from `issuances`)."""

    def __init__(self, listed: Mapping[str, list[dict[str, Any]]]) -> None:
        self.listed = listed
        self._asked: Counter[str] = Counter()  # requests for a fault domain's faulty page

    async def handle(self, request: web.Request) -> web.StreamResponse:
        domain = request.query.get("domain", "").strip().lower().rstrip(".")
        after = request.query.get("after")
        if not domain:
            return error(400, "bad_request", "the domain parameter is required")
        if after is not None and not after.isdigit():
            return error(400, "bad_request", f"after={after!r} is not an issuance id")
        refused = self._refused(request, domain, after)
        if refused is not None:
            return refused
        page = self._page(domain, after, request.query.get("include_subdomains") == "true")
        expand = set(request.query.getall("expand", []))
        return web.json_response([_expanded(issuance, expand) for issuance in page])

    def _refused(self, request: web.Request, domain: str, after: str | None) -> web.Response | None:
        if domain == KEY_DOMAIN and not _has_bearer(request.headers.get("Authorization", "")):
            return error(401, "unauthorized", "this domain needs an API key")
        fault = FAULTS.get(domain)
        if fault is None:
            return None
        if after is None and fault.page > 1:
            self._asked[domain] = 0  # a new listing: its faulty page fails once more
        if after != self._after_for(domain, fault.page):
            return None
        self._asked[domain] += 1
        if not fault.every_time and self._asked[domain] % 2 == 0:
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        return error(fault.status, fault.code, fault.message, headers)

    def _after_for(self, domain: str, page: int) -> str | None:
        """The `after` that asks for `page` of `domain`'s listing."""
        if page == 1:
            return None
        return str(self.listed[domain][(page - 1) * PAGE_SIZE - 1]["id"])

    def _page(self, domain: str, after: str | None, subdomains: bool) -> list[dict[str, Any]]:
        start = int(after) if after is not None else 0
        if domain == ENDLESS_DOMAIN:
            first = max(start, _FIRST_ID - 1) + 1
            return [_made((f"n{i}.{domain}",), i) for i in range(first, first + PAGE_SIZE)]
        listed = self.listed.get(domain, [])
        if not subdomains:
            listed = [i for i in listed if domain in (n.lower() for n in i["dns_names"])]
        # Ids increase along the listing: a page is a slice, found in log time (a fleet is long).
        first = bisect_right(listed, start, key=lambda issuance: int(issuance["id"]))
        return listed[first : first + PAGE_SIZE]


def _expanded(issuance: dict[str, Any], expand: set[str]) -> dict[str, Any]:
    hidden = {"dns_names", "issuer"} - expand
    return {key: value for key, value in issuance.items() if key not in hidden}


def _has_bearer(value: str) -> bool:
    scheme, _, key = value.partition(" ")
    return scheme.lower() == "bearer" and bool(key.strip())


def error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """Cert Spotter's error answer: `{"code": ..., "message": ...}`."""
    return web.json_response({"code": code, "message": message}, status=status, headers=headers)


def redacted(authorization: str | None) -> str:
    """What the request log keeps of an Authorization header: its scheme, never the key."""
    if not authorization:
        return ""
    scheme, _, _ = authorization.partition(" ")
    return f"{scheme} [redacted]" if scheme.lower() == "bearer" else "[redacted]"
