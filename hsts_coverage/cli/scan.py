"""`hsts-coverage scan`: its options, the ScanConfig they make, and the run."""

from __future__ import annotations

import asyncio
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
    baseline_report,
    distrust,
    dns_sources,
    finite,
    guess_labels,
    name_list,
    output_file,
    parse_domains,
    parse_shard_value,
    parse_sources,
    parse_workers,
    preload,
    reach,
    read_lines,
    read_names,
    same_file,
)
from hsts_coverage.cli.outputs import Outputs
from hsts_coverage.cli.signals import StopOnSignal
from hsts_coverage.config import (
    DEFAULT_CERTSPOTTER_URL,
    DEFAULT_CT_URL,
    USER_AGENT,
    OutputFormat,
    ScanConfig,
)
from hsts_coverage.pipeline import (
    scan,
)
from hsts_coverage.report.reader import Report
from hsts_coverage.rules.summary import exit_code


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
        finite(flag, number)
    if output is not None and html is not None and same_file(output, html):
        usage_error(f"--output and --html name the same file ({output}): the page would replace it")
    given = [*(domains or ()), *read_lines(domains_file, "domains file")]
    listed = name_list(names_from, given, names_files)
    scanned = parse_domains(given or list(listed or ()))
    if listed is not None and (zone_file or axfr):
        usage_error(
            "--names-from holds the names already: give --zone-file and --axfr to enumerate"
        )
    earlier = baseline_report(baseline)  # read now: a bad file is a usage error before the scan
    config = ScanConfig(
        domains=scanned,
        names_from=names_from,
        enumerations=listed,
        **dns_sources(zone_file, axfr, scanned),
        guess=not no_guess,
        guess_list=guess_list,
        guess_labels=guess_labels(guess_list),
        guess_concurrency=guess_concurrency,
        shard=parse_shard_value(shard),
        baseline=baseline,
        html=html,
        metrics=output_file(metrics, "--metrics"),
        junit=output_file(junit, "--junit"),
        ct_url=ct_url,
        sources=parse_sources(source),
        certspotter_url=certspotter_url,
        certspotter_key=certspotter_key or None,
        use_ct=not no_ct and names_from is None,
        ct_attempts=ct_attempts,
        ct_timeout=ct_timeout,
        names_files=names_files,
        extra_names=tuple(line for path in names_files for line in read_names(path)),
        concurrency=concurrency,
        workers=parse_workers(workers, rate),
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
        **reach(resolver, ca_bundle, allow_private, allow_cidr, timeout, user_agent),
        **preload(preload_list),
        **distrust(distrust_file),
    )
    if config.shard_by == "domain" and config.shard and config.shard[1] > len(config.domains):
        usage_error(
            f"--shard {shard}: {len(config.domains)} domains make at most {len(config.domains)} "
            "shards of whole domains (for more, enumerate and scan --names-from)"
        )
    raise typer.Exit(run_async(_run(config, earlier)))


async def _run(config: ScanConfig, baseline: Report | None = None) -> int:
    verdicts = []
    with Outputs(config, baseline) as outputs, StopOnSignal() as stop:
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
