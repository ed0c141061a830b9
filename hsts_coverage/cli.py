"""The command line: options -> ScanConfig -> pipeline -> reports; errors -> one line + exit code.

Exit codes: 0 SAFE, 1 NOT SAFE, 3 INCONCLUSIVE or a source failure, 2 usage error, 5 a failed
run (a bug or a report that could not be written; the partial report stays in its temporary
file), 130 on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import fcntl
import ipaddress
import math
import os
import signal
import ssl
import stat
import sys
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO, NoReturn, TypeVar, cast

import orjson
import typer

from hsts_coverage import __version__
from hsts_coverage.config import (
    DEFAULT_CERTSPOTTER_URL,
    DEFAULT_CT_URL,
    USER_AGENT,
    IPNetwork,
    Nameserver,
    OutputFormat,
    ScanConfig,
)
from hsts_coverage.distrust import parse_rows
from hsts_coverage.models import (
    DomainSummary,
    Enumeration,
    EnumerationStatus,
    HostResult,
    Verdict,
    ZoneNames,
)
from hsts_coverage.names import DomainError, parse_domain
from hsts_coverage.pipeline import (
    DomainStarted,
    Event,
    ScanStarted,
    check_policy,
    enumerate_only,
    scan,
)
from hsts_coverage.policy import check_header
from hsts_coverage.preload import parse_chromium_list
from hsts_coverage.report.header import header_text
from hsts_coverage.report.ndjson import NdjsonWriter
from hsts_coverage.report.reader import Report, ReportError, read_report
from hsts_coverage.report.records import (
    apex_record,
    header_check_record,
    host_record,
    scan_record,
    summary_record,
)
from hsts_coverage.report.shapes import Record
from hsts_coverage.report.text import clean, verdict_text
from hsts_coverage.sources.guess import parse_labels
from hsts_coverage.sources.zone import ZoneFileError, read_zone_file
from hsts_coverage.tls import verified_context
from hsts_coverage.verdict import EXIT_FAILED, EXIT_USAGE, exit_code

if TYPE_CHECKING:
    from hsts_coverage.report.metrics import ScanMetrics
    from hsts_coverage.report.table import ProgressView, TableReport

PROG = "hsts-coverage"
ENV = "HSTS_COVERAGE_"

app = typer.Typer(
    name=PROG,
    help="Which hosts would break if a domain turned on HSTS includeSubDomains today?",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class UsageError(Exception):
    """A bad option or argument; main() prints it as one line and exits 2."""


# Typer vendors click in recent versions; its exception base is reachable from a public class.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


def usage_error(message: str) -> NoReturn:
    raise UsageError(message)


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(EXIT_USAGE)


# -- options shared by the commands that reach hosts: each a real, documented user option ----------

ResolverOption = Annotated[
    list[str] | None,
    typer.Option(
        envvar=f"{ENV}RESOLVER", help="DNS server IP[:PORT] to ask (repeatable); default: system."
    ),
]
CaBundleOption = Annotated[
    Path | None,
    typer.Option(envvar=f"{ENV}CA_BUNDLE", help="PEM file of trusted roots instead of Mozilla's."),
]
AllowPrivateOption = Annotated[
    bool,
    typer.Option(
        "--allow-private",
        envvar=f"{ENV}ALLOW_PRIVATE",
        help="Probe private, loopback and reserved addresses too.",
    ),
]
AllowCidrOption = Annotated[
    list[str] | None,
    typer.Option(envvar=f"{ENV}ALLOW_CIDR", help="Probe addresses in this network (repeatable)."),
]
TimeoutOption = Annotated[
    float,
    typer.Option(envvar=f"{ENV}TIMEOUT", min=0.1, help="Seconds per connection and request."),
]
UserAgentOption = Annotated[
    str, typer.Option(envvar=f"{ENV}USER_AGENT", help="User-Agent of every request.")
]
PreloadListOption = Annotated[
    Path | None,
    typer.Option(
        envvar=f"{ENV}PRELOAD_LIST",
        help="Chromium's transport_security_state_static.json instead of the bundled list.",
    ),
]


ZoneFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        envvar=f"{ENV}ZONE_FILE",
        help="The domain's zone (RFC 1035 master file, as DNS hosts export it): every "
        "name in it is scanned (repeatable).",
    ),
]
AxfrOption = Annotated[
    list[str] | None,
    typer.Option(
        envvar=f"{ENV}AXFR",
        help="Zone transfer from this server, IP[:PORT], or 'auto' for the domain's own "
        "NS servers (repeatable).",
    ),
]
NoGuessOption = Annotated[
    bool,
    typer.Option(
        "--no-guess",
        envvar=f"{ENV}NO_GUESS",
        help="Do not resolve the common labels (blog, dev, staging, ...) under the domain.",
    ),
]
GuessListOption = Annotated[
    Path | None,
    typer.Option(envvar=f"{ENV}GUESS_LIST", help="Labels to resolve instead of the shipped list."),
]
GuessConcurrencyOption = Annotated[
    int,
    typer.Option(
        envvar=f"{ENV}GUESS_CONCURRENCY", min=1, help="DNS queries in flight while guessing."
    ),
]


@app.command("scan")
def scan_command(
    domains: Annotated[
        list[str] | None, typer.Argument(help="Domains to check (example.com).")
    ] = None,
    domains_file: Annotated[
        Path | None,
        typer.Option(
            envvar=f"{ENV}DOMAINS_FILE",
            help="File of domains to check, one a line, each summed up.",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            envvar=f"{ENV}SHARD", help="K/N: scan only the K-th of N slices of the names (1..N)."
        ),
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option(envvar=f"{ENV}BASELINE", help="An earlier report: print what changed since."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(envvar=f"{ENV}HTML", help="Also write a self-contained HTML report here."),
    ] = None,
    metrics: Annotated[
        Path | None,
        typer.Option(
            envvar=f"{ENV}METRICS",
            help="Also write Prometheus metrics here (for node_exporter's textfile collector).",
        ),
    ] = None,
    junit: Annotated[
        Path | None,
        typer.Option(
            envvar=f"{ENV}JUNIT",
            help="Also write JUnit XML here: a suite per domain, a case per host (for CI).",
        ),
    ] = None,
    ct_url: Annotated[
        str,
        typer.Option(envvar=f"{ENV}CT_URL", help="crt.sh-compatible certificate-transparency URL."),
    ] = DEFAULT_CT_URL,
    source: Annotated[
        str,
        typer.Option(
            envvar=f"{ENV}SOURCE", help="CT sources, comma-separated: crtsh, certspotter."
        ),
    ] = "crtsh",
    certspotter_url: Annotated[
        str, typer.Option(envvar=f"{ENV}CERTSPOTTER_URL", help="Cert Spotter API base URL.")
    ] = DEFAULT_CERTSPOTTER_URL,
    certspotter_key: Annotated[
        str | None,
        typer.Option(
            envvar=f"{ENV}CERTSPOTTER_KEY",
            help="Cert Spotter API key (better from the environment).",
            show_default=False,
        ),
    ] = None,
    ct_attempts: Annotated[
        int,
        typer.Option(
            envvar=f"{ENV}CT_ATTEMPTS", min=1, help="Tries at the CT source before giving up."
        ),
    ] = 5,
    ct_timeout: Annotated[
        float,
        typer.Option(
            envvar=f"{ENV}CT_TIMEOUT", min=0.1, help="Seconds for one request to the CT source."
        ),
    ] = 60.0,
    no_ct: Annotated[
        bool,
        typer.Option(
            "--no-ct",
            envvar=f"{ENV}NO_CT",
            help="Skip certificate transparency; scan only given names.",
        ),
    ] = False,
    names_file: Annotated[
        list[Path] | None,
        typer.Option(
            envvar=f"{ENV}NAMES_FILE", help="File of extra names, one a line (repeatable)."
        ),
    ] = None,
    zone_file: ZoneFileOption = None,
    axfr: AxfrOption = None,
    no_guess: NoGuessOption = False,
    guess_list: GuessListOption = None,
    guess_concurrency: GuessConcurrencyOption = 200,
    names_from: Annotated[
        Path | None,
        typer.Option(
            envvar=f"{ENV}NAMES_FROM",
            help="Scan the name list `hsts-coverage enumerate` wrote, without asking CT.",
        ),
    ] = None,
    resolver: ResolverOption = None,
    ca_bundle: CaBundleOption = None,
    allow_private: AllowPrivateOption = False,
    allow_cidr: AllowCidrOption = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            envvar=f"{ENV}CONCURRENCY",
            min=1,
            help="Hosts checked at once, at most (default: 100, more while they only wait, up "
            "to what the open-files limit allows).",
        ),
    ] = None,
    workers: Annotated[
        str,
        typer.Option(
            envvar=f"{ENV}WORKERS",
            help="Processes that probe beside the main one: N, 0 for none, or auto "
            "(one per further CPU core, each with 500 names at least; none with --rate).",
        ),
    ] = "auto",
    per_ip: Annotated[
        int,
        typer.Option(envvar=f"{ENV}PER_IP", min=1, help="Connections open to one address at once."),
    ] = 8,
    rate: Annotated[
        float,
        typer.Option(envvar=f"{ENV}RATE", min=0, help="New connections per second (0: no limit)."),
    ] = 0.0,
    ct_interval: Annotated[
        float,
        typer.Option(
            envvar=f"{ENV}CT_INTERVAL", min=0, help="Seconds between two requests to a CT source."
        ),
    ] = 1.0,
    timeout: TimeoutOption = 10.0,
    connect_timeout: Annotated[
        float,
        typer.Option(
            envvar=f"{ENV}CONNECT_TIMEOUT",
            min=0.1,
            help="Seconds for a TCP connect's first try; a connect that times out gets one more "
            "at the full --timeout.",
        ),
    ] = 3.0,
    all_addresses: Annotated[
        bool,
        typer.Option(
            "--all-addresses/--first-address",
            envvar=f"{ENV}ALL_ADDRESSES",
            help="Probe every address of a host (up to 16), or only the first.",
        ),
    ] = True,
    expiry_days: Annotated[
        int,
        typer.Option(
            envvar=f"{ENV}EXPIRY_DAYS", min=0, help="Warn when a certificate expires sooner."
        ),
    ] = 14,
    no_apex_check: Annotated[
        bool,
        typer.Option(
            "--no-apex-check",
            envvar=f"{ENV}NO_APEX_CHECK",
            help="Skip the apex's policy and preload-readiness section of the summary.",
        ),
    ] = False,
    preload_list: PreloadListOption = None,
    distrust_file: Annotated[
        Path | None,
        typer.Option(
            envvar=f"{ENV}DISTRUST_FILE",
            help="JSON rows of distrust-after constraints to add to the built-in table.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", envvar=f"{ENV}OUTPUT", help="Write NDJSON here ('-': stdout)."
        ),
    ] = None,
    append: Annotated[
        bool,
        typer.Option(
            "--append", envvar=f"{ENV}APPEND", help="Add to the --output file as records come."
        ),
    ] = False,
    output_format: Annotated[
        OutputFormat,
        typer.Option("--format", envvar=f"{ENV}FORMAT", help="What stdout shows."),
    ] = OutputFormat.TABLE,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", envvar=f"{ENV}QUIET", help="Print only the verdict line."),
    ] = False,
    no_progress: Annotated[
        bool, typer.Option("--no-progress", envvar=f"{ENV}NO_PROGRESS", help="No progress bar.")
    ] = False,
    user_agent: UserAgentOption = USER_AGENT,
) -> None:
    """Scan DOMAINS: enumerate subdomains, probe each, and say whether includeSubDomains is safe."""
    names_files = tuple(names_file or ())
    for flag, number in (
        ("--ct-timeout", ct_timeout),
        ("--rate", rate),
        ("--ct-interval", ct_interval),
    ):
        _finite(flag, number)
    if output is not None and html is not None and _same_file(output, html):
        usage_error(f"--output and --html name the same file ({output}): the page would replace it")
    given = [*(domains or ()), *_read_lines(domains_file, "domains file")]
    listed = _name_list(names_from, given, names_files)
    scanned = _domains(given or list(listed or ()))
    if listed is not None and (zone_file or axfr):
        usage_error(
            "--names-from holds the names already: give --zone-file and --axfr to enumerate"
        )
    earlier = _baseline(baseline)  # read now: a bad file is a usage error before the scan
    config = ScanConfig(
        domains=scanned,
        names_from=names_from,
        enumerations=listed,
        **_dns_sources(zone_file, axfr, scanned),
        guess=not no_guess,
        guess_list=guess_list,
        guess_labels=_guess_labels(guess_list),
        guess_concurrency=guess_concurrency,
        shard=_shard(shard),
        baseline=baseline,
        html=html,
        metrics=_output_file(metrics, "--metrics"),
        junit=_output_file(junit, "--junit"),
        ct_url=ct_url,
        sources=_sources(source),
        certspotter_url=certspotter_url,
        certspotter_key=certspotter_key or None,
        use_ct=not no_ct and names_from is None,
        ct_attempts=ct_attempts,
        ct_timeout=ct_timeout,
        names_files=names_files,
        extra_names=tuple(line for path in names_files for line in _read_names(path)),
        concurrency=concurrency,
        workers=_workers(workers, rate),
        per_ip=per_ip,
        rate=rate,
        ct_interval=ct_interval,
        connect_timeout=connect_timeout,
        expiry_days=expiry_days,
        max_addresses=16 if all_addresses else 1,
        check_apex=not no_apex_check,
        output=output,
        append=append,
        output_format=output_format,
        quiet=quiet,
        progress=not no_progress and not quiet,
        **_reach(resolver, ca_bundle, allow_private, allow_cidr, timeout, user_agent),
        **_preload(preload_list),
        **_distrust(distrust_file),
    )
    if config.shard_by == "domain" and config.shard and config.shard[1] > len(config.domains):
        usage_error(
            f"--shard {shard}: {len(config.domains)} domains make at most {len(config.domains)} "
            "shards of whole domains (for more, enumerate and scan --names-from)"
        )
    raise typer.Exit(run_async(_run(config, earlier)))


@app.command("enumerate")
def enumerate_command(
    domains: Annotated[list[str] | None, typer.Argument(help="Domains (example.com).")] = None,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Write the name list (NDJSON) here ('-': stdout)."),
    ] = Path("-"),
    domains_file: Annotated[
        Path | None, typer.Option(envvar=f"{ENV}DOMAINS_FILE", help="File of domains, one a line.")
    ] = None,
    ct_url: Annotated[
        str, typer.Option(envvar=f"{ENV}CT_URL", help="crt.sh-compatible CT search URL.")
    ] = DEFAULT_CT_URL,
    source: Annotated[
        str, typer.Option(envvar=f"{ENV}SOURCE", help="CT sources: crtsh, certspotter.")
    ] = "crtsh",
    certspotter_url: Annotated[
        str, typer.Option(envvar=f"{ENV}CERTSPOTTER_URL", help="Cert Spotter API base URL.")
    ] = DEFAULT_CERTSPOTTER_URL,
    certspotter_key: Annotated[
        str | None,
        typer.Option(envvar=f"{ENV}CERTSPOTTER_KEY", help="Cert Spotter key.", show_default=False),
    ] = None,
    ct_attempts: Annotated[
        int, typer.Option(envvar=f"{ENV}CT_ATTEMPTS", min=1, help="Tries at a CT source.")
    ] = 5,
    ct_timeout: Annotated[
        float, typer.Option(envvar=f"{ENV}CT_TIMEOUT", min=0.1, help="Seconds per CT request.")
    ] = 60.0,
    ct_interval: Annotated[
        float, typer.Option(envvar=f"{ENV}CT_INTERVAL", min=0, help="Seconds between requests.")
    ] = 1.0,
    names_file: Annotated[
        list[Path] | None,
        typer.Option(envvar=f"{ENV}NAMES_FILE", help="File of extra names (repeatable)."),
    ] = None,
    zone_file: ZoneFileOption = None,
    axfr: AxfrOption = None,
    no_guess: NoGuessOption = False,
    guess_list: GuessListOption = None,
    guess_concurrency: GuessConcurrencyOption = 200,
    resolver: ResolverOption = None,
    allow_private: AllowPrivateOption = False,
    allow_cidr: AllowCidrOption = None,
    timeout: TimeoutOption = 10.0,
    user_agent: UserAgentOption = USER_AGENT,
) -> None:
    """Write every domain's names with where each came from, for `scan --names-from` (so that
    the N shards of a scan do not each ask CT). Exit 0 when every list is complete, 3 if not."""
    names_files = tuple(names_file or ())
    scanned = _domains([*(domains or ()), *_read_lines(domains_file, "domains file")])
    config = ScanConfig(
        domains=scanned,
        **_dns_sources(zone_file, axfr, scanned),
        guess=not no_guess,
        guess_list=guess_list,
        guess_labels=_guess_labels(guess_list),
        guess_concurrency=guess_concurrency,
        ct_url=ct_url,
        sources=_sources(source),
        certspotter_url=certspotter_url,
        certspotter_key=certspotter_key or None,
        ct_attempts=ct_attempts,
        ct_timeout=ct_timeout,
        ct_interval=ct_interval,
        names_files=names_files,
        extra_names=tuple(line for path in names_files for line in _read_names(path)),
        **_reach(resolver, None, allow_private, allow_cidr, timeout, user_agent),
    )
    raise typer.Exit(run_async(_enumerate(config, output)))


async def _enumerate(config: ScanConfig, output: Path) -> int:
    from hsts_coverage.report.records import domain_records, header_record

    complete = True
    with _open(output, append=False) as stream:
        writer = NdjsonWriter(stream)
        writer.write(header_record())
        async for enumeration in enumerate_only(config):
            for record in domain_records(enumeration):
                writer.write(record)
            ok = enumeration.status in (EnumerationStatus.COMPLETE, EnumerationStatus.SKIPPED)
            complete = complete and ok
            error = f": {clean(enumeration.error)}" if enumeration.error else ""
            print(
                f"{clean(enumeration.domain)}: {len(enumeration.names)} names "
                f"({enumeration.status.value}{error})",
                file=sys.stderr,
            )
    return 0 if complete else 3


class TextOrJson(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command("policy")
def policy_command(
    domain: Annotated[str, typer.Argument(help="The apex domain to check (example.com).")],
    resolver: ResolverOption = None,
    ca_bundle: CaBundleOption = None,
    allow_private: AllowPrivateOption = False,
    allow_cidr: AllowCidrOption = None,
    timeout: TimeoutOption = 10.0,
    preload_list: PreloadListOption = None,
    output_format: Annotated[
        TextOrJson, typer.Option("--format", envvar=f"{ENV}FORMAT", help="Text or one JSON object.")
    ] = TextOrJson.TEXT,
    user_agent: UserAgentOption = USER_AGENT,
) -> None:
    """The apex's HSTS policy today and its preload-list readiness; exit 0 when ready."""
    config = ScanConfig(
        domains=_domains([domain]),
        **_reach(resolver, ca_bundle, allow_private, allow_cidr, timeout, user_agent),
        **_preload(preload_list),
    )
    report = run_async(check_policy(config, config.domains[0]))
    if output_format is TextOrJson.JSON:
        _print_json(apex_record(report))
    else:
        _table_report().render_apex(apex_record(report))
    raise typer.Exit(0 if report.ready else 1)


