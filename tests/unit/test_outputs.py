"""A report stream whose last bytes cannot be written (a full disk, a file-size limit) ends with
one line on stderr, never a traceback (cli/outputs.py `_opened`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Under a 1,000-byte file-size limit, 5,000 bytes wait in the stream's buffer: closing it is the
# write that fails (EFBIG; Python ignores SIGXFSZ). The stream is left to the garbage collector
# in the second case, as when a failing scan unwinds.
SCRIPT = """
import gc, resource, sys
from pathlib import Path
from hsts_coverage.cli.outputs import _opened

resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
target = Path(sys.argv[1])
if sys.argv[2] == "with":
    with _opened(target, "wb") as stream:
        stream.write(b"x" * 5000)
else:
    opened = _opened(target, "wb")
    opened.__enter__().write(b"x" * 5000)
    del opened
    gc.collect()
print("went on")
"""


def _run(tmp_path: Path, how: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-B", "-c", SCRIPT, str(tmp_path / "report.ndjson"), how]
    # Not measured under `make test`: coverage's own data file would hit the limit too.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE")}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def test_a_stream_that_cannot_be_finished_says_so_in_one_line(tmp_path: Path) -> None:
    for how in ("with", "collected"):
        done = _run(tmp_path, how)
        assert "Traceback" not in done.stderr, how
        assert "Exception ignored" not in done.stderr, how
        assert done.stderr.count("\n") == 1, done.stderr
        assert "cannot finish writing" in done.stderr
        assert "File too large" in done.stderr
        assert done.stdout == "went on\n"
