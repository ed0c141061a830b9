"""`python -m hsts_coverage` runs the command line."""

from hsts_coverage.cli import main

main()