@app.command("header")
def header_command(
    value: Annotated[str, typer.Argument(help="A Strict-Transport-Security value to check.")],
    output_format: Annotated[
        TextOrJson, typer.Option("--format", envvar=f"{ENV}FORMAT", help="Text or one JSON object.")
    ] = TextOrJson.TEXT,
) -> None:
    """Check a Strict-Transport-Security value before deploying it: browsers and hstspreload.org.

    Exit 0 when browsers accept it and the preload list would, 1 otherwise."""
    check = check_header(value)
    if output_format is TextOrJson.JSON:
        _print_json(header_check_record(check))
    else:
        typer.echo(header_text(check))
    raise typer.Exit(0 if check.browser.accepted and not check.preload_errors else 1)


class DiffFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"


@app.command("diff")
def diff_command(
    old: Annotated[Path, typer.Argument(help="The earlier report (NDJSON).")],
    new: Annotated[Path, typer.Argument(help="The later report (NDJSON).")],
    output_format: Annotated[
        DiffFormat, typer.Option("--format", envvar=f"{ENV}FORMAT", help="What stdout shows.")
    ] = DiffFormat.TABLE,
    expiry_days: Annotated[
        int | None,
        typer.Option(min=0, help="Warning horizon for certificates (default: the new scan's)."),
    ] = None,
) -> None:
    """What changed between two reports; exit 1 when a host newly breaks, 0 otherwise."""
    from hsts_coverage.report.diff import diff_reports
    from hsts_coverage.report.diffview import diff_json, diff_records, diff_text

    result = diff_reports(_report(old), _report(new), expiry_days)
    if output_format is DiffFormat.JSON:
        _print_json(diff_json(result))
    elif output_format is DiffFormat.NDJSON:
        writer = NdjsonWriter(sys.stdout.buffer)
        for record in diff_records(result):
            writer.write(record)
    else:
        typer.echo(diff_text(result))
    raise typer.Exit(1 if result.newly_breaking else 0)


