"""The CUDA path, where a GPU is present: the fused kernel against the float64 brute force, `auto` choosing it,
every adapter's CodeQueryHead as accurate on the GPU as on the CPU (outputs, losses, gradients), and Stages I
and II training on the device their model is on.

Skipped without CUDA (CI has none); run on a lent GPU machine. TF32 is switched off for the comparisons, so
both devices compute in true fp32.
"""

from __future__ import annotations

import pytest
import torch

from codephys_plugin.code_query_head import CodeQueryHead
from codephys_plugin.query.search import nearest_code, resolve_backend
from codephys_plugin.training.stage1 import Stage1TrainingConfig, train_stage1
from codephys_plugin.training.stage2 import train_stage2
from tests.helpers.search_cases import CASES, TIES, assert_lowest_index_wins_ties, assert_nearest_codes
from tests.test_code_query_head import BACKBONES, STEPS, small_bundle
from tests.test_pretrain_files import _fresh_model, _windows
from tests.test_train_cli import _head_and_clips, bundle  # noqa: F401  (the module's Stage I bundle fixture)

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

DEVICE = torch.device("cuda")


@pytest.fixture(autouse=True)
def true_fp32():
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_kernel_matches_float64_brute_force(name):
    z, codes = CASES[name]
    indices, distances = nearest_code(z.to(DEVICE), codes.to(DEVICE), backend="triton")
    assert_nearest_codes(name, indices.cpu(), distances.cpu())


@pytest.mark.parametrize("name", sorted(TIES))
def test_fused_kernel_breaks_exact_ties_to_the_lowest_index(name):
    z, codes, _ = TIES[name]
    indices, distances = nearest_code(z.to(DEVICE), codes.to(DEVICE), backend="triton")
    assert_lowest_index_wins_ties(name, indices.cpu(), distances.cpu())


def test_auto_takes_the_kernel_on_cuda_and_agrees_with_the_chunked_path_on_many_queries():
    generator = torch.Generator(device=DEVICE).manual_seed(0)
    z = torch.randn(300_000, 64, device=DEVICE, generator=generator)
    codes = torch.randn(64, 64, device=DEVICE, generator=generator)
    assert resolve_backend("auto", z) == "triton"
    fused, fused_distances = nearest_code(z, codes)
    chunked, chunked_distances = nearest_code(z, codes, backend="torch")
    torch.testing.assert_close(fused_distances, chunked_distances, rtol=1e-5, atol=1e-4)
    two_best = torch.cdist(z.double(), codes.double()).square().topk(2, dim=1, largest=False).values
    differ = fused != chunked
    assert differ.float().mean() < 1e-4
    assert bool(((two_best[:, 1] - two_best[:, 0])[differ] < 1e-3).all()), "an index differs away from a near-tie"


def test_kernel_takes_any_leading_shape_and_strided_queries():
    generator = torch.Generator(device=DEVICE).manual_seed(1)
    strided = torch.randn(4, 64, 50, device=DEVICE, generator=generator).transpose(1, 2)
    codes = torch.randn(64, 64, device=DEVICE, generator=generator)
    indices, distances = nearest_code(strided, codes, backend="triton")
    assert indices.shape == distances.shape == (4, 50)
    dense_indices, dense_distances = nearest_code(strided.contiguous(), codes, backend="triton")
    assert torch.equal(indices, dense_indices) and torch.equal(distances, dense_distances)


