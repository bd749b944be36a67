"""The training helpers: the linear probe's closed-form Adam equals torch's autograd Adam."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from repcam_core.models.train import fit_probe


def _autograd_probe(head: nn.Linear, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float, wd: float) -> None:
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=wd)
    for _ in range(steps):
        loss = F.cross_entropy(head(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


@pytest.mark.parametrize("classes,wd", [(2, 1e-3), (5, 0.0), (3, 0.1)])
def test_fit_probe_takes_the_same_steps_as_torch_adam_on_the_cross_entropy(classes, wd):
    g = torch.Generator().manual_seed(classes)
    x = torch.randn(90, 24, generator=g) * 3
    y = torch.randint(0, classes, (90,), generator=g)
    head = nn.Linear(24, classes)
    with torch.no_grad():
        head.weight.normal_(0, 0.5, generator=g)
        head.bias.normal_(0, 0.5, generator=g)
    expected = copy.deepcopy(head)
    _autograd_probe(expected, x, y, steps=60, lr=1e-2, wd=wd)
    fit_probe(head, x, y, steps=60, lr=1e-2, weight_decay=wd)
    torch.testing.assert_close(head.weight, expected.weight, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(head.bias, expected.bias, rtol=1e-4, atol=1e-5)


def test_fit_probe_separates_separable_features():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 2, (64,), generator=g)
    x = torch.randn(64, 8, generator=g) + 3 * F.one_hot(y, 8).float()
    head = nn.Linear(8, 2)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    fit_probe(head, x, y)
    assert (head(x).argmax(1) == y).float().mean() >= 0.95


def test_feature_memo_computes_each_key_once_within_its_budget_and_recomputes_beyond_it():
    from repcam_core.models.train import FeatureMemo

    calls: list[str] = []

    def make(key: str, n: int):
        return lambda: calls.append(key) or torch.zeros(n)  # n float32 = 4n bytes

    memo = FeatureMemo(budget=100)
    for _ in range(3):
        memo.get("a", make("a", 20))  # 80 bytes: kept
        memo.get("b", make("b", 10))  # 40 more would pass 100: computed each time
    assert calls == ["a", "b", "b", "b"]
    assert memo.held == 80