@app.command("merge")
def merge_command(
    reports: Annotated[list[Path], typer.Argument(help="The N reports of a --shard K/N scan.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the merged NDJSON here (default: stdout)."),
    ] = None,
) -> None:
    """Combine the reports of a sharded scan into one, with one summary per domain."""
    from hsts_coverage.report.merge import merge_reports

    try:
        merged = merge_reports([_report(path) for path in reports])
    except ReportError as exc:
        usage_error(str(exc))
    with _open(output or Path("-"), append=False) as stream:
        writer = NdjsonWriter(stream)
        for record in merged:
            writer.write(record)
    for summary in (r for r in merged if r["type"] == "summary"):
        print(
            f"{clean(summary['domain'])}: {summary['verdict']} ({clean(summary['why'])})",
            file=sys.stderr,
        )
    raise typer.Exit(exit_code(Verdict(r["verdict"]) for r in merged if r["type"] == "summary"))


@app.command("html")
def html_command(
    reports: Annotated[
        list[Path],
        typer.Argument(help="A report (NDJSON), or several or folders of them for the history."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the page.")],
) -> None:
    """Render a report as one self-contained HTML page; several reports as their history."""
    paths = [
        p for path in reports for p in (sorted(path.glob("*.ndjson")) if path.is_dir() else [path])
    ]
    if not paths:
        usage_error(f"no report (*.ndjson) in {', '.join(map(str, reports))}")
    if len(paths) == 1:
        _write_html(output, _report(paths[0]).records)
        return
    from hsts_coverage.report.history import render_history

    page = render_history([_report(path) for path in paths])
    with _open(output, append=False) as stream:
        stream.write(page.encode("utf-8"))


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of the NDJSON report records."""
    from hsts_coverage.report.schema import schema_text

    typer.echo(schema_text(), nl=False)


def _write_html(path: Path, records: list[Record]) -> None:
    from hsts_coverage.report.html import render_html

    with _open(path, append=False) as stream:
        stream.write(render_html(records).encode("utf-8"))


def _report(path: Path) -> Report:
    try:
        report = read_report(path)
    except ReportError as exc:
        usage_error(str(exc))
    if report.skipped:
        print(
            f"{PROG}: {path}: {report.skipped} line(s) that are not records skipped",
            file=sys.stderr,
        )
    return report


def _print_json(document: object) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    )
    sys.stdout.buffer.flush()


def _reach(
    resolver: list[str] | None,
    ca_bundle: Path | None,
    allow_private: bool,
    allow_cidr: list[str] | None,
    timeout: float,
    user_agent: str,
) -> dict[str, Any]:
    """The options that say how to reach hosts, checked, as ScanConfig fields."""
    return {
        "resolvers": tuple(_nameserver(r) for r in resolver or ()),
        "ca_bundle": _ca_bundle(ca_bundle),
        "allow_private": allow_private,
        "allow_cidrs": tuple(_network(c) for c in allow_cidr or ()),
        "timeout": _finite("--timeout", timeout),
        "user_agent": _user_agent(user_agent),
    }


def _distrust(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        rows = parse_rows(orjson.loads(path.read_bytes()))
    except FileNotFoundError:
        usage_error(f"distrust file {path} does not exist")
    except (OSError, orjson.JSONDecodeError, ValueError) as exc:
        usage_error(f"distrust file {path} is not a list of distrust-after rows: {exc}")
    return {"distrust_file": path, "distrust": rows}


def _preload(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        entries = parse_chromium_list(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        usage_error(f"preload list {path} does not exist")
    except (OSError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        usage_error(f"preload list {path} is not Chromium's JSON list: {exc}")
    return {"preload_list": path, "preload_entries": entries}


def run_async(main: Coroutine[Any, Any, _T]) -> _T:
    """Run on uvloop where it is installed: its transports and TLS cost less CPU per connection
    than asyncio's, and connections are what a scan is made of."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


_T = TypeVar("_T")


# -- option parsing: every bad value is a one-line usage error ----------------------------------


def _domains(values: list[str]) -> tuple[str, ...]:
    if not values:
        usage_error("no domain given (as arguments or with --domains-file)")
    try:
        return tuple(dict.fromkeys(parse_domain(v) for v in values))
    except DomainError as exc:
        usage_error(str(exc))


def _read_lines(path: Path | None, what: str) -> list[str]:
    return _read_names(path, what) if path is not None else []


_SOURCE_NAMES = {"crtsh": "crt.sh", "crt.sh": "crt.sh", "certspotter": "certspotter"}


def _sources(value: str) -> tuple[str, ...]:
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in _SOURCE_NAMES]
    if unknown or not names:
        usage_error(f"--source {value!r}: choose from crtsh, certspotter (comma-separated)")
    return tuple(dict.fromkeys(_SOURCE_NAMES[name] for name in names))


MAX_WORKERS = 64  # processes beside the main one; more only costs start-up and memory


def _finite(flag: str, value: float) -> float:
    if not math.isfinite(value):
        usage_error(f"{flag} {value}: give a finite number of seconds (or per second)")
    return value


def _user_agent(value: str) -> str:
    # Sent as a header field: printable ASCII only, so no CR/LF can add a header of its own.
    if not (value.isascii() and value.isprintable() and value.strip()):
        usage_error(
            "--user-agent: give printable ASCII text (no control characters or line breaks)"
        )
    return value


def _workers(value: str, rate: float) -> int | None:
    if value == "auto":
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 4 or int(value) > MAX_WORKERS:
        usage_error(f"--workers {value[:20]!r}: give 0 to {MAX_WORKERS} processes, or auto")
    if int(value) and rate:
        usage_error(
            "--workers and --rate do not go together: the rate bounds the scan, not the CPU"
        )
    return int(value)


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    from hsts_coverage.report.merge import MAX_SHARDS, parse_shard

    shard = parse_shard(value.strip())
    if shard is None:
        usage_error(
            f"--shard {value[:40]!r}: give K/N with 1 <= K <= N <= {MAX_SHARDS}, such as 2/8"
        )
    return shard


def _same_file(a: Path, b: Path) -> bool:
    if a == Path("-") or b == Path("-"):
        return False
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _dns_sources(
    zone_files: list[Path] | None, axfr: list[str] | None, domains: tuple[str, ...]
) -> dict[str, Any]:
    """The zone-file and zone-transfer options, checked: ScanConfig's fields for them."""
    paths = tuple(zone_files or ())
    servers, auto = _axfr(axfr or [])
    return {
        "zone_files": paths,
        "zones": _zones(paths, domains),
        "axfr_servers": servers,
        "axfr_auto": auto,
    }


def _zones(paths: tuple[Path, ...], domains: tuple[str, ...]) -> tuple[tuple[str, ZoneNames], ...]:
    try:
        return tuple(read_zone_file(path, domains) for path in paths)
    except ZoneFileError as exc:
        usage_error(str(exc))


def _axfr(values: list[str]) -> tuple[tuple[Nameserver, ...], bool]:
    auto = any(value.strip().lower() == "auto" for value in values)
    servers = tuple(
        _nameserver(value, "--axfr") for value in values if value.strip().lower() != "auto"
    )
    return servers, auto


def _guess_labels(path: Path | None) -> tuple[str, ...] | None:
    if path is None:
        return None
    labels = parse_labels("\n".join(_read_names(path, "guess list")))
    if not labels:
        usage_error(f"guess list {path} holds no labels")
    return labels


def _name_list(
    path: Path | None, given: list[str], names_files: tuple[Path, ...]
) -> dict[str, Enumeration] | None:
    """The enumerations of a `--names-from` list; every domain asked for must be in it."""
    if path is None:
        return None
    from hsts_coverage.report.namelist import NameListError, read_name_list

    if names_files:
        usage_error("--names-from holds the names already: give --names-file to enumerate")
    try:
        listed = read_name_list(path)
    except NameListError as exc:
        usage_error(str(exc))
    missing = [d for d in _domains(given) if d not in listed] if given else []
    if missing:
        usage_error(f"--names-from {path} has no names for {', '.join(missing)}")
    return listed


def _output_file(path: Path | None, option: str) -> Path | None:
    """A file the scan writes at its end: its folder must exist now, not after the scan."""
    if path is not None and not path.parent.is_dir():
        usage_error(f"{option} {path}: the folder {path.parent} does not exist")
    return path


def _baseline(path: Path | None) -> Report | None:
    return _report(path) if path is not None else None


def _read_names(path: Path, what: str = "names file") -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        usage_error(f"{what} {path} does not exist")
    except UnicodeDecodeError:
        usage_error(f"{what} {path} is not UTF-8 text")
    except OSError as exc:
        usage_error(f"{what} {path} cannot be read: {exc.strerror}")
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _nameserver(value: str, option: str = "--resolver") -> Nameserver:
    host, port = value.strip(), 53
    if host.startswith("["):  # [2001:db8::1]:5353
        host, _, rest = host[1:].partition("]")
        port = _port(value, rest.removeprefix(":"), option) if rest else 53
    elif host.count(":") == 1:
        host, port_text = host.split(":")
        port = _port(value, port_text, option)
    if "%" in host:  # fe80::1%lo: c-ares takes no scope id
        usage_error(f"{option} {value!r}: an address with a scope id (%) is not supported")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        usage_error(f"{option} {value!r} is not an IP address (IP or IP:PORT)")
    return Nameserver(host, port)


def _port(value: str, text: str, option: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) < 65536):
        usage_error(f"{option} {value!r} has an invalid port")
    return int(text)


