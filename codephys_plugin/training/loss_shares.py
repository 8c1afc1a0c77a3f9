"""How much each Eq. 16 term weighs: its share of the loss, and its share of the gradient that reaches the
backbone (the gradient at the adapter's features). A term can dominate the loss and still barely move the
backbone, or the other way round; both are measured on one batch with the head in eval mode, so the
measurement changes no statistics. A frozen backbone receives no gradient, so it gets loss shares only."""

from __future__ import annotations

import torch
from torch import Tensor

from codephys_plugin.code_query_head import CodeQueryHead

TERMS = ("physiological", "code", "code_ppg", "distill")


def loss_shares(head: CodeQueryHead, inputs: Tensor, ppg: Tensor, *, label_form: str, alpha: float,
                beta: float) -> dict[str, float]:
    """``loss_share_<term>`` and ``gradient_share_<term>`` for the weighted terms α·L_phy, β·L_code',
    β·L_code'^ppg and L_distill on one batch (inputs in the adapter's layout, ppg 'b t')."""
    was_training = head.training
    head.eval()
    try:
        with torch.enable_grad():
            output = head(inputs)
            losses = head.loss(output, ppg, label_form=label_form, alpha=alpha, beta=beta)
            features = output.features.spatial if output.features.spatial is not None else output.features.temporal
            weighted = dict(zip(TERMS, (alpha * losses.physiological, beta * losses.code, beta * losses.code_ppg,
                                        losses.distill)))
            gradients = ({name: _gradient_norm(term, features) for name, term in weighted.items()}
                         if features.requires_grad else {})
    finally:
        head.train(was_training)
    values = {name: float(term.detach()) for name, term in weighted.items()}
    total_loss = sum(values.values())
    total_gradient = sum(gradients.values())
    shares = {f"loss_share_{name}": value / total_loss if total_loss else 0.0 for name, value in values.items()}
    shares.update({f"gradient_share_{name}": norm / total_gradient if total_gradient else 0.0
                   for name, norm in gradients.items()})
    return shares


def _gradient_norm(term: Tensor, features: Tensor) -> float:
    if not term.requires_grad:
        return 0.0
    (gradient,) = torch.autograd.grad(term, features, retain_graph=True, allow_unused=True)
    return 0.0 if gradient is None else float(gradient.norm())
