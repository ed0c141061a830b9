"""The options several commands declare alike (`scan`, `enumerate`, `policy`): each one's
type, environment variable and help text, as typer reads them. What a value means and how it
becomes a typed `ScanConfig` field is `options`' to say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hsts_coverage.cli.app import ENV

ResolverOption = Annotated[
    list[str] | None,
    typer.Option(
        envvar=f"{ENV}RESOLVER", help="DNS server IP[:PORT] to ask (repeatable); default: system."
    ),
]


CaBundleOption = Annotated[
    Path | None,
    typer.Option(envvar=f"{ENV}CA_BUNDLE", help="PEM file of trusted roots instead of Mozilla's."),
]


AllowPrivateOption = Annotated[
    bool,
    typer.Option(
        "--allow-private",
        envvar=f"{ENV}ALLOW_PRIVATE",
        help="Probe private, loopback and reserved addresses too.",
    ),
]


AllowCidrOption = Annotated[
    list[str] | None,
    typer.Option(envvar=f"{ENV}ALLOW_CIDR", help="Probe addresses in this network (repeatable)."),
]


TimeoutOption = Annotated[
    float,
    typer.Option(envvar=f"{ENV}TIMEOUT", min=0.1, help="Seconds per connection and request."),
]


UserAgentOption = Annotated[
    str, typer.Option(envvar=f"{ENV}USER_AGENT", help="User-Agent of every request.")
]


PreloadListOption = Annotated[
    Path | None,
    typer.Option(
        envvar=f"{ENV}PRELOAD_LIST",
        help="Chromium's transport_security_state_static.json instead of the bundled list.",
    ),
]


ZoneFileOption = Annotated[
    list[Path] | None,
    typer.Option(
        envvar=f"{ENV}ZONE_FILE",
        help="The domain's zone (RFC 1035 master file, as DNS hosts export it): every "
        "name in it is scanned (repeatable).",
    ),
]


AxfrOption = Annotated[
    list[str] | None,
    typer.Option(
        envvar=f"{ENV}AXFR",
        help="Zone transfer from this server, IP[:PORT], or 'auto' for the domain's own "
        "NS servers (repeatable).",
    ),
]


NoGuessOption = Annotated[
    bool,
    typer.Option(
        "--no-guess",
        envvar=f"{ENV}NO_GUESS",
        help="Do not resolve the common labels (blog, dev, staging, ...) under the domain.",
    ),
]


GuessListOption = Annotated[
    Path | None,
    typer.Option(envvar=f"{ENV}GUESS_LIST", help="Labels to resolve instead of the shipped list."),
]


GuessConcurrencyOption = Annotated[
    int,
    typer.Option(
        envvar=f"{ENV}GUESS_CONCURRENCY", min=1, help="DNS queries in flight while guessing."
    ),
]
