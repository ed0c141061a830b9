"""hsts-coverage: which hosts would break if a domain turned on HSTS includeSubDomains today."""

__version__ = "0.1.0"
