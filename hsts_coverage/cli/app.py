"""The typer application, its usage error, and the event loop every command runs on."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from hsts_coverage import __version__
from hsts_coverage.report.text import clean
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
    than asyncio's, and connections are what a scan is made of.

    What the event loop reports itself (a callback that raised, a transport's "Fatal error on
    SSL protocol") is one line on stderr, not the traceback asyncio's logger would print. Once
    the run has ended with an error, the connections it leaves behind are closed quietly: what
    they say as they are torn down (uvloop writes to an already closed socket, for one) is not
    news, and the error that ended the run is told by the caller."""
    try:
        import uvloop
    except ImportError:
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        loop = runner.get_loop()
        loop.set_exception_handler(_one_line)
        try:
            return runner.run(main)
        except BaseException:
            loop.set_exception_handler(_quiet)
            raise


def _one_line(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    message = clean(context.get("message") or "error")
    exc = context.get("exception")
    detail = f": {clean(type(exc).__name__)}: {clean(exc)}" if exc is not None else ""
    print(f"{PROG}: event loop: {message}{detail}", file=sys.stderr)


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    pass


_T = TypeVar("_T")