def _network(value: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        usage_error(f"--allow-cidr {value!r} is not a network (such as 10.0.0.0/8)")


def _ca_bundle(path: Path | None) -> Path | None:
    if path is None:
        return None
    try:
        verified_context(path)
    except FileNotFoundError:
        usage_error(f"CA bundle {path} does not exist")
    except (OSError, ssl.SSLError) as exc:
        usage_error(f"CA bundle {path} cannot be used: {getattr(exc, 'reason', None) or exc}")
    return path


# -- running a scan ------------------------------------------------------------------------------


async def _run(config: ScanConfig, baseline: Report | None = None) -> int:
    verdicts = []
    with _Outputs(config, baseline) as outputs, _StopOnSignal() as stop:
        try:
            async for event in scan(config, stop.event):
                summary = outputs.handle(event)
                if summary is not None:
                    verdicts.append(summary.verdict)
        except asyncio.CancelledError:
            if stop.signal is None:
                raise  # not ours
        outputs.finish(interrupted=stop.signal is not None)
    if stop.signal is not None:
        return 128 + stop.signal  # 130 for SIGINT, 143 for SIGTERM
    return exit_code(verdicts)


class _StopOnSignal:
    """SIGINT and SIGTERM stop the scan gracefully: no new probes, running ones cancelled, a
    summary marked interrupted. A second signal gets the default behaviour (stop at once)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.signal: int | None = None
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()

    def __enter__(self) -> _StopOnSignal:
        for signum in _STOP_SIGNALS:
            self._loop.add_signal_handler(signum, self._stop, signum)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._restore()

    def _stop(self, signum: int) -> None:
        self.signal = signum
        self.event.set()
        self._restore()
        if self._task is not None:
            self._task.cancel()

    def _restore(self) -> None:
        for signum in _STOP_SIGNALS:
            self._loop.remove_signal_handler(signum)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Outputs:
    """Sends each scan event to every output the user asked for."""

    def __init__(self, config: ScanConfig, baseline: Report | None = None) -> None:
        self._config = config
        self._baseline = baseline  # the earlier report of --baseline, read by the CLI
        self._stdout_closed = False
        self._stack = ExitStack()
        self._table = _table_report() if self._stdout_format is OutputFormat.TABLE else None
        self._ndjson: list[NdjsonWriter] = []
        # Every record, only when something needs them all at the end (JSON, --baseline).
        wanted = (
            baseline is not None
            or config.html is not None
            or config.junit is not None
            or self._stdout_format is OutputFormat.JSON
        )
        self._records: list[Record] | None = [] if wanted else None
        self._now: datetime | None = None
        self._progress = _progress_view(config.progress)
        self._metrics: ScanMetrics | None = None
        self._scan_id = uuid.uuid4().hex

    def __enter__(self) -> _Outputs:
        if self._config.output is not None:
            report = _open(self._config.output, append=self._config.append)
            self._ndjson.append(NdjsonWriter(self._stack.enter_context(report)))
        if self._stdout_format is OutputFormat.NDJSON and self._config.output != Path("-"):
            self._ndjson.append(NdjsonWriter(sys.stdout.buffer))
        self._stack.callback(self._progress.end_domain)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        # The exception goes on to each output: a failed run must not rename its partial report
        # into place as if it had finished.
        self._stack.__exit__(*exc_info)

    @property
    def _stdout_format(self) -> OutputFormat | None:
        if self._config.quiet or self._config.output == Path("-") or self._stdout_closed:
            return None
        return self._config.output_format

    def handle(self, event: Event) -> DomainSummary | None:
        try:
            return self._handle(event)
        except BrokenPipeError:
            # stdout was closed (`| head`): the scan and its report file go on without it.
            _discard_stdout()
            self._stdout_closed = True
            return event if isinstance(event, DomainSummary) else None

    def _handle(self, event: Event) -> DomainSummary | None:
        if isinstance(event, ScanStarted):
            self._now = event.started_at
            if self._config.metrics is not None:
                from hsts_coverage.report.metrics import ScanMetrics

                self._metrics = ScanMetrics(event.started_at)
            self._emit(scan_record(self._config, event.started_at, open_files=event.open_files))
        elif isinstance(event, DomainStarted):
            self._progress.start_domain(event.enumeration.domain, event.hosts)
        elif isinstance(event, HostResult):
            self._host(event)
        else:
            self._summary(event)
            return event
        return None

    def _host(self, result: HostResult) -> None:
        assert self._now is not None
        record = host_record(result, self._now)
        self._emit(record)
        if self._table is not None:
            self._table.add(record)
        self._progress.advance()

    def _summary(self, summary: DomainSummary) -> None:
        self._progress.end_domain()
        record = summary_record(summary)
        self._emit(record)
        if self._config.quiet:
            print(verdict_text(record), flush=True)
        elif self._stdout_format is OutputFormat.TABLE and self._table is not None:
            self._table.render(record)

    def _emit(self, record: Record) -> None:
        record["scan_id"] = self._scan_id  # groups this run's records in an --append log
        for writer in self._ndjson:
            writer.write(record)
        if self._metrics is not None:
            self._metrics.add(record)
        if self._records is not None:
            self._records.append(record)

    def finish(self, *, interrupted: bool = False) -> None:
        """What needs the whole scan: metrics, the JSON document, the diff against a baseline."""
        if self._metrics is not None and self._config.metrics is not None:
            self._write_metrics(self._metrics, self._config.metrics, interrupted)
        if self._records is None or not self._records:
            return
        this = Report.of("this scan", self._records)
        if self._stdout_format is OutputFormat.JSON:
            _print_json({"scan": this.scan, "hosts": this.hosts, "summaries": this.summaries})
        if self._config.html is not None:
            _write_html(self._config.html, this.records)
        if self._config.junit is not None:
            self._write_junit(self._config.junit, self._records)
        if self._baseline is not None and not self._stdout_closed:
            from hsts_coverage.report.diff import diff_reports
            from hsts_coverage.report.diffview import diff_text

            print(diff_text(diff_reports(self._baseline, this)))

    @staticmethod
    def _write_junit(path: Path, records: list[Record]) -> None:
        from hsts_coverage.report.junit import write_junit

        try:
            write_junit(path, records)
        except OSError as exc:
            print(f"{PROG}: cannot write the JUnit report {path}: {exc.strerror}", file=sys.stderr)

    @staticmethod
    def _write_metrics(metrics: ScanMetrics, path: Path, interrupted: bool) -> None:
        try:
            metrics.write(path, datetime.now(UTC), interrupted=interrupted)
        except OSError as exc:
            print(f"{PROG}: cannot write the metrics {path}: {exc.strerror}", file=sys.stderr)


def _table_report() -> TableReport:
    from hsts_coverage.report.table import TableReport  # rich: only for a table

    return TableReport(sys.stdout)


class _NoProgress:
    def start_domain(self, domain: str, total: int) -> None:
        """No bar: not a terminal, or not wanted."""

    def advance(self) -> None:
        """No bar."""

    def end_domain(self) -> None:
        """No bar."""


def _progress_view(wanted: bool) -> ProgressView | _NoProgress:
    if not (wanted and sys.stderr.isatty()):
        return _NoProgress()
    from hsts_coverage.report.table import ProgressView  # rich: only on a terminal

    return ProgressView(sys.stderr, True)


def _discard_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


@contextmanager
def _open(path: Path, *, append: bool) -> Iterator[BinaryIO]:
    """The report file. A regular file (or a new name) is written through a temporary file
    renamed into place at the end, so the final name never holds half a report; anything else
    (`/dev/null`, `/dev/stdout`, a FIFO) is written to as a stream, never replaced. With
    `append`, lines are added to the file as they come (for a log that cron keeps adding to),
    under an exclusive lock, starting on a fresh line."""
    if path == Path("-"):
        yield sys.stdout.buffer
        return
    if append:
        with _appending(path) as stream:
            yield stream
        return
    final = _regular_target(path)
    if final is None:
        with _opened(path, "wb") as stream:
            yield stream
        return
    target = final.with_name(f".{final.name}.{os.getpid()}.part")
    with _opened(target, "wb") as stream:
        try:
            yield stream
        except BaseException:
            print(f"{PROG}: partial report kept in {target}", file=sys.stderr)
            raise
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(target, final)


def _regular_target(path: Path) -> Path | None:
    """Where to rename a finished report: the path (through its symlinks), or None for a path
    that is not a regular file (a device, a FIFO), which must not be replaced."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return path
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror}")
    return path.resolve() if stat.S_ISREG(mode) else None


