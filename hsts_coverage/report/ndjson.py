"""NDJSON output: one record a line, written and flushed as each record is ready.

A line is written whole with one `write` of bytes ending in a newline, then flushed, so a reader
(or a crash) never sees half a record from this writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import BinaryIO

import orjson


class NdjsonWriter:
    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, record: Mapping[str, object]) -> None:
        """Any JSON object: report records, name lists, diff records."""
        self._stream.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self._stream.flush()
