import pytest
import torch

from codephys_plugin.query.codebook import Codebook, CodebookConfig, usage_from_counts


def _tokens(generator, batch=4, tokens=10, dim=8):
    return torch.randn(batch, tokens, dim, generator=generator)


def test_forward_returns_codebook_rows_indices_and_both_loss_terms(generator):
    codebook = Codebook(num_codes=16, dim=8)
    z = _tokens(generator)
    out = codebook(z)
    assert out.quantized.shape == z.shape and out.indices.shape == (4, 10)
    assert out.indices.dtype == torch.int64
    torch.testing.assert_close(out.quantized, codebook.codes.detach()[out.indices])
    expected_codebook = ((codebook.codes.detach()[out.indices] - z) ** 2).mean()
    torch.testing.assert_close(out.codebook_loss, expected_codebook)
    torch.testing.assert_close(out.commitment_loss, 0.25 * expected_codebook)
    torch.testing.assert_close(out.loss, 1.25 * expected_codebook)


def test_straight_through_gradient_reaches_tokens_unchanged(generator):
    codebook = Codebook(num_codes=16, dim=8)
    z = _tokens(generator).requires_grad_()
    weights = torch.randn(4, 10, 8, generator=generator)
    (codebook(z).quantized * weights).sum().backward()
    torch.testing.assert_close(z.grad, weights)
    assert codebook.codes.grad is None or torch.all(codebook.codes.grad == 0)


def test_delta_weights_the_commitment_term_not_the_codebook_term(generator):
    codebook = Codebook(num_codes=16, dim=8, commitment_weight=0.25)
    z = _tokens(generator).requires_grad_()
    out = codebook(z)
    out.codebook_loss.backward(retain_graph=True)
    assert z.grad is None or torch.all(z.grad == 0), "codebook term must not move the encoder"
    codes_grad = codebook.codes.grad.clone()
    assert codes_grad.abs().sum() > 0
    codebook.codes.grad = None
    out.commitment_loss.backward()
    assert codebook.codes.grad is None or torch.all(codebook.codes.grad == 0)
    diff = (z.detach() - codebook.codes.detach()[out.indices])
    torch.testing.assert_close(z.grad, 0.25 * 2 * diff / diff.numel())


def test_logits_rank_codes_like_the_search_and_scale_with_temperature(generator):
    codebook = Codebook(num_codes=16, dim=8, temperature=2.0)
    z = _tokens(generator)
    logits = codebook.logits(z)
    assert logits.shape == (4, 10, 16)
    indices = codebook(z).indices
    # The logits and the search round differently (z@cᵀ here, addmm there): on a near-tie either
    # code may win, so the argmax must agree wherever the runner-up trails by more than rounding.
    top2 = logits.topk(2, dim=-1).values
    clear = (top2[..., 0] - top2[..., 1]) > 1e-4
    assert bool(clear.float().mean() > 0.9)
    assert torch.equal(logits.argmax(-1)[clear], indices[clear])
    chosen = logits.gather(-1, indices[..., None]).squeeze(-1)
    torch.testing.assert_close(chosen, top2[..., 0], rtol=0, atol=1e-4)
    sq_dist = ((z[..., None, :] - codebook.codes.detach()) ** 2).sum(-1)
    torch.testing.assert_close(logits, -sq_dist / 2.0, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(codebook.logits(z, temperature=1.0), -sq_dist, rtol=1e-4, atol=1e-4)


def test_distances_run_in_fp32_under_autocast(generator):
    codebook = Codebook(num_codes=16, dim=8)
    z = _tokens(generator).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = codebook(z)
        logits = codebook.logits(z)
    assert out.quantized.dtype == torch.bfloat16
    assert logits.dtype == torch.float32
    assert out.codebook_loss.dtype == torch.float32
    assert torch.equal(out.indices, codebook(z.float()).indices)


def test_gradient_codebook_learns_to_fit_clusters(generator):
    centres = torch.randn(4, 8, generator=generator) * 3
    z = centres[torch.randint(4, (1, 400), generator=generator)] + 0.05 * torch.randn(1, 400, 8, generator=generator)
    codebook = Codebook(num_codes=4, dim=8, kmeans_init=True)
    optimizer = torch.optim.Adam(codebook.parameters(), lr=0.05)
    for _ in range(50):
        loss = codebook(z).codebook_loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(codebook(z).codebook_loss.detach()) < 0.01


def test_kmeans_init_happens_on_first_training_batch_only(generator):
    centres = torch.randn(8, 8, generator=generator) * 5
    z = centres[torch.randint(8, (2, 500), generator=generator)] + 0.01 * torch.randn(2, 500, 8, generator=generator)
    random_init = Codebook(num_codes=8, dim=8)
    codebook = Codebook(num_codes=8, dim=8, kmeans_init=True, kmeans_iters=20)
    assert not bool(codebook.initialized)
    codebook.eval()
    codebook(z)
    assert not bool(codebook.initialized), "k-means must not run in eval mode"
    codebook.train()
    out = codebook(z)
    assert bool(codebook.initialized)
    assert float(out.codebook_loss.detach()) < 0.01 * float(random_init(z).codebook_loss.detach())
    codes_after_init = codebook.codes.detach().clone()
    codebook(z + 100)
    torch.testing.assert_close(codebook.codes.detach(), codes_after_init)


def test_ema_update_moves_codes_to_the_mean_of_their_tokens(generator):
    codebook = Codebook(num_codes=2, dim=3, update="ema", ema_decay=0.5)
    assert "codes" in dict(codebook.named_buffers()) and not list(codebook.parameters())
    codebook.codes.copy_(torch.tensor([[0.0, 0.0, 0.0], [10.0, 10.0, 10.0]]))
    codebook.ema_code_sum.copy_(codebook.codes)
    z = torch.tensor([[[1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [9.0, 9.0, 9.0]]])
    for _ in range(30):
        out = codebook(z)
    assert out.indices.tolist() == [[0, 0, 1]]
    torch.testing.assert_close(codebook.codes, torch.tensor([[2.0] * 3, [9.0] * 3]), rtol=1e-3, atol=1e-3)


def test_dead_codes_are_reseeded_from_current_tokens(generator):
    codebook = Codebook(num_codes=8, dim=4, dead_code_steps=3)
    with torch.no_grad():
        codebook.codes.copy_(torch.randn(8, 4, generator=generator))
        codebook.codes[5] = 1e6
    z = torch.randn(1, 50, 4, generator=generator)
    for _ in range(3):
        codebook(z)
    assert codebook.codes[5].abs().max() < 100, "unused code was not restarted"
    restarted = codebook.codes.detach()[5]
    assert torch.isclose(z[0], restarted).all(dim=1).any(), "restarted code must be one of the tokens"


def test_usage_counts_perplexity_and_dead_codes(generator):
    codebook = Codebook(num_codes=4, dim=2)
    with torch.no_grad():
        codebook.codes.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [50.0, 50.0]]))
    z = torch.tensor([[[0.1, 0.0], [9.9, 0.1], [0.0, 9.8], [0.2, 0.1]]])
    codebook(z)
    usage = codebook.usage()
    assert usage.counts.tolist() == [2, 1, 1, 0]
    assert usage.dead_codes == 1
    expected = torch.exp(-(torch.tensor([0.5, 0.25, 0.25]) * torch.tensor([0.5, 0.25, 0.25]).log()).sum())
    assert usage.perplexity == pytest.approx(float(expected))
    codebook.reset_usage()
    assert codebook.usage().dead_codes == 4
    assert usage_from_counts(torch.tensor([5, 5, 5, 5])).perplexity == pytest.approx(4.0)


