"""Gradient ascent on the Stiefel manifold {W in R^{d x q} : W^T W = I} (used by mSC's W-step).

- Riemannian gradient of f at W (embedded metric): G~ = G - W sym(W^T G), with G the
  Euclidean gradient and sym(A) = (A + A^T)/2.
- Retraction: the Q factor of W + tau G~ with the signs fixed so diag(R) > 0, which keeps
  W^T W = I to machine precision after every step.
- Step size by Armijo backtracking: accept tau when
  f(R(W + tau G~)) >= f(W) + c tau ||G~||^2, halving tau otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

#: Armijo sufficient-increase constant.
ARMIJO_C = 1e-4
#: Largest number of halvings of the step before a W-step gives up (converged).
MAX_HALVINGS = 30
#: Length of the first trial step (Frobenius norm over all views) when no step is known yet.
FIRST_STEP = 0.2


def riemannian_grad(W: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """Project the Euclidean gradient G onto the tangent space of the Stiefel manifold at W."""
    WtG = W.T @ G
    return G - W @ (0.5 * (WtG + WtG.T))


def qr_retract(W: torch.Tensor) -> torch.Tensor:
    """The orthonormal Q factor of W with sign convention diag(R) > 0."""
    Q, R = torch.linalg.qr(W)
    s = torch.sign(torch.diagonal(R))
    s = torch.where(s == 0, torch.ones_like(s), s)
    return Q * s


def armijo_ascent_step(f: Callable[[Sequence[torch.Tensor]], torch.Tensor], Ws: list[torch.Tensor],
                       tau: float | None, value: torch.Tensor | None = None
                       ) -> tuple[list[torch.Tensor], float, float, float, bool, torch.Tensor | None]:
    """One Riemannian gradient-ascent step on a product of Stiefel manifolds.

    ``f`` maps a list of (d, q_v) matrices to a scalar tensor.  Starting at step ``tau``
    (or, when None, the step whose length ||tau G~|| is ``FIRST_STEP``), halves until the Armijo condition holds.

    ``value``, when given, is ``f(Ws)`` still attached to its autograd graph, with ``Ws`` the
    leaf tensors it was computed from (``requires_grad``); the step then does not repeat that
    forward pass.  Trial points are evaluated with autograd on, so the accepted one's value comes
    back attached and the next step can take its gradient directly: one forward pass per step
    instead of two, with the same numbers (the same operations run either way).

    Returns (new Ws, f(old), f(new), accepted tau, accepted?, f(new) attached to the new Ws or None).
    The new Ws require grad when accepted; detach them before leaving the optimisation.
    """
    if value is None:
        Wv = [W.detach().clone().requires_grad_(True) for W in Ws]
        value = f(Wv)
    else:
        if not all(W.requires_grad and W.is_leaf for W in Ws):
            raise ValueError("armijo_ascent_step: with value=, Ws must be the leaf tensors value was computed from")
        Wv = Ws
    grads = torch.autograd.grad(value, Wv)
    rg = [riemannian_grad(W.detach(), G) for W, G in zip(Wv, grads)]
    gn2 = float(sum((g * g).sum() for g in rg))
    f0v = float(value.detach())
    if gn2 == 0.0:
        return [W.detach() for W in Wv], f0v, f0v, tau or 0.0, False, None
    if tau is None:
        tau = FIRST_STEP / gn2 ** 0.5
    for _ in range(MAX_HALVINGS):
        with torch.no_grad():
            cand = [qr_retract(W.detach() + tau * g).requires_grad_(True) for W, g in zip(Wv, rg)]
        value1 = f(cand)
        f1 = float(value1.detach())
        if f1 >= f0v + ARMIJO_C * tau * gn2:
            return cand, f0v, f1, tau, True, value1
        tau *= 0.5
    return [W.detach() for W in Wv], f0v, f0v, tau, False, None
