"""Views of scan events: NDJSON records (the machine format) and the terminal report."""
