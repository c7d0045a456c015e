"""`nrbench run`: placeholder, being implemented (see the open issues)."""

from __future__ import annotations

import argparse

HELP = "(not implemented yet)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments yet."""


def run(args: argparse.Namespace) -> int:
    """Not implemented yet."""
    raise NotImplementedError("nrbench run is not implemented yet")
