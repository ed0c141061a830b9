"""Where a domain stands against the preload list: the user's Chromium list file when given
(`--preload-list`), else the list of the hstspreload package.

The package is imported on the first look-up, not with this module: its table and the part of
its data a look-up reads cost about 1.7 MiB, and the scan looks up one domain per summary, after
its hosts (and its worker processes) are done.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from hsts_coverage.models import PreloadEntry, PreloadStatus
from hsts_coverage.rules.preload import in_list_file, lookup_with


def preload_status(domain: str, entries: Mapping[str, PreloadEntry] | None) -> PreloadStatus:
    """From the user's Chromium list file when given, else from the hstspreload package."""
    if entries is not None:
        return in_list_file(domain, entries)
    import hstspreload

    source = f"hstspreload package {hstspreload.__version__}"
    return lookup_with(domain, _in_package_list, source)


def _in_package_list(name: str) -> bool:
    import hstspreload

    # The package reads its data with importlib.resources.open_binary, deprecated since 3.11.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(hstspreload.in_hsts_preload(name))