@contextmanager
def _opened(path: Path, mode: str) -> Iterator[BinaryIO]:
    try:
        stream = path.open(mode)
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror}")
    with stream:
        yield cast(BinaryIO, stream)


@contextmanager
def _appending(path: Path) -> Iterator[BinaryIO]:
    with _opened(path, "ab") as stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            usage_error(f"{path} is being appended to by another scan: one writer at a time")
        except OSError:
            pass  # a file that takes no lock (a device): nothing to share it with
        if _ends_mid_line(path):
            stream.write(b"\n")  # a torn last line stays alone on its line, for readers to skip
        yield stream
        stream.flush()


def _ends_mid_line(path: Path) -> bool:
    try:
        with path.open("rb") as log:
            if not stat.S_ISREG(os.fstat(log.fileno()).st_mode) or not log.seek(0, os.SEEK_END):
                return False
            log.seek(-1, os.SEEK_END)
            return log.read(1) != b"\n"
    except OSError:
        return False


def main() -> None:
    """Console entry point: click's usage errors become one line on stderr and exit 2."""
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except _ClickException as exc:  # click's own parsing errors: unknown option, bad value ...
        _fail(exc.format_message(), getattr(exc, "exit_code", EXIT_USAGE))  # type: ignore[attr-defined]
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        _fail("interrupted", 130)
    except OSError as exc:  # a report that cannot be written: a full disk, a closed device
        _fail(f"the run failed: {clean(exc)}", EXIT_FAILED)
    except Exception as exc:  # a bug outside every host's boundary
        detail = clean(f"{type(exc).__name__}: {exc}")
        _fail(f"internal error: {detail} (please report this bug)", EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> NoReturn:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)
