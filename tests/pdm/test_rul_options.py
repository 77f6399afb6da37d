"""Training options of the RUL estimator on hand-computed values: weight averaging and Huber loss."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from edgetwin.pdm.rul.estimator import _loss, ema_update  # noqa: E402


def _lin(value: float) -> torch.nn.Linear:
    m = torch.nn.Linear(2, 1)
    with torch.no_grad():
        m.weight.fill_(value)
        m.bias.fill_(value)
    return m


def test_ema_update_warms_up_then_uses_the_decay() -> None:
    avg, model = _lin(0.0), _lin(10.0)
    # step 1: d = min(0.99, 2/11); avg = d * 0 + (1 - d) * 10
    d = ema_update(avg, model, 0.99, step=1)
    assert d == pytest.approx(2 / 11)
    assert avg.weight.detach().ravel().tolist() == pytest.approx([10 * 9 / 11] * 2)
    assert avg.bias.item() == pytest.approx(10 * 9 / 11)
    # late step: the warm-up term exceeds the decay, so the decay itself is used
    before = avg.bias.item()
    d = ema_update(avg, model, 0.99, step=10_000)
    assert d == 0.99
    assert avg.bias.item() == pytest.approx(0.99 * before + 0.01 * 10)
    assert model.bias.item() == 10.0  # the trained weights are left alone


def test_loss_is_mse_by_default_and_huber_in_cycles() -> None:
    pred = torch.tensor([0.05, 0.5])
    zero = torch.zeros(2)
    assert _loss(None, 125.0)(pred, zero).item() == pytest.approx((0.05**2 + 0.5**2) / 2)
    # threshold 12.5 cycles = 0.1 of the cap: 6.25 cycles is quadratic, 62.5 cycles linear
    huber = _loss(12.5, 125.0)(pred, zero).item()
    assert huber == pytest.approx((0.5 * 0.05**2 + 0.1 * (0.5 - 0.5 * 0.1)) / 2)


def test_magnitude_warp_is_a_smooth_multiplicative_curve() -> None:
    from edgetwin.pdm.rul.estimator import magnitude_warp

    torch.manual_seed(0)
    x = torch.ones(256, 40, 3)
    y = magnitude_warp(x, 0.1)
    assert y.shape == x.shape
    # knots at cycles 0, 13, 26, 39 of the window; linear in between (zero second difference)
    d2 = y[:, 2:, :] - 2 * y[:, 1:-1, :] + y[:, :-2, :]
    inside = [i - 1 for i in range(1, 39) if i not in (13, 26)]
    assert d2[:, inside, :].abs().max().item() < 1e-5
    assert d2[:, [12, 25], :].abs().max().item() > 0.05  # it bends at the knots
    knots = y[:, [0, 13, 26, 39], :]
    assert knots.mean().item() == pytest.approx(1.0, abs=0.01)
    assert knots.std().item() == pytest.approx(0.1, abs=0.01)
    # multiplicative: a window at the regime mean (zeros) stays there; std 0 is the identity
    assert magnitude_warp(torch.zeros(4, 40, 3), 0.5).abs().max().item() == 0.0
    z = torch.randn(4, 40, 3)
    assert torch.equal(magnitude_warp(z, 0.0), z)
