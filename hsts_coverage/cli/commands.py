"""The commands beside scan: enumerate, policy, header, diff, merge, html, schema."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from hsts_coverage.cli.app import ENV, app, run_async, usage_error
from hsts_coverage.cli.flags import (
    AllowCidrOption,
    AllowPrivateOption,
    AxfrOption,
    CaBundleOption,
    GuessConcurrencyOption,
    GuessListOption,
    NoGuessOption,
    PreloadListOption,
    ResolverOption,
    TimeoutOption,
    UserAgentOption,
    ZoneFileOption,
)
from hsts_coverage.cli.options import (
    dns_sources,
    guess_labels,
    parse_domains,
    parse_sources,
    preload,
    reach,
    read_lines,
    read_names,
    read_report_file,
)
from hsts_coverage.cli.outputs import open_report, print_json, table_report, write_html
from hsts_coverage.config import (
    DEFAULT_CERTSPOTTER_URL,
    DEFAULT_CT_URL,
    USER_AGENT,
    ScanConfig,
)
from hsts_coverage.models import (
    EnumerationStatus,
    Verdict,
)
from hsts_coverage.pipeline import (
    check_policy,
    enumerate_only,
)
from hsts_coverage.report.header import header_text
from hsts_coverage.report.ndjson import NdjsonWriter
from hsts_coverage.report.reader import ReportError
from hsts_coverage.report.records import (
    apex_record,
    header_check_record,
)
from hsts_coverage.report.text import clean
from hsts_coverage.rules.hsts_header import check_header
from hsts_coverage.rules.summary import exit_code


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
    scanned = parse_domains([*(domains or ()), *read_lines(domains_file, "domains file")])
    config = ScanConfig(
        domains=scanned,
        **dns_sources(zone_file, axfr, scanned),
        guess=not no_guess,
        guess_list=guess_list,
        guess_labels=guess_labels(guess_list),
        guess_concurrency=guess_concurrency,
        ct_url=ct_url,
        sources=parse_sources(source),
        certspotter_url=certspotter_url,
        certspotter_key=certspotter_key or None,
        ct_attempts=ct_attempts,
        ct_timeout=ct_timeout,
        ct_interval=ct_interval,
        names_files=names_files,
        extra_names=tuple(line for path in names_files for line in read_names(path)),
        **reach(resolver, None, allow_private, allow_cidr, timeout, user_agent),
    )
    raise typer.Exit(run_async(_enumerate(config, output)))


async def _enumerate(config: ScanConfig, output: Path) -> int:
    from hsts_coverage.report.records import domain_records, header_record

    complete = True
    with open_report(output, append=False) as stream:
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
        domains=parse_domains([domain]),
        **reach(resolver, ca_bundle, allow_private, allow_cidr, timeout, user_agent),
        **preload(preload_list),
    )
    report = run_async(check_policy(config, config.domains[0]))
    if output_format is TextOrJson.JSON:
        print_json(apex_record(report))
    else:
        table_report().render_apex(apex_record(report))
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
        print_json(header_check_record(check))
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

    result = diff_reports(read_report_file(old), read_report_file(new), expiry_days)
    if output_format is DiffFormat.JSON:
        print_json(diff_json(result))
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
        merged = merge_reports([read_report_file(path) for path in reports])
    except ReportError as exc:
        usage_error(str(exc))
    with open_report(output or Path("-"), append=False) as stream:
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
        write_html(output, read_report_file(paths[0]).records)
        return
    from hsts_coverage.report.history import render_history

    page = render_history([read_report_file(path) for path in paths])
    with open_report(output, append=False) as stream:
        stream.write(page.encode("utf-8"))


@app.command("schema")
def schema_command() -> None:
    """Print the JSON Schema (draft 2020-12) of the NDJSON report records."""
    from hsts_coverage.report.schema import schema_text

    typer.echo(schema_text(), nl=False)
