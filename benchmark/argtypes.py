"""argparse value types shared by the command line and the scripts in ``benchmark/scripts``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def json_object(text: str) -> dict[str, Any]:
    """A JSON object given on the command line, e.g. ``'{"resolution": 64}'``.

    Raises ``argparse.ArgumentTypeError`` (which argparse reports with the option's
    name) for invalid JSON or for JSON that is not an object.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object; got {text!r}")
    return value
