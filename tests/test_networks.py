"""The ensemble network: members are independent networks that happen to share one set of tensors."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.networks import ActorCritic, EnsembleConv2d, EnsembleLinear, clip_grad_norm_per_member, member_norms


@pytest.mark.parametrize("trunk, shape", [("mlp", (4,)), ("minatar", (10, 10, 3)), ("nature", (4, 84, 84))])
def test_shapes_and_member_independence(trunk: str, shape: tuple[int, ...]) -> None:
    net = ActorCritic(shape, 5, members=3, trunk=trunk, generator=torch.Generator().manual_seed(0))
    obs = torch.rand(3, 2, *shape) * (255 if trunk == "nature" else 1)
    logits, value = net(obs)
    assert logits.shape == (3, 2, 5) and value.shape == (3, 2)
    # member 1's outputs do not depend on member 0's inputs, and its loss only reaches its own weights
    obs2 = obs.clone()
    obs2[0] = torch.rand_like(obs2[0])
    logits2, _ = net(obs2)
    assert torch.equal(logits[1:], logits2[1:])
    (logits[1].sum() + value[1].sum()).backward()
    for p in net.parameters():
        assert p.grad[0].abs().max() == 0 and p.grad[2].abs().max() == 0


def test_ensemble_layers_match_plain_layers() -> None:
    g = torch.Generator().manual_seed(1)
    lin = EnsembleLinear(2, 3, 4, generator=g)
    x = torch.randn(2, 5, 3)
    for e in range(2):
        assert torch.allclose(lin(x)[e], x[e] @ lin.weight[e].T + lin.bias[e], atol=1e-6)
    conv = EnsembleConv2d(2, 3, 4, 3, 2, generator=g)
    x = torch.randn(2, 5, 3, 9, 9)
    out = conv(x)
    for e in range(2):
        ref = torch.nn.functional.conv2d(x[e], conv.weight[e], conv.bias[e], stride=2)
        assert torch.allclose(out[e], ref, atol=1e-5)


def test_orthogonal_initialization_per_member() -> None:
    lin = EnsembleLinear(3, 8, 8, gain=1.0, generator=torch.Generator().manual_seed(2))
    for e in range(3):
        assert torch.allclose(lin.weight[e] @ lin.weight[e].T, torch.eye(8), atol=1e-5)
    assert not torch.allclose(lin.weight[0], lin.weight[1])


def test_clip_per_member_leaves_small_gradients_alone() -> None:
    a = torch.nn.Parameter(torch.zeros(2, 3))
    b = torch.nn.Parameter(torch.zeros(2, 4))
    a.grad = torch.tensor([[3.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    b.grad = torch.tensor([[0.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    norms = clip_grad_norm_per_member([a, b], 1.0)
    assert torch.allclose(norms, torch.tensor([5.0, 0.1]))
    assert torch.allclose(member_norms([a.grad, b.grad]), torch.tensor([1.0, 0.1]), atol=1e-5)
    assert torch.allclose(a.grad[1], torch.tensor([0.1, 0.0, 0.0]))


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError):
        ActorCritic((4,), 2, trunk="transformer")
    with pytest.raises(ConfigError):
        ActorCritic((10, 10), 2, trunk="minatar")
    with pytest.raises(ConfigError):
        ActorCritic((4,), 2, members=2)(torch.zeros(3, 1, 4))
