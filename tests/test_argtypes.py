"""benchmark.argtypes.json_object: a JSON object from the command line, or a clear argparse error."""

from __future__ import annotations

import argparse

import pytest

from benchmark.argtypes import json_object


def test_json_object_parses_objects_exactly() -> None:
    assert json_object('{"resolution": 64, "x": [1, 2]}') == {"resolution": 64, "x": [1, 2]}
    assert json_object("{}") == {}


@pytest.mark.parametrize("text,match", [("{resolution: 64}", "not valid JSON"), ("[1, 2]", "JSON object"),
                                        ("64", "JSON object")])
def test_json_object_rejects_bad_text_through_argparse(text: str, match: str, capsys) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=match):
        json_object(text)
    ap = argparse.ArgumentParser(prog="x")
    ap.add_argument("--params", type=json_object)
    with pytest.raises(SystemExit):
        ap.parse_args(["--params", text])
    assert "argument --params" in capsys.readouterr().err
