"""snippets/linear_math.py: hand-written formulas against autograd (float64, seeded)."""

import pytest
import torch
import torch.nn.functional as F

from snippets.linear_math import (
    CheckConfig,
    kaiming_std,
    linear_backward,
    linear_forward,
    main,
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
    xavier_std,
)


def _batch(seed: int = 0, batch: int = 7, n_in: int = 5, n_out: int = 3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, n_in, generator=g, dtype=torch.float64)
    w = torch.randn(n_out, n_in, generator=g, dtype=torch.float64)
    b = torch.randn(n_out, generator=g, dtype=torch.float64)
    target = torch.randint(0, n_out, (batch,), generator=g)
    return x, w, b, target


def test_forward_matches_nn_linear() -> None:
    x, w, b, _ = _batch()
    layer = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
        torch.testing.assert_close(linear_forward(x, w, b), layer(x))
    torch.testing.assert_close(linear_forward(x, w), x @ w.T)
    assert linear_forward(x, w, b).shape == (7, 3)


def test_backward_matches_autograd_for_any_upstream_gradient() -> None:
    x, w, b, _ = _batch(seed=1)
    g = torch.Generator().manual_seed(2)
    grad_y = torch.randn(7, 3, dtype=torch.float64, generator=g)
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    F.linear(*leaves).backward(grad_y)
    for mine, leaf in zip(linear_backward(grad_y, x, w), leaves):
        assert mine.shape == leaf.shape
        torch.testing.assert_close(mine, leaf.grad, rtol=1e-12, atol=1e-12)


def test_cross_entropy_and_its_gradient_match_torch() -> None:
    x, w, b, target = _batch(seed=3)
    logits = linear_forward(x, w, b).requires_grad_()
    loss = F.cross_entropy(logits, target)
    loss.backward()
    z = logits.detach()
    torch.testing.assert_close(softmax_cross_entropy(z, target), loss.detach())
    torch.testing.assert_close(
        softmax_cross_entropy_grad(z, target), logits.grad, rtol=1e-12, atol=1e-12
    )


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    logits = torch.tensor([[1000.0, 0.0], [0.0, -1000.0]])
    loss = softmax_cross_entropy(logits, torch.tensor([0, 1]))
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, torch.tensor(500.0))


def test_init_stds() -> None:
    assert kaiming_std(50) == pytest.approx((2 / 50) ** 0.5)
    assert kaiming_std(50, gain=1.0) == pytest.approx(50**-0.5)
    assert xavier_std(30, 10) == pytest.approx((2 / 40) ** 0.5)
    torch.manual_seed(0)
    w = torch.empty(1000, 400)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.std().item() == pytest.approx(kaiming_std(400), rel=0.01)
    torch.nn.init.xavier_normal_(w)
    assert w.std().item() == pytest.approx(xavier_std(400, 1000), rel=0.01)


def test_bad_shapes_are_refused() -> None:
    x, w, b, target = _batch()
    with pytest.raises(ValueError, match=r"x must have shape \(B, 5\) .* got \(7, 4\)"):
        linear_forward(x[:, :4], w, b)
    with pytest.raises(ValueError, match="weight must be 2-D"):
        linear_forward(x, w[0], b)
    bad_grad = torch.zeros(7, 2, dtype=torch.float64)
    message = r"grad_y must have shape \(7, 3\), got \(7, 2\)"
    with pytest.raises(ValueError, match=message):
        linear_backward(bad_grad, x, w)
    with pytest.raises(ValueError, match="expected logits"):
        softmax_cross_entropy(x, target[:3])
    with pytest.raises(ValueError, match="fan_in must be >= 1, got 0"):
        kaiming_std(0)


def test_main_reports_tiny_errors(capsys: pytest.CaptureFixture[str]) -> None:
    main(CheckConfig())
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(float(line.split("= ")[1]) < 1e-12 for line in lines)
