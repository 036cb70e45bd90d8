"""SGD with momentum, Adam and AdamW, written from their update rules.

A lesson module: the optimizers chapter (``docs/*/optimizers.md``) shows each update
rule next to the code that applies it, then checks that after k steps the parameters
equal those of ``torch.optim.SGD`` / ``Adam`` / ``AdamW`` within a stated tolerance. The
formulas follow PyTorch's documented algorithms (dampening 0, no Nesterov, no AMSGrad),
so the comparison is exact up to floating-point rounding:
https://pytorch.org/docs/stable/generated/torch.optim.AdamW.html

Notable choices:
* plain classes, not ``torch.optim.Optimizer`` subclasses: the algorithm is all visible;
* the state of every parameter is a dict of tensors shaped like it, so the memory the
  state costs can be counted (``state_bytes``): AdamW keeps two copies of the weights;
* the learning rate is an attribute (``opt.lr``) a schedule may set before each step.

Run ``python -m snippets.optim`` to print how far each optimizer is from torch.optim.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn


def as_param_list(params: Iterable[torch.Tensor], who: str) -> list[torch.Tensor]:
    """The parameters as a list; an empty list or a tensor without grad is an error."""
    params = list(params)
    if not params:
        raise ValueError(f"{who} got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, torch.Tensor) or not p.requires_grad:
            raise ValueError(
                f"{who}: parameter #{i} is not a tensor that requires grad"
            )
    return params


# --8<-- [start:sgd]
@dataclass
class SGDConfig:
    lr: float = 0.1  # η, step size
    momentum: float = 0.9  # μ, share of the previous velocity kept (0: plain SGD)
    weight_decay: float = 0.0  # λ, L2 penalty added to the gradient

    def __post_init__(self) -> None:
        if not (self.lr > 0 and 0 <= self.momentum < 1 and self.weight_decay >= 0):
            raise ValueError(
                f"SGD needs lr > 0, 0 <= momentum < 1, weight_decay >= 0; got {self}"
            )


class SGD:
    """Stochastic gradient descent with (heavy-ball) momentum, as torch.optim.SGD.

        g_t = ∇L(θ_{t-1}) + λ θ_{t-1}
        v_t = μ v_{t-1} + g_t        (v_0 = 0, so v_1 = g_1)
        θ_t = θ_{t-1} - η v_t

    Args:
        params: the tensors to update (their ``.grad`` is read).
        cfg: learning rate, momentum and weight decay.
    """

    def __init__(self, params: Iterable[torch.Tensor], cfg: SGDConfig) -> None:
        self.params, self.cfg, self.lr = as_param_list(params, "SGD"), cfg, cfg.lr
        self.state = [{"velocity": torch.zeros_like(p)} for p in self.params]

    @torch.no_grad()
    def step(self) -> None:
        mu, lam = self.cfg.momentum, self.cfg.weight_decay
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad + lam * p
            v = state["velocity"].mul_(mu).add_(g)  # v = μ v + g
            p.sub_(self.lr * v)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
            # --8<-- [end:sgd]


# --8<-- [start:adam-config]
@dataclass
class AdamConfig:
    lr: float = 1e-3  # η, step size (about the most a coordinate moves per step)
    beta1: float = 0.9  # β1, decay of the first moment m (the mean of the gradient)
    beta2: float = 0.999  # β2, decay of the second moment v (the mean of its square)
    eps: float = 1e-8  # ε, keeps the division finite where v̂ is ~0
    weight_decay: float = 0.0  # λ
    decoupled: bool = False  # False: Adam adds λθ to g; True: AdamW shrinks θ itself

    def __post_init__(self) -> None:
        ok = 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1
        if not (ok and self.lr > 0 and self.eps > 0 and self.weight_decay >= 0):
            raise ValueError(
                f"Adam needs lr > 0, 0 <= beta1, beta2 < 1, eps > 0, "
                f"weight_decay >= 0; got {self}"
            )
            # --8<-- [end:adam-config]


# --8<-- [start:adam]
class Adam:
    """Adam (Kingma & Ba, 2014) and AdamW (Loshchilov & Hutter, 2017), as torch.optim.

        g_t = ∇L(θ_{t-1}) (+ λ θ_{t-1} for Adam)     θ ← (1 - ηλ) θ  first, for AdamW
        m_t = β1 m_{t-1} + (1 - β1) g_t               v_t = β2 v_{t-1} + (1 - β2) g_t²
        m̂_t = m_t / (1 - β1^t)                        v̂_t = v_t / (1 - β2^t)
        θ_t = θ - η m̂_t / (√v̂_t + ε)

    Args:
        params: the tensors to update (their ``.grad`` is read).
        cfg: hyperparameters; ``cfg.decoupled`` chooses AdamW.
    """

    def __init__(self, params: Iterable[torch.Tensor], cfg: AdamConfig) -> None:
        self.params, self.cfg = as_param_list(params, "Adam"), cfg
        self.lr, self.t = cfg.lr, 0  # a schedule may set lr before each step
        # Two tensors shaped like each parameter: the optimizer state is 2 copies of θ.
        self.state = [
            {"m": torch.zeros_like(p), "v": torch.zeros_like(p)} for p in self.params
        ]

    @torch.no_grad()
    def step(self) -> None:
        c, lr = self.cfg, self.lr
        self.t += 1
        bias1, bias2 = 1 - c.beta1**self.t, 1 - c.beta2**self.t
        for p, state in zip(self.params, self.state):
            if p.grad is None:
                continue
            g = p.grad
            if c.decoupled:
                p.mul_(1 - lr * c.weight_decay)  # AdamW: decay the weight itself
            else:
                g = g + c.weight_decay * p  # Adam: an L2 term, rescaled below like g
            m = state["m"].mul_(c.beta1).add_(g, alpha=1 - c.beta1)
            v = state["v"].mul_(c.beta2).addcmul_(g, g, value=1 - c.beta2)
            m_hat, v_hat = m / bias1, v / bias2
            p.sub_(lr * m_hat / (v_hat.sqrt() + c.eps))

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
            # --8<-- [end:adam]


def state_bytes(optimizer: SGD | Adam | torch.optim.Optimizer) -> int:
    """Bytes held in the optimizer's state tensors (ours or torch.optim's)."""
    state = optimizer.state  # ours: a list of dicts; torch's: a dict of dicts
    states = state.values() if isinstance(state, dict) else state
    return sum(
        t.numel() * t.element_size()
        for s in states
        for t in s.values()
        if isinstance(t, torch.Tensor)
    )


# --8<-- [start:compare]
def max_diff_after(
    make_ours: Callable[[list[nn.Parameter]], SGD | Adam],
    make_torch: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    steps: int = 100,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> float:
    """Train two identical small MLPs for ``steps`` steps on the same batches, one with
    each optimizer, and return the largest |θ_ours - θ_torch| over all weights."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)
    twin = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)
    twin.load_state_dict(model.state_dict())
    ours, theirs = (
        make_ours(list(model.parameters())),
        make_torch(list(twin.parameters())),
    )
    data = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(32, 8, generator=data, dtype=dtype)  # (B, 8)
        y = x.sum(dim=1, keepdim=True).sin()  # (B, 1), a smooth target
        for net, opt in ((model, ours), (twin, theirs)):
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
    return max(
        (a - b).abs().max().item()
        for a, b in zip(model.parameters(), twin.parameters())
    )
    # --8<-- [end:compare]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps")
    args = parser.parse_args(argv)
    cases = {
        "SGD": (
            lambda p: SGD(p, SGDConfig(lr=0.05)),
            lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
        ),
        "Adam": (
            lambda p: Adam(p, AdamConfig(lr=1e-2, weight_decay=0.1)),
            lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1),
        ),
        "AdamW": (
            lambda p: Adam(p, AdamConfig(lr=1e-2, weight_decay=0.1, decoupled=True)),
            lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1),
        ),
    }
    for name, (ours, theirs) in cases.items():
        for dtype in (torch.float32, torch.float64):
            diff = max_diff_after(ours, theirs, args.steps, dtype)
            print(
                f"{name:5s} {dtype!s:13s} max |diff| after {args.steps} steps: "
                f"{diff:.1e} (eps of the dtype: {torch.finfo(dtype).eps:.1e})"
            )
    print(
        f"fp32 AdamW state of 7e9 parameters: {7e9 * 8 / 2**30:.1f} GiB "
        f"(+ weights and gradients: {7e9 * 16 / 2**30:.1f} GiB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
