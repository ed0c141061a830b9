"""The typer application, its usage error, and the event loop every command runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from hsts_coverage import __version__
from hsts_coverage.rules.summary import EXIT_USAGE

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
