"""The hard cluster-space / shared-space split of ACe/DeC (Table 3, Figs. 1b and 3), torch-free.

One source of truth for the estimator (``ACeDeC.n_cluster_dims_``), the harness and
the reports, which read the stored betas without importing torch.
"""

from __future__ import annotations

import numpy as np

#: A rotated dimension belongs to the cluster space iff ``beta_cs > CLUSTER_SPACE_THRESHOLD``.
#: The paper's hardening rule is in its supplement (SP Sec. 1.4), which we do not have; the
#: authors' later library (ClustPy, read, not copied) keeps a dimension in the shared space
#: while ``beta_ss`` is within 0.05 of the uniform 1/2, so the cluster space needs 0.5 + 0.05.
CLUSTER_SPACE_THRESHOLD = 0.55

#: The exponent of beta in the weighted squared distance, by name.  "linear" is ENRC
#: Eq. 2 as printed (``beta * diff^2``).  "squared" is ``(beta * diff)^2``, as in the
#: authors' implementation.  With two spaces (ACe/DeC) the difference is qualitative:
#: under "linear" the gradient of the space terms w.r.t. ``beta_cs[i]`` is
#: ``W_i - T_i`` (within-cluster minus total scatter of rotated dimension i), which
#: is never positive (variance decomposition), so every dimension drifts into the
#: cluster space and the shared space empties; under "squared" the space terms
#: ``beta^2 W_i + (1 - beta)^2 T_i`` have the interior minimum
#: ``beta_cs[i] = T_i / (W_i + T_i)``, > 0.5 exactly where the clusters explain part
#: of dimension i's variance and near 0.5 where they explain none.
BETA_POWERS: dict[str, int] = {"linear": 1, "squared": 2}

#: ``ACeDeC``'s default ``beta_weighting`` (measured trade-off in :mod:`methods.acedec`).
DEFAULT_BETA_WEIGHTING = "linear"


def in_cluster_space(beta_cs: np.ndarray) -> np.ndarray:
    """Boolean mask of the cluster-space dimensions, ``beta_cs > CLUSTER_SPACE_THRESHOLD``."""
    return np.asarray(beta_cs, dtype=np.float64) > CLUSTER_SPACE_THRESHOLD
