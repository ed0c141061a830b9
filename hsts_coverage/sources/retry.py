"""What every HTTP name source shares: its errors, and when and how long to wait before a retry.

    Exception
    ├── SourceError   the source could not be read: one line for the user, never retried
    └── Retryable     a failure worth another try (429, 5xx, a connection error, a time-out, a
                      broken answer); carries the server's Retry-After when it gave one

A source retries `Retryable` a bounded number of times with tenacity, waiting as the server's
Retry-After says (within `RETRY_AFTER_CAP`), else backing off exponentially with full jitter;
after the last attempt the caller gets a `SourceError`.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

RETRY_AFTER_CAP = 120.0  # seconds
BACKOFF_CAP = 60.0  # seconds


class SourceError(Exception):
    """A source could not be read; the message is one line for the user."""


class Retryable(Exception):
    """A transient failure; `retry_after` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retrying(attempts: int, backoff: float) -> AsyncRetrying:
    """At most `attempts` tries of a block that raises `Retryable`; the last one is re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(attempts),
        wait=RetryAfterOrBackoff(backoff),
        retry=retry_if_exception_type(Retryable),
        reraise=True,
    )


class RetryAfterOrBackoff:
    """Wait as the server said (within a cap), else back off exponentially with full jitter."""

    def __init__(self, initial: float) -> None:
        self._backoff = wait_random_exponential(multiplier=initial, max=BACKOFF_CAP)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, RETRY_AFTER_CAP)
        return float(self._backoff(state))


def retry_after(value: str | None) -> float | None:
    """Seconds to wait: Retry-After is delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 9110 section 5.6.7: an HTTP date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def describe(exc: BaseException) -> str:
    """A connection failure in a few words."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"
