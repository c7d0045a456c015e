"""The deep methods' progress bars: shown with ``progress=True`` and free of torch warnings."""

from __future__ import annotations

import re
import warnings

import pytest

from methods import DCN, DEC, ENRC, ACeDeC


@pytest.mark.parametrize("make", [
    lambda ae: DCN(4, ae, max_iter=60, batch_size=100, device="cpu", progress=True),
    lambda ae: DEC(4, ae, max_iter=60, batch_size=100, device="cpu", progress=True),
    lambda ae: ENRC([4, 2], ae, max_iter=60, batch_size=100, init_rounds=2, device="cpu", progress=True),
    lambda ae: ACeDeC(4, ae, max_iter=60, batch_size=100, device="cpu", progress=True),
], ids=["DCN", "DEC", "ENRC", "ACeDeC"])
def test_progress_bar_shows_the_loss_without_warnings(synth2_ae, make, capsys) -> None:
    X, _, ae = synth2_ae
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. float() of a tensor that requires grad (torch >= 2.13 warns)
        make(ae).fit(X)
    err = capsys.readouterr().err
    name = type(make(ae)).__name__
    assert f"{name}: " in err and "/60 [" in err  # the bar
    assert re.search(r"[A-Za-z_]+=-?\d", err)  # with the loss terms in its postfix
