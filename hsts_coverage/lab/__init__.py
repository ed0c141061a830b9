"""The local test lab: DNS, a crt.sh look-alike and web hosts on loopback, from one table.

`python -m hsts_coverage.lab` runs it; `Lab` is the same thing as a Python API.
"""

from hsts_coverage.lab.fleet import Lab

__all__ = ["Lab"]
