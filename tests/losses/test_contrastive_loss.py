import pytest
import torch

from graph_energy.losses import ContrastiveLoss, negative_weights


def test_loss_matches_the_formula_and_regulariser():
    e_pos = torch.tensor([1.0, -2.0, 0.5], requires_grad=True)
    e_neg = torch.tensor([3.0, 0.0, -1.0], requires_grad=True)
    w = torch.tensor([1.0, 10.0, 1.0])
    out = ContrastiveLoss(reg_alpha=0.1)(e_pos, e_neg, w, lambda_cl=0.5)
    l_cl = (1 * (1 - 3) + 10 * (-2 - 0) + 1 * (0.5 + 1)) / 12
    reg = ((1 + 9) + (4 + 0) + (0.25 + 1)) / 3
    assert out.terms["loss_cl"].item() == pytest.approx(l_cl)
    assert out.terms["energy_reg"].item() == pytest.approx(reg)
    assert out.loss.item() == pytest.approx(0.5 * l_cl + 0.1 * reg)
    assert out.metrics["energy_gap"] == pytest.approx(((3 - 1) + 2 + (-1.5)) / 3)
    assert out.metrics["energy_gap_weighted"] == pytest.approx(-l_cl)
    out.loss.backward()
    # descent lowers data energies and raises negative energies (without the regulariser)
    e_pos.grad = None
    e_neg.grad = None
    ContrastiveLoss()(e_pos, e_neg, w).loss.backward()
    assert (e_pos.grad > 0).all() and (e_neg.grad < 0).all()
    assert torch.allclose(e_pos.grad, w / w.sum()) and torch.allclose(e_neg.grad, -w / w.sum())


def test_weights_of_bad_negatives():
    good = torch.tensor([True, False, True, False])
    assert negative_weights(good).tolist() == [1.0, 10.0, 1.0, 10.0]
    assert ContrastiveLoss(invalid_weight=3.0).weights(good).tolist() == [1.0, 3.0, 1.0, 3.0]
    # uniform weights: the plain mean difference
    out = ContrastiveLoss()(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 5.0]))
    assert out.terms["loss_cl"].item() == pytest.approx(-2.0)


@pytest.mark.parametrize("bad", [
    dict(energy_pos=torch.zeros(3), energy_neg=torch.zeros(2)),
    dict(energy_pos=torch.zeros(2), energy_neg=torch.zeros(2), weights=torch.tensor([1.0, -1.0])),
    dict(energy_pos=torch.zeros(2), energy_neg=torch.zeros(2), weights=torch.zeros(2)),
    dict(energy_pos=torch.zeros(0), energy_neg=torch.zeros(0)),
])
def test_bad_input_is_a_value_error(bad):
    with pytest.raises(ValueError):
        ContrastiveLoss()(**bad)
    with pytest.raises(ValueError, match="reg_alpha"):
        ContrastiveLoss(reg_alpha=-1)
