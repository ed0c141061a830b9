"""Scan events -> JSON-ready records: the NDJSON record format (see README, "Report format").

The one writer of every record type (the shapes are `report.shapes`). Every record has a `type`:
`scan` (first), `host` (one per host, in completion order) and `summary` (one per domain, last);
the name list of `hsts-coverage enumerate` has `names`, `domain` and `name`. `SCHEMA_VERSION`
changes when a field changes meaning or disappears; new fields may appear without a change.

The records' shapes are the TypedDicts of `shapes`, so that mypy checks every writer and every
reader of a field; the reader checks a file against the same declarations. One module per
family: `host`, `summary` (the scan's first record, each domain's summary with its policy, and
`enumeration_of` and friends, which read a summary's parts back into the models the rules take,
for `merge`), `names` (the name list) and `fields` (what several of them share). Every writer
is imported from here.
"""

from hsts_coverage.report.records.host import host_record, reason_record
from hsts_coverage.report.records.names import (
    FORMAT_VERSION,
    domain_records,
    header_record,
    name_found_by,
)
from hsts_coverage.report.records.summary import (
    EXIT_MEANINGS,
    SCHEMA_VERSION,
    apex_record,
    domain_summary,
    enumeration_of,
    enumeration_record,
    header_check_record,
    preload_status_of,
    scan_record,
    subdomains_on,
    summary_record,
)

__all__ = [
    "EXIT_MEANINGS",
    "FORMAT_VERSION",
    "SCHEMA_VERSION",
    "apex_record",
    "domain_records",
    "domain_summary",
    "enumeration_of",
    "enumeration_record",
    "header_check_record",
    "header_record",
    "host_record",
    "name_found_by",
    "preload_status_of",
    "reason_record",
    "scan_record",
    "subdomains_on",
    "summary_record",
]
