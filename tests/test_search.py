import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from codephys_plugin.query.search import nearest_code
from tests.helpers.exact_ties import exact_tie_case


def brute_force(z: torch.Tensor, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    dist = ((z.double()[:, None, :] - codes.double()[None, :, :]) ** 2).sum(-1)
    return dist.argmin(dim=1), dist.min(dim=1).values


@pytest.mark.parametrize("rows, num_codes, dim", [(1, 1, 1), (7, 3, 5), (1000, 64, 64), (513, 37, 16)])
@pytest.mark.parametrize("chunk_elements", [1, 100, 1 << 18])
def test_matches_float64_brute_force(generator, rows, num_codes, dim, chunk_elements):
    z = torch.randn(rows, dim, generator=generator)
    codes = torch.randn(num_codes, dim, generator=generator)
    indices, distances = nearest_code(z, codes, backend="torch", chunk_elements=chunk_elements)
    ref_indices, ref_distances = brute_force(z, codes)
    assert indices.dtype == torch.int64 and distances.dtype == torch.float32
    assert torch.equal(indices, ref_indices)
    torch.testing.assert_close(distances.double(), ref_distances, rtol=1e-4, atol=1e-4)


def test_keeps_leading_shape_and_accepts_half_precision(generator):
    z = torch.randn(2, 3, 40, 8, generator=generator)
    codes = torch.randn(10, 8, generator=generator)
    indices, distances = nearest_code(z.half(), codes.half(), backend="torch")
    assert indices.shape == distances.shape == (2, 3, 40)
    assert distances.dtype == torch.float32
    ref_indices, _ = brute_force(z.half().reshape(-1, 8), codes.half())
    assert torch.equal(indices.reshape(-1), ref_indices)


def test_float64_inputs_stay_float64(generator):
    z = torch.randn(20, 4, generator=generator, dtype=torch.float64)
    codes = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    _, distances = nearest_code(z, codes)
    assert distances.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
@pytest.mark.parametrize("chunk_elements", [7, 1 << 18])
def test_ties_go_to_the_lowest_index(dtype, chunk_elements):
    z, codes, expected = exact_tie_case(20, 8, 200, seed=3)
    indices, distances = nearest_code(z.to(dtype), codes.to(dtype), backend="torch", chunk_elements=chunk_elements)
    assert int(indices.max()) < 20, "a repeat of an earlier code was chosen"
    assert torch.equal(indices, expected)
    assert torch.equal(distances.double(), brute_force(z, codes)[1])


def test_query_equal_to_a_code_has_zero_distance(generator):
    codes = torch.randn(16, 8, generator=generator)
    indices, distances = nearest_code(codes[[3, 9]], codes)
    assert indices.tolist() == [3, 9]
    assert torch.all(distances < 1e-5)


@pytest.mark.parametrize(
    "z, codes, message",
    [
        (torch.randn(4, 3), torch.randn(5, 2), "d=2"),
        (torch.randn(4, 3), torch.randn(5), r"codes must have shape \(n d\)"),
        (torch.randn(4, 3), torch.randn(0, 3), r"codes must have shape \(n d\)"),
        (torch.randn(0, 3), torch.randn(5, 3), "z is empty"),
        (torch.ones(4, 3, dtype=torch.int64), torch.randn(5, 3), "floating point"),
        (torch.randn(4, 3), torch.full((5, 3), float("nan")), "codes contain NaN"),
    ],
)
def test_bad_inputs_raise_clear_errors(z, codes, message):
    with pytest.raises(ValueError, match=message):
        nearest_code(z, codes)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), 1e30])
def test_non_finite_or_overflowing_queries_are_reported_by_row(bad):
    z = torch.randn(10, 4)
    z[6, 2] = bad
    with pytest.raises(ValueError, match="first at flat row 6"):
        nearest_code(z, torch.randn(3, 4))


