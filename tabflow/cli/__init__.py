"""The `tabflow` command: the layer above flows/ (it starts them), so it may import Prefect; nothing below does."""

from tabflow.cli.main import entry, main

__all__ = ["entry", "main"]