def _step(head: CodeQueryHead, inputs: torch.Tensor, label: torch.Tensor) -> dict[str, torch.Tensor]:
    """Forward, loss and backward; what to compare, in float64 on the CPU: tokens, waveform, each loss term,
    and each top-level part's gradients as one vector (a single bias before a normalisation has a true
    gradient of ~0 and carries only rounding noise, which its part's whole vector puts in scale)."""
    output = head(inputs)
    losses = head.loss(output, label)
    losses.total.backward()
    compared = {"indices": output.indices.cpu(), "tokens": output.tokens.detach(), "rppg": output.rppg.detach()}
    compared |= {f"loss {term}": value.detach() for term, value in zip(losses._fields, losses)}
    parts: dict[str, list[torch.Tensor]] = {}
    for name, parameter in head.named_parameters():
        if parameter.grad is not None:
            parts.setdefault(f"grad {name.split('.')[0]}", []).append(parameter.grad.flatten())
    compared |= {part: torch.cat(grads) for part, grads in parts.items()}
    return {key: value.cpu().double() if key != "indices" else value for key, value in compared.items()}


def float64_cpu_and_gpu_runs(name: str) -> tuple[dict, dict, dict]:
    """`_step` of one BACKBONES head (eval mode: no dropout) three times, from the same weights and inputs: in
    float64 on the CPU (the reference; its loss terms compute in float32, as for every precision, and
    backpropagate into float64), in float32 on the CPU, and in float32 on DEVICE."""
    build, inputs_for = BACKBONES[name]
    torch.manual_seed(0)
    template = CodeQueryHead(build(), codebook=small_bundle()).eval()
    inputs = inputs_for(template)
    label = torch.randn(inputs.shape[0], STEPS, generator=torch.Generator().manual_seed(1))

    def copy(dtype: torch.dtype, device: torch.device) -> CodeQueryHead:
        head = CodeQueryHead(build(), codebook=small_bundle())
        head.load_state_dict(template.state_dict())
        return head.to(device=device, dtype=dtype).eval()

    cpu = torch.device("cpu")
    return (_step(copy(torch.float64, cpu), inputs.double(), label.double()),
            _step(copy(torch.float32, cpu), inputs, label),
            _step(copy(torch.float32, DEVICE), inputs.to(DEVICE), label.to(DEVICE)))


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_head_on_cuda_is_as_accurate_as_on_cpu(name):
    """The GPU's float32 forward, losses and gradients must be as close to the float64 reference as the CPU's
    float32 ones, within 10 x their error plus a floor (1e-3 of the reference's norm for outputs and losses,
    1e-2 for gradients, which fp32 rounding amplifies most). A device bug (a wrong kernel, a tensor left on the
    CPU) errs by the order of the values themselves."""
    reference, on_cpu, on_gpu = float64_cpu_and_gpu_runs(name)
    assert on_gpu.keys() == reference.keys()
    assert torch.equal(on_gpu.pop("indices"), reference.pop("indices"))
    for key, exact in reference.items():
        floor = (1e-2 if key.startswith("grad") else 1e-3) * float(exact.norm())
        cpu_error, gpu_error = float((on_cpu[key] - exact).norm()), float((on_gpu[key] - exact).norm())
        assert gpu_error <= 10 * cpu_error + floor, (
            f"{key}: GPU error {gpu_error:.3g}, CPU error {cpu_error:.3g}, reference norm {float(exact.norm()):.3g}")


def test_stage2_trains_a_head_on_the_device_it_was_moved_to(bundle, tmp_path):  # noqa: F811
    """Without a distributed context, train_stage2 once moved every head back to the CPU: the benchmark's head
    cells under --device cuda trained on the CPU."""
    head, train, val, config = _head_and_clips(bundle, tmp_path, "--epochs", "1")
    head.to(DEVICE)
    before = {name: p.detach().clone() for name, p in head.video_encoder.named_parameters()}
    history = train_stage2(head, train, val, config)
    assert len(history) == 1
    assert all(p.device.type == DEVICE.type for p in head.parameters())
    assert any(not torch.equal(p, before[name]) for name, p in head.video_encoder.named_parameters())


def test_stage1_trains_a_model_on_the_device_it_was_moved_to():
    model = _fresh_model().to(DEVICE)
    history = train_stage1(model, _windows(), Stage1TrainingConfig(epochs=1, batch_size=8))
    assert len(history) == 1
    assert all(p.device.type == DEVICE.type for p in model.parameters())
