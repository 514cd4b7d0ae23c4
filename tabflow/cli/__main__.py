"""`python -m tabflow.cli`: the same as the `tabflow` command."""

from tabflow.cli.main import entry

entry()
