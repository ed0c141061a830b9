"""The rules: pure functions from facts to findings and verdicts.

Names and scope (`names`), certificates (`der` decodes, `certificates` and `distrust` judge), the
Strict-Transport-Security header as browsers read it (`hsts_header`), the preload list's header
rules (`preload`), redirect steps (`redirects`), the host and domain verdicts (`host`). Nothing
here opens a socket, awaits, or reads the clock: import-linter's contracts keep it so.
"""
