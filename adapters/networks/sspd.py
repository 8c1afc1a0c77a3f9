"""SSPD (self-similarity prior distillation, github.com/LinXi1C/SSPD) with the public parameter names and numerics.

Why: the published `pretrained/ubfc.pth` is a plain 67-key `SSPD` state_dict and loads with `strict=True`
into `SSPD()`; the training twin `SSPDL3` adds the three TS blocks whose self-similarity objectives are what
shaped the backbone. The functions below take the network as an argument and reach its layers by name, so
they run on an instance of the public classes just as on ours.

Unlike the public `forward`, which detaches the predictor's input (the public training never updates the
backbone through the predictor), `sspd_backbone` keeps the graph: an adapter fine-tunes the backbone through
whatever head it puts on `output_bf_GAP`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from codephys_plugin._checks import check_tensor, weights_dtype
from codephys_plugin.adapters.networks._face import RPPGNetwork

FRAME_SIZE = 128
FEATURE_SIZE = 8
NUM_FEATURES = 256
BACKBONE_STEPS = ("backbone_step1", "backbone_step2", "backbone_step3", "backbone_step4")
TS_BLOCKS = ("ts_block1", "ts_block2", "ts_block3")


def init_weights(module: nn.Module) -> None:
    """SSPD's own initialisation: xavier-normal conv/linear weights with zero bias, norms at the identity."""
    if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv3d)):
        nn.init.xavier_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm3d)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def check_frames(x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """SSPD's input: 'b 3 t 128 128' BGR frame residuals in pixel units, an even number t ≥ 2 of them."""
    check_tensor(x, "SSPD frames", "b c t h w", sizes={"c": 3}, dtype=dtype)
    length, height, width = x.shape[2:]
    if (height, width) != (FRAME_SIZE, FRAME_SIZE):
        raise ValueError(
            f"SSPD frames: expected shape (b c t h w) with h=w={FRAME_SIZE}; got shape {tuple(x.shape)}. "
            f"SSPD needs {FRAME_SIZE}×{FRAME_SIZE} frames: its fixed {FEATURE_SIZE}×{FEATURE_SIZE} pool in "
            f"backbone_step4 expects exactly the {FEATURE_SIZE}×{FEATURE_SIZE} map that its unpadded convolutions "
            f"leave of {FRAME_SIZE}×{FRAME_SIZE} (smaller frames fail inside the backbone, larger ones would "
            "leave more than one feature vector per frame)"
        )
    check_even_length(length, "SSPD frames", tuple(x.shape))
    return x


def check_even_length(length: int, name: str, shape: tuple[int, ...]) -> None:
    """The predictor halves time and doubles it back, so an odd t would come out one frame short."""
    if length < 2 or length % 2:
        raise ValueError(
            f"{name}: expected an even number t ≥ 2 of time steps (SSPD's predictor halves time and doubles it "
            f"back, so an odd t would come out one shorter); got t={length} in shape {shape}"
        )


def run_backbone_step(step: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """'b c t h w' -> 'b c2 t (h-6)/2 (w-6)/2': two tanh(BN(conv)) layers, unpadded in space, then a 2×2 pool."""
    hidden = step.Act(step.BN1(step.Conv_Layer1(x)))
    return step.Avgpool1(step.Act(step.BN2(step.Conv_Layer2(hidden))))


def run_backbone_step4(step: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """'b 64 t 10 10' -> (output_bf_GAP 'b 256 t 8 8', output_gap 'b 256 t')."""
    output_bf_GAP = step.Act(step.BN1(step.Conv_Layer1(x)))
    output_gap = rearrange(step.Avgpool1(output_bf_GAP), "b c t 1 1 -> b c t")
    return output_bf_GAP, output_gap


def run_predictor(predictor: nn.Module, features: torch.Tensor) -> torch.Tensor:
    """'b 256 t 8 8' -> 'b t': a coarse (t/2, 2×2) temporal conv, repeated back to t frames, then a 1×1 readout."""
    act = predictor.act
    hidden = predictor.down(act(predictor.bn1(predictor.conv1(features))))
    hidden = act(predictor.bn2(predictor.conv2(hidden)))
    hidden = F.interpolate(hidden, scale_factor=(2, 1, 1), mode="nearest")
    hidden = predictor.GAP(act(predictor.bn3(predictor.conv3(hidden))))
    return rearrange(predictor.conv4(hidden), "b 1 t 1 1 -> b t")


def tokenize(tokenizer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """'b c t' -> 'b (t-k+1) c': an unpadded temporal conv, then LayerNorm over channels."""
    return tokenizer.norm(rearrange(tokenizer.conv(x), "b c t -> b t c"))


def attend(attn: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """'b n c' -> 'b n c' multi-head dot-product attention as SSPD computes it.

    SSPD applies no softmax: the raw q·k scores are divided by the number of keys n and mix the values
    linearly, so the block is a (data-dependent) linear smoother of its tokens.
    """
    q, k, v = (
        rearrange(proj(tokens), "b n (heads d) -> b heads n d", heads=attn.n_heads)
        for proj in (attn.proj_q, attn.proj_k, attn.proj_v)
    )
    scores = attn.drop(q @ k.transpose(-2, -1) / k.shape[-2])
    return rearrange(scores @ v, "b heads n d -> b n (heads d)")


def run_ts_block(block: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """'b c t' -> (residual 'b c n' for the next block, output 'b n c' for the self-similarity loss), n = t-k+1.

    The residual adds the input, nearest-resampled to the n tokens, to the block's output.
    """
    output = block.act(block.proj(attend(block.attn, tokenize(block.tokenizer, x))))
    shortcut = F.interpolate(x, size=output.shape[1], mode="nearest")
    return shortcut + rearrange(output, "b n c -> b c n"), output


def sspd_backbone(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """'b 3 t 128 128' raw-unit BGR residuals -> (output_bf_GAP 'b 256 t 8 8', output_gap 'b 256 t').

    Not detached: gradients reach every backbone layer.
    """
    hidden = net.BN(check_frames(x, weights_dtype(net)))
    for name in BACKBONE_STEPS[:-1]:
        hidden = run_backbone_step(getattr(net, name), hidden)
    return run_backbone_step4(getattr(net, BACKBONE_STEPS[-1]), hidden)


def sspd_predict(net: nn.Module, output_bf_GAP: torch.Tensor) -> torch.Tensor:
    """'b 256 t 8 8' -> 'b t': SSPD's rPPG from the backbone's pre-pool map."""
    sizes = {"c": NUM_FEATURES, "h": FEATURE_SIZE, "w": FEATURE_SIZE}
    check_tensor(output_bf_GAP, "SSPD output_bf_GAP", "b c t h w", sizes=sizes)
    check_even_length(output_bf_GAP.shape[2], "SSPD output_bf_GAP", tuple(output_bf_GAP.shape))
    return run_predictor(net.predictor, output_bf_GAP)


def ts_blocks(net: nn.Module, output_gap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """'b 256 t' -> the three TS outputs 'b t_i 256' (t_1 = t-8, t_2 = t_1-6, t_3 = t_2-4 for SSPDL3).

    Each block feeds its residual to the next; the outputs are what SSPD's self-similarity losses compare.
    """
    check_tensor(output_gap, "SSPD output_gap", "b c t", sizes={"c": NUM_FEATURES})
    blocks = [getattr(net, name) for name in TS_BLOCKS]
    shortest = 1 + sum(block.tokenizer.conv.kernel_size[0] - 1 for block in blocks)
    if output_gap.shape[-1] < shortest:
        raise ValueError(
            f"SSPD output_gap: the TS blocks' unpadded tokenizers need t ≥ {shortest}; "
            f"got shape {tuple(output_gap.shape)}"
        )
    outputs = []
    hidden = output_gap
    for block in blocks:
        hidden, output = run_ts_block(block, hidden)
        outputs.append(output)
    return tuple(outputs)


class BackboneStep(nn.Module):
    """One of backbone steps 1-3: conv (3,5,5) and conv (3,3,3), each + BN + tanh, then a 2×2 spatial pool.

    The convolutions pad time only and have no bias (the BNs follow).
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int) -> None:
        super().__init__()
        self.Conv_Layer1 = nn.Conv3d(in_channels, mid_channels, (3, 5, 5), padding=(1, 0, 0), bias=False)
        self.Conv_Layer2 = nn.Conv3d(mid_channels, out_channels, (3, 3, 3), padding=(1, 0, 0), bias=False)
        self.BN1 = nn.BatchNorm3d(mid_channels)
        self.BN2 = nn.BatchNorm3d(out_channels)
        self.Avgpool1 = nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2))
        self.Act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return run_backbone_step(self, x)


class BackboneStep4(nn.Module):
    """Backbone step 4: conv (3,3,3) 64 -> 256 + BN + tanh, and the 8×8 average that makes `output_gap`."""

    def __init__(self) -> None:
        super().__init__()
        self.Conv_Layer1 = nn.Conv3d(64, NUM_FEATURES, (3, 3, 3), padding=(1, 0, 0), bias=False)
        self.BN1 = nn.BatchNorm3d(NUM_FEATURES)
        self.Avgpool1 = nn.AvgPool3d((1, FEATURE_SIZE, FEATURE_SIZE), stride=1)
        self.Act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return run_backbone_step4(self, x)


class Predictor(nn.Module):
    """SSPD's rPPG head on 'b 256 t 8 8'; see `run_predictor`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(NUM_FEATURES, 64, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn1 = nn.BatchNorm3d(64)
        self.down = nn.AvgPool3d(2, stride=2)
        self.conv2 = nn.Conv3d(64, 64, (3, 3, 3), padding=(1, 0, 0), bias=False)
        self.bn2 = nn.BatchNorm3d(64)
        self.conv3 = nn.Conv3d(64, 64, (3, 1, 1), padding=(1, 0, 0), bias=False)
        self.bn3 = nn.BatchNorm3d(64)
        self.GAP = nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2))
        self.conv4 = nn.Conv3d(64, 1, 1)
        self.act = nn.Tanh()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return run_predictor(self, features)


class Tokenizer(nn.Module):
    """'b c t' -> 'b t-k+1 c' tokens; see `tokenize`."""

    def __init__(self, dim: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel_size)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tokenize(self, x)


class Attention(nn.Module):
    """SSPD's softmax-free multi-head attention; see `attend`."""

    def __init__(self, dim: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        self.proj_q = nn.Linear(dim, dim)
        self.proj_k = nn.Linear(dim, dim)
        self.proj_v = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)
        self.n_heads = n_heads

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return attend(self, tokens)


class TSBlock(nn.Module):
    """A temporal self-similarity block of SSPDL3; see `run_ts_block`."""

    def __init__(self, dim: int, kernel_size: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.tokenizer = Tokenizer(dim, kernel_size)
        self.attn = Attention(dim, n_heads, dropout)
        self.proj = nn.Linear(dim, dim)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return run_ts_block(self, x)


class SSPD(RPPGNetwork):
    """SSPD's inference model: 'b 3 t 128 128' BGR frame residuals in pixel units -> 'b t' rPPG.

    The input is normalised only by the network's own `BN`; t must be even. `forward_features` gives
    `output_bf_GAP` 'b 256 t 8 8' and, unlike `forward`, does not detach it.
    """

    head_modules: tuple[str, ...] = ("predictor",)
    num_features = NUM_FEATURES

    def __init__(self) -> None:
        super().__init__()
        self.BN = nn.BatchNorm3d(3)
        self.backbone_step1 = BackboneStep(3, 8, 16)
        self.backbone_step2 = BackboneStep(16, 16, 32)
        self.backbone_step3 = BackboneStep(32, 32, 64)
        self.backbone_step4 = BackboneStep4()
        self.predictor = Predictor()
        self.apply(init_weights)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return sspd_backbone(self, x)[0]

    def run_head(self, features: torch.Tensor) -> torch.Tensor:
        return sspd_predict(self, features)

    def pool_features(self, features: torch.Tensor) -> torch.Tensor:
        """'b 256 t 8 8' -> 'b 256 t', equal to the backbone's `output_gap`."""
        check_tensor(features, "SSPD features", "b c t h w", sizes={"c": NUM_FEATURES}, finite=False)
        return features.mean(dim=(3, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """'b 3 t 128 128' -> 'b t' as the public model: the predictor sees a detached `output_bf_GAP`.

        After `reset_classifier(0)` it returns `output_gap` 'b 256 t' instead, not detached.
        """
        output_bf_GAP, output_gap = sspd_backbone(self, x)
        if not self.has_head:
            return output_gap
        return sspd_predict(self, output_bf_GAP.detach())


class SSPDL3(SSPD):
    """SSPD's training model: `SSPD` plus the three TS blocks whose outputs the self-similarity losses use."""

    head_modules: tuple[str, ...] = ("predictor",) + TS_BLOCKS

    def __init__(self) -> None:
        super().__init__()
        self.ts_block1 = TSBlock(NUM_FEATURES, kernel_size=9, n_heads=2)
        self.ts_block2 = TSBlock(NUM_FEATURES, kernel_size=7, n_heads=2)
        self.ts_block3 = TSBlock(NUM_FEATURES, kernel_size=5, n_heads=2)
        for name in TS_BLOCKS:
            getattr(self, name).apply(init_weights)

    def forward(
        self, x: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | torch.Tensor:
        """'b 3 t 128 128' -> ((three TS outputs 'b t_i 256'), rPPG 'b t') as the public model.

        The rPPG comes from a detached `output_bf_GAP`; the TS blocks see `output_gap` with its graph.
        After `reset_classifier(0)` it returns `output_gap` 'b 256 t'.
        """
        output_bf_GAP, output_gap = sspd_backbone(self, x)
        if not self.has_head:
            return output_gap
        return ts_blocks(self, output_gap), sspd_predict(self, output_bf_GAP.detach())
