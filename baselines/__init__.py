"""Classical non-redundant clustering baselines on NumPy/SciPy/scikit-learn.

``Orth1``, ``Orth2`` (Cui et al. 2007), ``SubKmeans`` (Mautz et al. 2017),
``NrKmeans`` (Mautz et al. 2018), ``MSC`` (Niu et al. 2010) and ``ISAAC``
(Ye et al. 2016).  All follow the scikit-learn estimator conventions.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Orth1": "baselines.orth",
    "Orth2": "baselines.orth",
    "SubKmeans": "baselines.subkmeans",
    "NrKmeans": "baselines.nrkmeans",
    "MSC": "baselines.msc",
    "ISAAC": "baselines.isaac",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'baselines' has no attribute {name!r}")
