"""Names that most often exist: common labels resolved under the domain.

A host that never had a certificate is invisible to certificate transparency, yet `blog.`,
`dev.`, `staging.`, `intranet.` exist under a great many domains. Without a zone file or a zone
transfer, asking DNS for the common labels is the only way to find them.

The shipped list (`data/subdomains-top1million-5000.txt`) is SecLists'
`Discovery/DNS/subdomains-top1million-5000.txt` (MIT licence): the most frequent labels of a
measured top-million list. `--guess-list FILE` replaces it.

Only names that resolve become hosts. Under wildcard DNS every label resolves, so a guessed name
whose addresses are the wildcard's own (the random-label probe's answer) is not a finding.
NXDOMAIN answers are cheap, so guesses are resolved many at a time apart
from the probes' limit (`--guess-concurrency`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources

from hsts_coverage.models import DnsAnswer, DnsStatus
from hsts_coverage.resolve import Resolver

_LIST = "subdomains-top1million-5000.txt"


@dataclass(frozen=True, slots=True)
class Guesses:
    tried: int
    found: tuple[str, ...]  # names that resolved, not to the wildcard's addresses
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # of each found name
    wildcard_answered: int = 0  # names answered only by the zone's wildcard
    errors: int = 0  # names whose DNS failed (SERVFAIL, time-out): neither found nor ruled out


def shipped_labels() -> tuple[str, ...]:
    """Read at each use (about 1 ms), not cached: kept, its 5,000 labels would stay for the
    whole scan after the guessing is over."""
    data = resources.files("hsts_coverage.sources").joinpath("data", _LIST)
    return parse_labels(data.read_text(encoding="utf-8"))


def parse_labels(text: str) -> tuple[str, ...]:
    """Labels one a line (`#` comments, blank lines ignored), lower case, without duplicates."""
    lines = (line.split("#", 1)[0].strip().lower().strip(".") for line in text.splitlines())
    return tuple(dict.fromkeys(line for line in lines if line))


def candidates(labels: Iterable[str], domain: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"{label}.{domain}" for label in labels))


async def guess(
    names: Sequence[str],
    resolver: Resolver,
    *,
    wildcard: frozenset[str] = frozenset(),
    concurrency: int = 200,
) -> Guesses:
    """Resolve every name, `concurrency` at a time; keep those that really exist."""
    asked, answers = await _resolve_all(names, resolver, concurrency)
    failed = [answer.name for answer in answers if answer.status is DnsStatus.ERROR]
    if failed and asked == len(names):
        # A resolver that drops queries under load answers them at a gentler pace.
        asked_again, retried = await _resolve_all(failed, resolver, _RETRY_CONCURRENCY)
        again = {a.name: a for a in retried}
        # Names are taken in order: the first `asked_again` were asked, and those not kept
        # this time are gone (NXDOMAIN, NODATA), no longer errors.
        gone = set(failed[:asked_again]) - again.keys()
        answers = [again.get(a.name, a) for a in answers if a.name not in gone]
    result = tally(len(names), answers, wildcard)
    if asked < len(names):  # given up on a failing resolver: the rest are unknown too
        result = replace(result, errors=result.errors + len(names) - asked)
    return result


_RETRY_CONCURRENCY = 10
# Give up when the resolver fails this many of the first answers, and most of them: a resolver
# that is down would otherwise cost every label its retries.
_GIVE_UP_AFTER = 50
# What a guess can be: the answers worth keeping (NXDOMAIN and NODATA, most of them, are not).
_KEPT = (DnsStatus.RESOLVED, DnsStatus.ERROR)


async def _resolve_all(
    names: Sequence[str], resolver: Resolver, concurrency: int
) -> tuple[int, list[DnsAnswer]]:
    """How many names were asked before the end (or giving up), and the answers that resolved
    or failed: a scan's thousands of NXDOMAIN answers are counted, not held."""
    pending = iter(names)
    kept: list[DnsAnswer] = []
    asked = errors = 0

    async def work() -> None:
        nonlocal asked, errors
        for name in pending:  # one shared iterator: each name is asked once
            answer = await resolver.resolve(name, dangling=False)
            asked += 1
            if answer.status in _KEPT:
                kept.append(answer)
            errors += answer.status is DnsStatus.ERROR
            if errors >= _GIVE_UP_AFTER and errors * 2 > asked:
                return

    await asyncio.gather(*(work() for _ in range(max(1, min(concurrency, len(names))))))
    return asked, kept


def tally(tried: int, answers: Iterable[DnsAnswer], wildcard: frozenset[str]) -> Guesses:
    """Pure: which answers are findings."""
    found: dict[str, tuple[str, ...]] = {}
    wildcard_answered = errors = 0
    for answer in answers:
        if answer.status is DnsStatus.ERROR:
            errors += 1
        elif answer.status is DnsStatus.RESOLVED:
            if wildcard and set(answer.addresses) <= wildcard:
                wildcard_answered += 1
            else:
                found[answer.name] = answer.addresses
    return Guesses(tried, tuple(sorted(found)), found, wildcard_answered, errors)
