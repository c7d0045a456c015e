"""Fitted state shared by every estimator: a fit either completes or leaves the estimator unfitted.

The baselines and the deep methods (``methods``) decorate ``fit`` with
:func:`unfitted_on_error`, so a failed refit (bad input, a lost subspace, a diverged loss)
never leaves an earlier fit's labels or projections beside the failed call's
``n_features_in_``, where ``predict``/``transform`` would still use them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


def clear_fitted(estimator: Any) -> None:
    """Forget a previous fit: delete the fitted attributes (public names ending in ``_``, not parameters)."""
    params = set(estimator.get_params(deep=False))
    for name in [k for k in vars(estimator) if k.endswith("_") and not k.startswith("_") and k not in params]:
        delattr(estimator, name)


def unfitted_on_error(fit: F) -> F:
    """Decorate ``fit``: forget any previous fit first, and leave the estimator unfitted if ``fit`` raises.

    So a run that stops on bad input or a diverged loss (``methods.base.DivergedError``)
    never leaves labels, centres or a network that ``predict``/``transform`` would
    still use, nor a mix of an earlier fit's attributes with a failed one's.
    """
    @functools.wraps(fit)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        clear_fitted(self)
        try:
            out = fit(self, *args, **kwargs)
            X = args[0] if args else kwargs["X"]
            self.n_features_in_ = int(np.prod(np.shape(X)[1:]))  # features per sample (images: C*H*W)
            return out
        except BaseException:
            clear_fitted(self)
            raise

    return wrapper  # type: ignore[return-value]
