"""How the rPPG-Toolbox (and SSPD's repository) train each network with its own head: the loss on its own
output, the optimiser, the rate and its schedule. The bare baselines get exactly this, nothing weaker.

- PhysNet (PhysnetTrainer): negative Pearson; Adam, one-cycle to 9e-3.
- DeepPhys, EfficientPhys (DeepPhysTrainer, EfficientPhysTrainer): MSE per frame against the
  DiffNormalized label; AdamW (no weight decay), one-cycle to 9e-3.
- PhysFormer (PhysFormerTrainer): `physformer_loss` (NP + frequency CE + label-distribution KL, reweighted
  after epoch 10); Adam at 1e-4 with weight decay 5e-5, halved every 50 epochs. Its validation loss is the
  loss's Pearson term, which the reweighting leaves comparable across epochs (the toolbox validates it by the HR
  RMSE, which reaches its floor as early as the MAE and so cannot break the MAE's ties).
- SSPD: its repository trains the predictor by self-distillation only (the backbone is detached from it);
  the supervised head is the predictor trained with the backbone on negative Pearson, at its Adam rate 1e-3.

The others validate by their training loss, as the toolbox does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from codephys_plugin.adapters import Adapter
from codephys_plugin.adapters.clip_nets import PhysFormerAdapter, PhysNetAdapter, SSPDAdapter
from codephys_plugin.adapters.per_frame import DeepPhysAdapter, EfficientPhysAdapter
from codephys_plugin.losses.pearson import negative_pearson
from codephys_plugin.losses.physformer import physformer_loss


class OwnLoss(Protocol):
    def __call__(self, rppg: Tensor, label: Tensor, *, epoch: int, fs: float) -> Tensor:
        """'b t' outputs and DiffNormalized labels, in 0-based `epoch` of a run at `fs` Hz -> a scalar."""


def pearson_loss(rppg: Tensor, label: Tensor, *, epoch: int, fs: float) -> Tensor:
    return negative_pearson(rppg, label)


def frame_mse_loss(rppg: Tensor, label: Tensor, *, epoch: int, fs: float) -> Tensor:
    return F.mse_loss(rppg, label)


@dataclass(frozen=True)
class OwnRecipe:
    loss: OwnLoss
    optimizer: Literal["adam", "adamw"]
    lr: float
    weight_decay: float = 0.0
    one_cycle: bool = False
    """Torch's OneCycleLR peaking at `lr`, stepped per batch; otherwise the rate steps down per epoch."""
    decay_every_epochs: int | None = None
    """Without one-cycle: the rate halves every this many epochs; None: constant."""
    validation_loss: OwnLoss | None = None
    """What breaks ties among the epochs of equal validation HR MAE: the network's own loss, which must not
    change with the epoch (compared across epochs); None: `loss`."""

    def validate(self, rppg: Tensor, label: Tensor, *, fs: float) -> Tensor:
        """The validation loss of 'b t' outputs against their DiffNormalized labels."""
        return (self.validation_loss or self.loss)(rppg, label, epoch=0, fs=fs)

    def optimizer_for(self, parameters, lr: float) -> torch.optim.Optimizer:
        kind = torch.optim.AdamW if self.optimizer == "adamw" else torch.optim.Adam
        return kind(parameters, lr=lr, weight_decay=self.weight_decay)


OWN_RECIPES: dict[type[Adapter], OwnRecipe] = {
    PhysNetAdapter: OwnRecipe(pearson_loss, "adam", 9e-3, one_cycle=True),
    DeepPhysAdapter: OwnRecipe(frame_mse_loss, "adamw", 9e-3, one_cycle=True),
    EfficientPhysAdapter: OwnRecipe(frame_mse_loss, "adamw", 9e-3, one_cycle=True),
    PhysFormerAdapter: OwnRecipe(physformer_loss, "adam", 1e-4, weight_decay=5e-5, decay_every_epochs=50,
                                 validation_loss=pearson_loss),
    SSPDAdapter: OwnRecipe(pearson_loss, "adam", 1e-3),
}


def own_recipe(adapter: Adapter) -> OwnRecipe:
    recipe = OWN_RECIPES.get(type(adapter))
    if recipe is None:
        known = ", ".join(kind.__name__ for kind in OWN_RECIPES)
        raise ValueError(f"own-head training: no toolbox recipe is known for {type(adapter).__name__} (known: {known})")
    return recipe
