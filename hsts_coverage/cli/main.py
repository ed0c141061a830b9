"""The console entry point: the commands registered, every error one line and an exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

# The command modules register their commands on `app` as they load.
import hsts_coverage.cli.commands
import hsts_coverage.cli.scan  # noqa: F401
from hsts_coverage.cli.app import PROG, UsageError, app
from hsts_coverage.report.text import clean
from hsts_coverage.rules.summary import EXIT_FAILED, EXIT_USAGE

# Typer vendors click in recent versions; its exception base is reachable from a public class.
_ClickException: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


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
