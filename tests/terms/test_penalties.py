"""Penalty shapes: closed-form values, the hard constraint's +inf, and their one-line errors."""

import math

import pytest
import torch

from graph_energy.terms import Bound, Hard, Target, Window, make_penalty

P = torch.tensor([0.0, 1.5, 2.0, 2.5, 3.0, 4.0], dtype=torch.float64)


def test_target_is_quadratic():
    assert torch.equal(Target(2.0, scale=0.5)(P), ((P - 2.0) / 0.5) ** 2)


def test_window_is_flat_inside_and_quadratic_outside():
    got = Window(2.0, 3.0, scale=0.5)(P)
    want = torch.tensor([16.0, 1.0, 0.0, 0.0, 0.0, 4.0], dtype=torch.float64)
    assert torch.equal(got, want)
    assert Window(2.0, 3.0).inside(P).tolist() == [False, False, True, True, True, False]


def test_window_step_is_a_jump_at_the_edge_only():
    got = Window(2.0, 3.0, scale=0.5, step=1.0)(P)
    assert torch.equal(got, torch.tensor([17.0, 2.0, 0.0, 0.0, 0.0, 5.0], dtype=torch.float64))
    # a value a hair outside costs the whole step; a bound has it on its one side only
    assert float(Window(2.0, 3.0, step=3.0)(torch.tensor([3.0 + 1e-9], dtype=torch.float64))) == pytest.approx(3.0)
    assert Bound(lo=2.0, step=2.0)(P).tolist() == [6.0, 2.25, 0.0, 0.0, 0.0, 0.0]
    assert make_penalty(lo=2, hi=3, step=0.5).step == 0.5
    for bad, msg in [(dict(lo=2, hi=3, step=-1), "step must be a finite number >= 0"),
                     (dict(lo=2, hi=3, step=math.inf), "use hard: true"),
                     (dict(target=2, step=1), "not both"), (dict(lo=2, hi=3, hard=True, step=1), "already infinite")]:
        with pytest.raises(ValueError, match=msg):
            make_penalty(**bad)


def test_bounds_are_one_sided_windows():
    assert torch.equal(Bound(lo=2.0)(P), torch.tensor([4.0, 0.25, 0, 0, 0, 0], dtype=torch.float64))
    assert torch.equal(Bound(hi=2.0, scale=2.0)(P), torch.tensor([0, 0, 0, 0.0625, 0.25, 1.0], dtype=torch.float64))


def test_hard_is_zero_inside_and_inf_outside():
    got = Hard(lo=2.0, hi=3.0)(P)
    assert got.tolist() == [math.inf, math.inf, 0.0, 0.0, 0.0, math.inf]
    assert Hard(hi=0)(torch.tensor([0.0, 1.0])).tolist() == [0.0, math.inf]


def test_hard_keeps_a_learned_prediction_in_the_autograd_graph():
    p = torch.tensor([2.5, 5.0], requires_grad=True)
    Hard(lo=2.0, hi=3.0)(p)[0].backward()
    assert p.grad.tolist() == [0.0, 0.0]


def test_short_form_picks_the_shape():
    assert isinstance(make_penalty(target=1.0), Target)
    assert isinstance(make_penalty(lo=1, hi=2), Window) and not isinstance(make_penalty(lo=1, hi=2), Bound)
    assert isinstance(make_penalty(lo=1), Bound)
    assert isinstance(make_penalty(hi=0, hard=True), Hard)


@pytest.mark.parametrize("build,msg", [
    (lambda: Window(3, 2), "lo=3 > hi=2; swap them"),
    (lambda: Window(), "needs lo, hi or both"),
    (lambda: Bound(lo=1, hi=2), "exactly one of lo / hi"),
    (lambda: Hard(), "Hard needs lo, hi or both"),
    (lambda: Target(1.0, scale=0), "scale must be a positive finite number"),
    (lambda: Target(float("inf")), "value must be a finite number"),
    (lambda: make_penalty(target=1, lo=0), "either target=1 or a window"),
    (lambda: make_penalty(), "needs target=..., or lo=..."),
])
def test_penalty_errors(build, msg):
    with pytest.raises(ValueError, match=msg.replace("(", r"\(").replace("[", r"\[")):
        build()


def test_non_numeric_bound_is_a_type_error():
    with pytest.raises(TypeError, match="lo must be a number or null"):
        Window("low", 2)
