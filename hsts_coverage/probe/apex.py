"""The apex check's I/O: what https://apex/ and http://apex/ send today, and whether www answers.

It fetches the apex over HTTPS and HTTP following redirects exactly as they are given (the way
the hstspreload.org checker does), resolves www and tries HTTPS there. `rules.preload.judge_apex`
turns these facts and the domain's place in the preload list (`preload_list`) into the report:
the apex's header checked once, the requirements (and, later, the advice). With worker
processes a worker gathers the facts (`workers`), and the main process judges them.
"""

from __future__ import annotations

from hsts_coverage.models import INVALID_REDIRECT, ApexFacts, DnsStatus, Response
from hsts_coverage.probe.prober import Prober
from hsts_coverage.resolve import AddressPolicy, Resolves
from hsts_coverage.rules.preload import MAX_PRELOAD_REDIRECTS
from hsts_coverage.rules.redirects import is_redirect, resolve_location


async def apex_facts(
    domain: str, *, prober: Prober, resolver: Resolves, policy: AddressPolicy
) -> ApexFacts:
    hops = MAX_PRELOAD_REDIRECTS + 1  # one more than allowed, to see that there are too many
    https_chain = await follow(prober, f"https://{domain}/", hops=hops)
    http_chain = await follow(prober, f"http://{domain}/", hops=hops)
    if http_chain[0].refused:
        http_chain = ()  # nothing on port 80: nothing to redirect
    www_resolves, www_error = await _www(domain, prober, resolver, policy)
    return ApexFacts(domain, https_chain, http_chain, www_resolves, www_error)


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
    domain: str, prober: Prober, resolver: Resolves, policy: AddressPolicy
) -> tuple[bool, str]:
    answer = await resolver.resolve(f"www.{domain}")
    if answer.status is not DnsStatus.RESOLVED:
        return False, ""
    if not any(policy.permits(a) for a in answer.addresses):
        return True, f"www.{domain} resolves to a private address; not checked"
    response = await prober.fetch(f"https://www.{domain}/")
    return True, response.error if response.status is None else ""
