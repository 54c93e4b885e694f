"""polyglue core: cards, data, metrics, runs, reports and the `bench` CLI.

Importing this package is cheap on purpose (no torch, transformers or datasets):
`bench list`, `bench validate` and `bench schema` must stay fast for contributor CI.
"""

__version__ = "0.1.0"
