"""The apex check: what https://apex/ sends today, and where it stands against the preload list.

I/O only: it fetches the apex over HTTPS and HTTP following redirects exactly as they are given
(the way the hstspreload.org checker does), resolves www and tries HTTPS there, and looks the
domain up in the preload list. `rules.preload.judge_apex` turns these facts into the report: the
apex's header checked once, the requirements (and, later, the advice).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import hstspreload

from hsts_coverage.models import (
    INVALID_REDIRECT,
    ApexFacts,
    ApexReport,
    DnsStatus,
    PreloadEntry,
    PreloadStatus,
    Response,
)
from hsts_coverage.probe.prober import Prober
from hsts_coverage.resolve import AddressPolicy, Resolver
from hsts_coverage.rules.preload import MAX_PRELOAD_REDIRECTS, judge_apex, lookup, lookup_with
from hsts_coverage.rules.redirects import is_redirect, resolve_location


async def check_apex(
    domain: str,
    *,
    prober: Prober,
    resolver: Resolver,
    policy: AddressPolicy,
    preload_list: Mapping[str, PreloadEntry] | None,
) -> ApexReport:
    hops = MAX_PRELOAD_REDIRECTS + 1  # one more than allowed, to see that there are too many
    https_chain = await follow(prober, f"https://{domain}/", hops=hops)
    http_chain = await follow(prober, f"http://{domain}/", hops=hops)
    if http_chain[0].refused:
        http_chain = ()  # nothing on port 80: nothing to redirect
    www_resolves, www_error = await _www(domain, prober, resolver, policy)
    facts = ApexFacts(domain, https_chain, http_chain, www_resolves, www_error)
    return judge_apex(facts, preload_status(domain, preload_list))


async def follow(prober: Prober, url: str, *, hops: int) -> tuple[Response, ...]:
    """Follow redirects exactly as given (no HSTS upgrade), up to `hops` of them."""
    chain = [await prober.fetch(url)]
    while len(chain) <= hops and is_redirect(chain[-1].status) and chain[-1].location:
        location = chain[-1].location
        target = resolve_location(chain[-1].url, location)
        if target is None:  # a browser refuses to follow it: the chain fails here
            error = f"{INVALID_REDIRECT}: {location!r} is not a URL a browser follows"
            chain.append(Response(location, None, error=error))
            break
        step = target.href
        if target.protocol not in ("http:", "https:") or step in (r.url for r in chain):
            break
        chain.append(await prober.fetch(step))
    return tuple(chain)


async def _www(
    domain: str, prober: Prober, resolver: Resolver, policy: AddressPolicy
) -> tuple[bool, str]:
    answer = await resolver.resolve(f"www.{domain}")
    if answer.status is not DnsStatus.RESOLVED:
        return False, ""
    if not any(policy.permits(a) for a in answer.addresses):
        return True, f"www.{domain} resolves to a private address; not checked"
    response = await prober.fetch(f"https://www.{domain}/")
    return True, response.error if response.status is None else ""


def preload_status(domain: str, entries: Mapping[str, PreloadEntry] | None) -> PreloadStatus:
    """From the user's Chromium list file when given, else from the hstspreload package."""
    if entries is not None:
        return lookup(domain, entries, "--preload-list file")
    source = f"hstspreload package {hstspreload.__version__}"
    return lookup_with(domain, _in_package_list, source)


def _in_package_list(name: str) -> bool:
    # The package reads its data with importlib.resources.open_binary, deprecated since 3.11.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(hstspreload.in_hsts_preload(name))
