"""timm's face for an rPPG network: `forward_features`, `forward_head`, `reset_classifier`, `num_features`.

Why a shared base: every re-implemented network keeps its public parameter names (so checkpoints load
strictly) but must also look like a timm model. Subclasses name their head modules and say how the head
and the pooled (pre-logits) features are computed from `forward_features`' output.
"""

from __future__ import annotations

import torch
from torch import nn


class RPPGNetwork(nn.Module):
    """Base for the re-implemented networks. Subclasses set `head_modules` and `num_features`."""

    head_modules: tuple[str, ...] = ()
    num_features: int

    def __init__(self) -> None:
        super().__init__()
        self.has_head = True

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def run_head(self, features: torch.Tensor) -> torch.Tensor:
        """The network's own head on `forward_features`' output: the rPPG it was trained to give."""
        raise NotImplementedError

    def pool_features(self, features: torch.Tensor) -> torch.Tensor:
        """`forward_features`' output averaged over space: `num_features` channels per time step."""
        raise NotImplementedError

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if pre_logits or not self.has_head:
            return self.pool_features(features)
        return self.run_head(features)

    def reset_classifier(self, num_classes: int = 0) -> None:
        """`reset_classifier(0)` strips the head: its modules are deleted and `forward` then returns the
        pooled features. An rPPG head has one output, so no other class count is meaningful."""
        if num_classes != 0:
            raise ValueError(
                f"{type(self).__name__}.reset_classifier: only num_classes=0 (strip the rPPG head) is supported, "
                f"got {num_classes}"
            )
        for name in self.head_modules:
            if hasattr(self, name):
                delattr(self, name)
        self.has_head = False

    def get_classifier(self) -> nn.Module:
        return nn.ModuleDict({name: getattr(self, name) for name in self.head_modules if hasattr(self, name)})
