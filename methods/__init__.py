"""Deep clustering methods on torch: autoencoders and pretraining, ENRC, ACe/DeC, DCN, DEC/IDEC.

Estimators follow the scikit-learn conventions (DESIGN.md "Contracts").
Names are imported lazily so that ``import methods`` stays cheap.  Pretraining is
``from methods.pretrain import pretrain`` (``methods.pretrain`` is the module).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FeedforwardAutoencoder": "methods.autoencoders",
    "ConvResNetAutoencoder": "methods.autoencoders",
    "LinearAutoencoder": "methods.autoencoders",
    "Autoencoder": "methods.autoencoders",
    "PretrainBudget": "methods.pretrain",
    "BUDGETS": "methods.pretrain",
    "Augmenter": "methods.augment",
    "ENRC": "methods.enrc",
    "ACeDeC": "methods.acedec",
    "DCN": "methods.dcn",
    "DEC": "methods.dec",
    "IDEC": "methods.dec",
    "AEKMeans": "methods.pipelines",
    "AESubKmeans": "methods.pipelines",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'methods' has no attribute {name!r}")
