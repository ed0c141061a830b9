"""The JSON Schema (draft 2020-12) of the NDJSON report records, shipped with the package.

`schema.json` next to this module describes one record: `oneOf` a scan, host or summary record,
told apart by `type`. Objects accept properties the schema does not name, because new fields may
appear without a change of `schema_version` (see README, "Report format"); the tests validate the
lab's records with every object closed, so a field the records gain must be added here too.
`hsts-coverage schema` prints the file as shipped.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

SCHEMA_FILE = "schema.json"


def schema_text() -> str:
    """The schema exactly as shipped (what `hsts-coverage schema` prints)."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The schema as a dict, ready for a draft 2020-12 validator."""
    schema: dict[str, Any] = json.loads(schema_text())
    return schema