def test_freeze_stops_gradients_ema_restarts_and_kmeans(generator):
    for update in ("gradient", "ema"):
        codebook = Codebook(num_codes=8, dim=4, update=update, dead_code_steps=1, kmeans_init=True).freeze()
        before = codebook.codes.detach().clone()
        z = torch.randn(2, 20, 4, generator=generator, requires_grad=True)
        out = codebook(z)
        (out.quantized.sum() + out.loss).backward()
        assert torch.equal(codebook.codes.detach(), before)
        assert codebook.codes.grad is None
        assert z.grad is not None


def test_lookup_returns_rows_and_rejects_bad_indices():
    codebook = Codebook(num_codes=4, dim=3)
    indices = torch.tensor([[0, 3], [2, 2]])
    torch.testing.assert_close(codebook.lookup(indices), codebook.codes.detach()[indices])
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        codebook.lookup(torch.tensor([[4]]))
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        codebook.lookup(torch.tensor([[0.0]]))


@pytest.mark.parametrize(
    "tokens, message",
    [
        (torch.randn(10, 8), r"expected shape \(b m d\)"),
        (torch.randn(2, 10, 7), "d=8"),
        (torch.randn(2, 0, 8), "non-empty"),
        (torch.full((2, 3, 8), float("nan")), "non-finite"),
        (torch.full((2, 3, 8), float("inf")), "non-finite"),
        (torch.ones(2, 3, 8, dtype=torch.int32), "floating-point"),
    ],
)
def test_bad_tokens_raise_clear_errors(tokens, message):
    codebook = Codebook(num_codes=4, dim=8)
    with pytest.raises(ValueError, match=message):
        codebook(tokens)
    with pytest.raises(ValueError, match=message):
        codebook.logits(tokens)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_codes": 0},
        {"dim": 0},
        {"update": "kmeans"},
        {"ema_decay": 1.0},
        {"temperature": 0.0},
        {"commitment_weight": -1.0},
        {"dead_code_steps": -1},
    ],
)
def test_invalid_configuration_is_rejected(kwargs):
    with pytest.raises(ValueError, match="codebook"):
        Codebook(**kwargs)


def test_config_round_trip_and_state_dict_keys():
    codebook = Codebook(num_codes=8, dim=4, update="ema", kmeans_init=True)
    clone = Codebook.from_config(codebook.config)
    assert clone.config == codebook.config == CodebookConfig(num_codes=8, dim=4, update="ema", kmeans_init=True)
    clone.load_state_dict(codebook.state_dict(), strict=True)
    assert torch.equal(clone.codes, codebook.codes)
    assert set(Codebook(num_codes=8, dim=4).state_dict()) == {"codes", "initialized", "usage_counts", "steps_since_used"}
