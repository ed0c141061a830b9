"""Splitting a JSON stream into objects, whatever the chunk boundaries."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsts_coverage.sources.jsonstream import ObjectStream, StreamError, TruncatedError

ROWS = [
    {"name_value": "a.example.com\nb.example.com", "issuer_name": 'CN=R3 {x} "q" \\ [y]'},
    {"name_value": "c.example.com", "nested": {"list": [1, {"brace": "}"}]}},
    {"name_value": "d.example.com", "unicode": "\u00e9\u2603"},
]


def split(body: bytes, size: int) -> list[object]:
    stream = ObjectStream()
    objects = []
    for start in range(0, len(body), size):
        objects += stream.feed(body[start : start + size])
    objects += stream.close()
    return [orjson.loads(o) for o in objects]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 1 << 16])
def test_every_chunk_size_gives_the_same_objects(size: int) -> None:
    assert split(orjson.dumps(ROWS), size) == ROWS


@pytest.mark.parametrize("size", [1, 5, 1 << 16])
def test_legacy_objects_back_to_back(size: int) -> None:
    body = b"\n".join(orjson.dumps(row) for row in ROWS)
    assert split(body, size) == ROWS


def test_an_empty_array_is_fine() -> None:
    assert split(b" [ ] ", 1) == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", StreamError),
        (b"   ", StreamError),
        (b"<html>busy</html>", StreamError),
        (b"ERROR: statement timeout", StreamError),
        (b'[{"a": 1}, 42]', StreamError),
        (b'[{"a": "b"}', TruncatedError),
        (b'[{"a": "b', TruncatedError),
        (b'{"a": {"b": 1}', TruncatedError),
        (b'[{"a": 1}] [{"b": 2}]', StreamError),
    ],
)
def test_what_is_not_an_array_of_objects(body: bytes, error: type[Exception]) -> None:
    def read_all() -> None:
        stream = ObjectStream()
        stream.feed(body)
        stream.close()

    with pytest.raises(error):
        read_all()


def test_an_endless_object_is_refused() -> None:
    stream = ObjectStream(max_object=1 << 20)
    stream.feed(b'[{"name_value": "')
    for _ in range(15):  # 960 KiB: still under the limit
        stream.feed(b"a" * 65536)
    with pytest.raises(StreamError, match="larger than 1 MiB"):
        stream.feed(b"a" * 131072)


@given(st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=20)), max_size=5), st.data())
def test_any_array_of_objects_survives_any_chunking(
    rows: list[dict[str, str]], data: st.DataObject
) -> None:
    body = orjson.dumps(rows)
    size = data.draw(st.integers(min_value=1, max_value=max(1, len(body))))
    assert split(body, size) == rows
