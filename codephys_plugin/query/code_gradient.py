"""How the waveform loss reaches the query tokens through the nearest-code lookup.

The forward value is always the nearest code (Eq. 11); what differs is the gradient the tokens get:

- "nearest" (the paper's, VQ-VAE's straight-through estimator): the decoder's gradient at the chosen
  code is copied onto the token. Moving the token changes nothing until another code becomes nearest,
  so that gradient can keep pointing the same way: on a learnable toy (tests/test_code_diagnostics.py)
  L_phy at α = 2 dragged the tokens off the codebook (their norm grew from 0.7 to 15-20 in 250 steps)
  and the code accuracy fell from 0.33 to 0.14, while without L_phy it rose to 0.75.
- "soft": the gradient of the mix of all codes weighted by softmax(code logits), the logits of
  L_code' (−‖z − c‖²/τ). L_phy then moves a token towards the codes that decode better, and a token far
  from every code gets almost no push, so it cannot drift away (on the same toy: norm ≈ 1, code
  accuracy 0.46-0.53 with α = 2). On PhysNet video clips from scratch it did worse than "nearest"
  (22 vs 4.5 bpm after 10 epochs at τ = 64, the codes collapsed), so it is an option, not the default.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

CodeGradient = Literal["nearest", "soft"]
CODE_GRADIENTS: tuple[CodeGradient, ...] = ("nearest", "soft")


def check_code_gradient(name: str) -> CodeGradient:
    if name not in CODE_GRADIENTS:
        raise ValueError(f"code_gradient: expected one of {', '.join(CODE_GRADIENTS)}, got {name!r}")
    return name


def with_code_gradient(tokens: Tensor, nearest: Tensor, logits: Tensor, codes: Tensor, rule: CodeGradient) -> Tensor:
    """The nearest codes 'b m d' as the forward value, with the gradient `rule` gives the tokens 'b m d'
    (logits 'b m n' of the codes 'n d')."""
    if rule == "nearest":
        return tokens + (nearest - tokens).detach()
    mixed = torch.softmax(logits, dim=-1) @ codes.to(logits.dtype)
    return (nearest.detach() + mixed - mixed.detach()).to(tokens.dtype)
