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


def in_cluster_space(beta_cs: np.ndarray) -> np.ndarray:
    """Boolean mask of the cluster-space dimensions, ``beta_cs > CLUSTER_SPACE_THRESHOLD``."""
    return np.asarray(beta_cs, dtype=np.float64) > CLUSTER_SPACE_THRESHOLD
