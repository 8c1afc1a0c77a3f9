"""The benchmark's protocol, fixed before any method is run: data, splits, sizes, budgets and rows.

Subjects are drawn by index, so the train (0…), validation (1000…) and test (2000…) ranges never share a
subject, and every test condition shows the same test subjects. The degraded test sets are one draw of
their videos (rates, motion, noise) under each degradation, so they are paired with each other; with
`paired_clean` the clean set is that draw too, left undegraded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from codephys_plugin.code_query_head import Ablation
from codephys_plugin.data.degradations import DEGRADATIONS
from codephys_plugin.training.selection import SELECTION_RULES
from codephys_plugin.video_lab.lab_dataset import DegradationRange

CLASSIC = ("green", "chrom", "pos")
NO_PULSE = "no_pulse"
"""The floor: every test video read as a sinusoid at the training videos' median heart rate (see
`benchmark.untrained`); a row near or above it under a condition reads no pulse there."""
UNTRAINED = (*CLASSIC, NO_PULSE)
"""The rows that train nothing and read no network: one cell each, no seed."""
HEAD_ABLATIONS = {"head": Ablation(), "head_noquant": Ablation(code_query=False),
                  "head_no_apb": Ablation(prior_branch=False), "head_no_sfd": Ablation(feature_distillation=False),
                  "head_no_sam": Ablation(spatial_attention=False), "head_no_stage1": Ablation(stage1=False)}
"""The rows with CodeQueryHead, which need a Stage I codebook, and their switches: CodePhys, and the paper's
Table V ablations (its 'w/o CQP' is head_noquant)."""
HEAD_ROWS = tuple(HEAD_ABLATIONS)
TABLE_V = ("head_noquant", "head_no_apb", "head_no_sfd", "head_no_sam", "head_no_stage1")
BARE_ROWS = ("bare", "bare_long")
"""The network with its own head: `bare_epochs`, and `bare_epochs + head_epochs` (the head rows' whole budget,
so a head row's gain cannot be the extra epochs alone). For a PRETRAINED network bare is the checkpoint as
published and bare_long is that checkpoint fine-tuned whole, its own head and loss, for `head_epochs` on the
lab's training set at `backbone_lr`: the domain-adaptation control, so that its head rows' gain cannot be
training on the lab's frames alone."""
WARM_START_ROW = "bare_warm_start"
"""The bare network at its warm start, the weights its seed's head rows start from, read by its own head: tested,
nothing trained. Against it a head row's gain is what Stage II added to the network it was given, not where the
bare row's epoch choice left the bare row (a network whose later epochs are less robust than its warm start makes
bare the weaker control). Networks trained here only: a published network's bare row is its head rows' start."""
TRAINED = (*BARE_ROWS, *HEAD_ROWS)
METHODS = UNTRAINED + TRAINED + (WARM_START_ROW,)
FROM_WARM_START = (*HEAD_ROWS, WARM_START_ROW)
"""The rows that start from their seed's bare warm start, so follow its bare cell."""
MAIN_METHODS = UNTRAINED + ("bare", WARM_START_ROW, "bare_long", "head", "head_noquant")
"""The rows run by default; the other ablations are chosen with `methods` (the paper ablates PhysNet only)."""
TRAINABLE = ("deepphys", "efficientphys", "physformer", "physnet", "sspd")
PRETRAINED = {"physnet_pure": "rppg_toolbox/PURE_PhysNet_DiffNormalized.pth",
              "physnet_ubfc": "rppg_toolbox/UBFC-rPPG_PhysNet_DiffNormalized.pth"}
"""Networks trained on real faces by the rPPG-Toolbox (PhysNet), files under the benchmark's --weights folder:
their bare row is the checkpoint as published (no seed, nothing trained); their head rows train the head on
the lab's training set with the backbone frozen throughout; their bare_long rows fine-tune the whole network."""
NETWORKS = TRAINABLE + tuple(PRETRAINED)
NETWORK_SIZE = {"sspd": 128, "physnet_pure": 72, "physnet_ubfc": 72}
"""Frame sizes not chosen by `frame_size`: fixed by the architecture (SSPD's valid convolutions and 8×8 pool; see
backbones.md), or the size the published weights were trained at (the toolbox's PhysNet configs: 72)."""
CLEAN = "clean"
EPOCH_RULE = SELECTION_RULES["mae"]
"""How every trained row keeps its epoch (see `training.selection`)."""
EARLIER_BARE_RULE = "first epoch of the lowest validation HR MAE"
"""How bare rows kept their epoch until 2026-12-04 (their cells record no rule): a saturated validation MAE made
that an early epoch, while the head rows went on to break the ties by validation loss."""
SAME_WARM_START = "the warm start its bare cell recorded"
OTHER_WARM_START = "not the warm start its bare cell recorded (the next run trains it again)"
UNRECORDED_WARM_START = "its bare cell records no warm start (cells older than the record)"
"""Where a head cell started (`head_start`)."""

CELL_SELECTION = ("networks", "methods", "seeds")
"""Fields that only choose which cells run: a results folder may gain networks, rows or seeds later."""
FIRST_SUBJECT = {"train": 0, "val": 1000, "test": 2000}


@dataclass(frozen=True)
class Protocol:
    networks: tuple[str, ...] = ("physnet",)
    methods: tuple[str, ...] = MAIN_METHODS
    degradations: tuple[str, ...] = tuple(DEGRADATIONS)
    severities: tuple[float, ...] = (0.5, 1.0)
    """Degraded test severities; the clean set (severity 0) is always tested."""
    seeds: tuple[int, ...] = (0, 1, 2)
    train_subjects: int = 24
    val_subjects: int = 6
    test_subjects: int = 12
    seconds: float = 30.0
    fs: float = 30.0
    chunk_length: int = 160
    frame_size: int = 36
    physformer_size: int = 128
    """PhysFormer's frames: 32·p px with (4, p, p) patches, so its blocks keep their 4×4 token grid; 128 (4×4×4
    patches) is the toolbox's. The cpu presets take 32 (1×1 spatial patches: the same blocks, T/4·16 tokens)."""
    bare_epochs: int = 10
    head_epochs: int = 5
    """The head rows start from the same seed's bare weights (the toolbox way to have a network), train with
    the backbone frozen for `frozen_backbone_epochs`, then fine-tune it at `backbone_lr`."""
    head_lr: float = 1e-3
    backbone_lr: float = 1e-4
    frozen_backbone_epochs: int = 2
    code_temperature: float | None = None
    """None: the bundle's τ (1, the paper's)."""
    train_degradations: tuple[DegradationRange, ...] = field(default_factory=tuple)
    """Every training video degraded by all of these at once (severities drawn per video): cpu-stacked."""
    train_degraded_copies: tuple[DegradationRange, ...] = field(default_factory=tuple)
    """The second protocol, clean plus mild: the clean training videos, and their subjects again split evenly
    among these degradations, each group's videos under its one degradation (severity drawn per video)."""
    paired_clean: bool = True
    """True: the clean test set is the degraded sets' videos undegraded (the lab draws a video after its
    degradation's severity, so clean draws one at severity 0). False, as the cpu presets ran: clean is the
    lab's undegraded draw of the same subjects, other videos (other rates) than the degraded sets'."""

    def __post_init__(self) -> None:
        unknown = [name for name in self.networks if name not in NETWORKS]
        unknown += [name for name in self.methods if name not in METHODS]
        unknown += [name for name in self.degradations if name not in DEGRADATIONS]
        if unknown:
            raise ValueError(f"benchmark protocol: unknown {', '.join(unknown)} (networks {', '.join(NETWORKS)}; "
                             f"methods {', '.join(METHODS)}; degradations {', '.join(DEGRADATIONS)})")
        if not self.seeds or not all(0 < severity <= 1 for severity in self.severities):
            raise ValueError("benchmark protocol: expected at least one seed and severities in (0, 1]")
        if min(self.train_subjects, self.val_subjects, self.test_subjects) < 1:
            raise ValueError("benchmark protocol: every split needs at least one subject")
        if len(self.train_degraded_copies) > self.train_subjects:
            raise ValueError(f"benchmark protocol: {len(self.train_degraded_copies)} degraded copies need at least as "
                             f"many training subjects, got {self.train_subjects}")
        if self.train_degradations and self.train_degraded_copies:
            raise ValueError("benchmark protocol: train_degradations (every video under all) and "
                             "train_degraded_copies (clean plus one degradation per copy) are two protocols; choose one")

    def conditions(self) -> list[str]:
        """'clean' and '<degradation>@<severity>' for every degraded test set."""
        return [CLEAN] + [condition_name(name, severity) for name in self.degradations for severity in self.severities]

    def size_of(self, network: str) -> int:
        if network == "physformer":
            return self.physformer_size
        return NETWORK_SIZE.get(network, self.frame_size)

    def record(self) -> dict:
        return asdict(self)

    def shared_record(self) -> dict:
        """The settings every cell of a results folder must share; the selection of cells may grow."""
        return {key: value for key, value in asdict(self).items() if key not in CELL_SELECTION}


def condition_name(degradation: str, severity: float) -> str:
    return f"{degradation}@{severity:g}"


def parse_condition(condition: str) -> tuple[str, float] | None:
    """('noise', 0.5) for 'noise@0.5'; None for the clean set."""
    if condition == CLEAN:
        return None
    name, severity = condition.split("@")
    return name, float(severity)


def architecture(network: str) -> str:
    """The timm name of a benchmark network: a pretrained one is its architecture with published weights."""
    return "physnet" if network in PRETRAINED else network


def epoch_rule(record: dict) -> str | None:
    """The rule that kept a cell's epoch; None for the rows that train nothing (the warm-start row's epoch is its
    bare cell's warm start). Cells from before the rule was recorded: the bare rows' earlier rule, the head rows'
    EPOCH_RULE (theirs has not changed)."""
    training = record.get("training") or {}
    if not training or record["cell"]["method"] == WARM_START_ROW:
        return None
    return training.get("epoch_rule") or (EARLIER_BARE_RULE if record["cell"]["method"] in BARE_ROWS else EPOCH_RULE)


def starts_from_bare(network: str | None, method: str) -> bool:
    """A head row of a network trained here starts from its seed's bare warm start (a published network's from
    its checkpoint), and the warm-start row tests that start."""
    return method in FROM_WARM_START and network not in PRETRAINED


def head_start(head: dict, bare: dict | None) -> str:
    """Where a head cell started, against the warm start its seed's bare cell records (digests of the weights): a
    bare row trained again after its head rows is another run, not bit for bit the same on another torch or
    host, so its head rows are trained again from its warm start; a bare cell older than the record cannot tell."""
    warm = ((bare or {}).get("training") or {}).get("warm_start_weights")
    if warm is None:
        return UNRECORDED_WARM_START
    return SAME_WARM_START if (head.get("training") or {}).get("started_from") == warm else OTHER_WARM_START