def test_unknown_backend_and_unavailable_triton_are_errors():
    z, codes = torch.randn(4, 3), torch.randn(5, 3)
    with pytest.raises(ValueError, match="backend"):
        nearest_code(z, codes, backend="faiss")  # type: ignore[arg-type]


finite_floats = st.floats(min_value=-100, max_value=100, allow_nan=False, width=32)


@st.composite
def queries_and_codes(draw):
    dim = draw(st.integers(1, 6))
    rows = draw(st.integers(1, 30))
    num_codes = draw(st.integers(1, 12))
    z = draw(arrays("float32", (rows, dim), elements=finite_floats))
    codes = draw(arrays("float32", (num_codes, dim), elements=finite_floats))
    return torch.from_numpy(z), torch.from_numpy(codes)


def _is_true_argmin(z, codes, indices, slack=1e-3):
    dist = ((z.double()[:, None, :] - codes.double()[None, :, :]) ** 2).sum(-1)
    chosen = dist.gather(1, indices[:, None]).squeeze(1)
    best = dist.min(dim=1).values
    scale = 1.0 + z.double().pow(2).sum(1) + codes.double().pow(2).sum(1).max()
    return torch.all(chosen - best <= slack * scale)


@settings(max_examples=200, deadline=None)
@given(queries_and_codes(), st.integers(1, 64))
def test_property_result_is_a_true_argmin(data, chunk_elements):
    z, codes = data
    indices, distances = nearest_code(z, codes, backend="torch", chunk_elements=chunk_elements)
    assert _is_true_argmin(z, codes, indices)
    assert torch.all(distances >= 0)


@settings(max_examples=100, deadline=None)
@given(queries_and_codes(), arrays("float32", (6,), elements=st.floats(-50, 50, width=32)))
def test_property_translation_does_not_change_the_choice(data, shift):
    z, codes = data
    offset = torch.from_numpy(shift[: z.shape[1]]).double()
    z64, codes64 = z.double(), codes.double()
    indices, distances = nearest_code(z64, codes64, backend="torch")
    moved_indices, moved_distances = nearest_code(z64 + offset, codes64 + offset, backend="torch")
    # Exact ties may legitimately flip under rounding; the chosen distance must not change.
    dist = ((z64[:, None, :] - codes64[None, :, :]) ** 2).sum(-1)
    chosen = dist.gather(1, indices[:, None]).squeeze(1)
    moved_chosen = dist.gather(1, moved_indices[:, None]).squeeze(1)
    torch.testing.assert_close(moved_chosen, chosen, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(moved_distances, distances, rtol=1e-6, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(queries_and_codes(), st.randoms(use_true_random=False))
def test_property_permuting_codes_permutes_indices(data, random):
    z, codes = data
    z64, codes64 = z.double(), codes.double()
    order = list(range(codes.shape[0]))
    random.shuffle(order)
    permutation = torch.tensor(order)
    indices, _ = nearest_code(z64, codes64, backend="torch")
    permuted_indices, _ = nearest_code(z64, codes64[permutation], backend="torch")
    dist = ((z64[:, None, :] - codes64[None, :, :]) ** 2).sum(-1)
    # A minimum is unique when the runner-up is farther by more than fp64 rounding of the addmm
    # (~1e-16 of ‖z‖² + ‖c‖², times D): equality of the brute force's floats says nothing about that.
    margin = 1e-9 * (1.0 + z64.pow(2).sum(1) + codes64.pow(2).sum(1).max())
    unique_min = ((dist - dist.min(dim=1, keepdim=True).values) <= margin[:, None]).sum(dim=1) == 1
    assert torch.equal(permutation[permuted_indices][unique_min], indices[unique_min])
    chosen = dist.gather(1, indices[:, None]).squeeze(1)
    permuted_chosen = dist.gather(1, permutation[permuted_indices][:, None]).squeeze(1)
    assert torch.all((permuted_chosen - chosen).abs() <= margin)
