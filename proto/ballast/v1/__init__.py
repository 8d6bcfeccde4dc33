"""``ballast.v1``: generated messages and stubs. Regenerate with ``make proto``."""
