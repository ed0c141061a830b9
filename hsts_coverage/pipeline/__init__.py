"""The pipeline: asyncio orchestration only (`orchestration`: bounded pools, cancellation,
streaming, names fed back; `rounds`: one round of names, a task each once it has a place), and
one domain's scan as data (`domain`). What the command line
uses is imported from here.
"""

from hsts_coverage.pipeline.orchestration import (
    DomainStarted,
    Event,
    ScanStarted,
    check_policy,
    enumerate_only,
    scan,
)

__all__ = ["DomainStarted", "Event", "ScanStarted", "check_policy", "enumerate_only", "scan"]
