"""snippets/autograd_function.py: custom Functions against autograd and gradcheck."""

import pytest
import torch

from snippets.autograd_function import (
    CheckConfig,
    LinearFunction,
    MyLinear,
    RoundSTE,
    fake_quantize,
    main,
)


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
        for shape in ((4, 3), (2, 3), (2,))
    )


def test_gradcheck_passes_in_float64() -> None:
    assert torch.autograd.gradcheck(LinearFunction.apply, _inputs())
    x, w, _ = _inputs(1)
    assert torch.autograd.gradcheck(LinearFunction.apply, (x, w, None))


def test_gradients_equal_builtin_linear() -> None:
    x, w, b = _inputs(2)
    upstream = torch.randn(4, 2, dtype=torch.float64)
    LinearFunction.apply(x, w, b).backward(upstream)
    mine = [t.grad.clone() for t in (x, w, b)]
    for t in (x, w, b):
        t.grad = None
    torch.nn.functional.linear(x, w, b).backward(upstream)
    for m, t in zip(mine, (x, w, b)):
        torch.testing.assert_close(m, t.grad, rtol=1e-12, atol=1e-12)


def test_no_gradient_for_inputs_that_do_not_need_it() -> None:
    x, w, b = _inputs(3)
    data = x.detach()  # data never needs a gradient
    LinearFunction.apply(data, w, b).sum().backward()
    assert data.grad is None and w.grad is not None and b.grad is not None


def test_mylinear_matches_nn_linear_and_trains() -> None:
    torch.manual_seed(0)
    mine = MyLinear(6, 3)
    ref = torch.nn.Linear(6, 3)
    ref.load_state_dict(mine.state_dict())
    x = torch.randn(8, 6)
    torch.testing.assert_close(mine(x), ref(x))
    mine(x).square().mean().backward()
    ref(x).square().mean().backward()
    torch.testing.assert_close(mine.weight.grad, ref.weight.grad)
    torch.testing.assert_close(mine.bias.grad, ref.bias.grad)
    assert not hasattr(MyLinear, "backward")
    assert MyLinear(6, 3, bias=False)(x).shape == (8, 3)


def test_mylinear_refuses_bad_sizes() -> None:
    with pytest.raises(ValueError, match="in_features=0, out_features=3"):
        MyLinear(0, 3)


def test_round_ste_passes_gradient_through() -> None:
    x = torch.tensor([0.2, 0.7, -1.4, 2.5], requires_grad=True)
    y = RoundSTE.apply(x)
    torch.testing.assert_close(y, torch.round(x.detach()))
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([1.0, 2.0, 3.0, 4.0]))
    # The true derivative of round is zero: autograd's own round gives no signal.
    x.grad = None
    torch.round(x).sum().backward()
    assert torch.count_nonzero(x.grad) == 0


def test_fake_quantize_snaps_to_grid() -> None:
    x = torch.tensor([0.26, -0.74, 1.01], requires_grad=True)
    q = fake_quantize(x, 0.5)
    torch.testing.assert_close(q, torch.tensor([0.5, -0.5, 1.0]))
    q.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(3))
    with pytest.raises(ValueError, match="scale must be > 0, got 0"):
        fake_quantize(x, 0)


def test_main_prints_true(capsys: pytest.CaptureFixture[str]) -> None:
    main(CheckConfig())
    assert capsys.readouterr().out.strip() == "gradcheck(LinearFunction): True"
