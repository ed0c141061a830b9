"""What the event loop reports itself reaches stderr as one line, and nothing once the run has
failed (`cli.app.run_async`). Run in a subprocess: asyncio's logger prints to the real stderr
there, as it does for a user, not into pytest's log capture."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROLOGUE = """
import asyncio
from hsts_coverage.cli.app import run_async
"""

# A callback raises while the run goes on: asyncio would log "Exception in callback" with a
# traceback.
A_CALLBACK_RAISES = """
async def main():
    asyncio.get_running_loop().call_soon(lambda: 1 / 0)
    await asyncio.sleep(0.05)
    return "done"
print(run_async(main()))
"""

# The run fails while a connection is open; as the runner cancels it, its teardown reports an
# error, as uvloop's SSL transport does when it writes to a socket already closed.
A_TEARDOWN_REPORTS_AFTER_A_FAILURE = """
async def connection():
    try:
        await asyncio.sleep(60)
    finally:
        asyncio.get_running_loop().call_exception_handler({
            "message": "Fatal error on SSL protocol",
            "exception": RuntimeError("unable to perform operation: the handler is closed"),
        })
async def main():
    asyncio.get_running_loop().create_task(connection())
    await asyncio.sleep(0.05)
    raise OSError(27, "File too large")
try:
    run_async(main())
except OSError as exc:
    print("the run failed:", exc)
"""


def run(code: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(PROLOGUE) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


def test_an_error_the_loop_reports_is_one_line() -> None:
    done = run(A_CALLBACK_RAISES)
    assert done.stdout == "done\n"
    assert "Traceback" not in done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("hsts-coverage: event loop: Exception in callback")
    assert line.endswith("ZeroDivisionError: division by zero")


@pytest.mark.parametrize("uvloop", [True, False], ids=["uvloop", "asyncio"])
def test_connections_torn_down_after_a_failure_are_quiet(uvloop: bool) -> None:
    # Without uvloop, run_async falls back to asyncio's own loop: the same handler.
    code = A_TEARDOWN_REPORTS_AFTER_A_FAILURE
    if not uvloop:
        code = "import sys\nsys.modules['uvloop'] = None\n" + code
    done = run(code)
    assert done.stdout == "the run failed: [Errno 27] File too large\n"
    assert done.stderr == ""
