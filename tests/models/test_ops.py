import torch
import torch.nn.functional as F

from graph_energy.models.ops import silu
from graph_energy.models.transformer import masked_stats


def test_silu_matches_torch_to_second_order():
    x = torch.randn(40, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(silu, (x,))
    assert torch.autograd.gradgradcheck(silu, (x,))
    g = torch.randn(40, dtype=torch.float64, requires_grad=True)
    w = torch.randn(40, dtype=torch.float64)
    ours = torch.autograd.grad(silu(x), x, g, create_graph=True)[0]
    ref = torch.autograd.grad(F.silu(x), x, g, create_graph=True)[0]
    torch.testing.assert_close(ours, ref)
    for a, b in zip(torch.autograd.grad((ours * w).sum(), (x, g)), torch.autograd.grad((ref * w).sum(), (x, g))):
        torch.testing.assert_close(a, b)


def test_masked_stats_ignore_padding_and_handle_empty_sets():
    t = torch.randn(3, 5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]], dtype=torch.bool)
    count = mask.sum(-1, keepdim=True).to(t.dtype)
    out = masked_stats(t, mask, count)
    garbage = t.masked_fill(~mask[..., None], 1e3)
    torch.testing.assert_close(out, masked_stats(garbage, mask, count))
    torch.testing.assert_close(out[0, :4], t[0, :3].mean(0))
    # std is sqrt(var + 1e-6) (finite gradient at zero variance)
    torch.testing.assert_close(out[0, 12:], (t[0, :3].var(0, unbiased=False) + 1e-6).sqrt())
    lo, hi, mean = t[0, :3].min(0).values, t[0, :3].max(0).values, t[0, :3].mean(0)
    assert ((lo <= out[0, 4:8]) & (out[0, 4:8] <= mean)).all()          # min ≤ soft-min ≤ mean
    assert ((mean <= out[0, 8:12]) & (out[0, 8:12] <= hi)).all()        # mean ≤ soft-max ≤ max
    torch.testing.assert_close(out[1, 4:12], torch.cat([t[1, 0], t[1, 0]]))  # one entry: exact
    assert out[2, :12].abs().max() == 0
    t.requires_grad_(True)
    masked_stats(t, mask, count).sum().backward()
    assert torch.isfinite(t.grad).all() and t.grad[2].abs().max() == 0
