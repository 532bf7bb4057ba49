"""Learning-rate schedules: values against torch.optim.lr_scheduler and by hand."""

import math

import numpy as np
import pytest

from fastbp.nn import Parameter
from fastbp.optim import SGD, Adam
from fastbp.schedules import CosineAnnealingLR, ExponentialLR, StepLR


def make_opt(lr=0.1, cls=SGD):
    return cls([Parameter(np.zeros(3))], lr=lr)


def torch_lrs(torch, name, lr, epochs, **kw):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    sched = getattr(torch.optim.lr_scheduler, name)(opt, **kw)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(epochs):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def our_lrs(cls, lr, epochs, **kw):
    opt = make_opt(lr)
    sched = cls(opt, **kw)
    lrs = [opt.lr]
    for _ in range(epochs):
        assert sched.step() == opt.lr
        lrs.append(opt.lr)
    assert sched.get_last_lr() == [opt.lr]
    return lrs


@pytest.mark.parametrize("cls,kw", [
    (StepLR, {"step_size": 3}),
    (StepLR, {"step_size": 1, "gamma": 0.5}),
    (ExponentialLR, {"gamma": 0.9}),
    (CosineAnnealingLR, {"T_max": 10}),
    (CosineAnnealingLR, {"T_max": 7, "eta_min": 0.01}),
], ids=str)
def test_matches_torch(cls, kw):
    torch = pytest.importorskip("torch")
    epochs = 25  # past T_max, where the cosine rises again
    np.testing.assert_allclose(our_lrs(cls, 0.3, epochs, **kw),
                               torch_lrs(torch, cls.__name__, 0.3, epochs, **kw),
                               rtol=1e-12, atol=1e-15)


def test_values_by_hand():
    assert our_lrs(StepLR, 1.0, 7, step_size=3, gamma=0.1) == pytest.approx(
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rel=1e-15)
    cos = our_lrs(CosineAnnealingLR, 1.0, 4, T_max=4)
    assert cos == pytest.approx([1.0, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2,
                                 0.0], abs=1e-15)


def test_works_with_any_optimizer_and_resumes():
    opt = make_opt(0.01, Adam)
    sched = CosineAnnealingLR(opt, T_max=10, eta_min=1e-4)
    for _ in range(4):
        sched.step()
    state = {k: np.asarray(v) for k, v in sched.state_dict().items()}  # as from np.load
    assert dict(sched.state_dict()) == {"base_lr": 0.01, "last_epoch": 4, "T_max": 10,
                                        "eta_min": 1e-4}
    opt2 = make_opt(0.5, Adam)
    sched2 = CosineAnnealingLR(opt2, T_max=3)
    sched2.load_state_dict(state)
    assert opt2.lr == opt.lr and sched2.T_max == 10
    assert sched2.step() == sched.step()
    assert repr(sched2).startswith("CosineAnnealingLR(T_max=10, eta_min=0.0001, base_lr=0.01")


def test_bad_input():
    opt = make_opt()
    cases = [
        (lambda: StepLR(opt, step_size=0), ValueError, "step_size must be >= 1"),
        (lambda: StepLR(opt, step_size=2.5), TypeError, "step_size must be an int"),
        (lambda: StepLR(opt, step_size=2, gamma=-1), ValueError, "gamma"),
        (lambda: CosineAnnealingLR(opt, T_max=0), ValueError, "T_max"),
        (lambda: CosineAnnealingLR(opt, T_max=5, eta_min=float("nan")), ValueError, "eta_min"),
        (lambda: ExponentialLR("opt", gamma=0.9), TypeError, "optimizer"),
        (lambda: StepLR(opt, 2).load_state_dict({"base_lr": 0.1}), ValueError, "missing keys"),
        (lambda: StepLR(opt, 2).load_state_dict(
            {"base_lr": 0.1, "last_epoch": 1, "step_size": 0, "gamma": 0.1}), ValueError,
         "step_size"),
    ]
    for call, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            call()
