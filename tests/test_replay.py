"""The ensemble replay memory: per-member storage, ring overwrite, sampling, exact state round trip."""

from __future__ import annotations

import pytest
import torch

from maxentrl.errors import ConfigError
from maxentrl.replay import EnsembleReplay


def _fill(buf: EnsembleReplay, n: int) -> None:
    for t in range(n):
        v = torch.tensor([t, 100 + t], dtype=torch.float32)  # member m stores t + 100 m
        buf.add(v.view(2, 1).expand(2, 3), v.view(2, 1).expand(2, 2), v, v.view(2, 1).expand(2, 3) + 1, v > 150)


def test_ring_buffer_overwrites_oldest_and_samples_per_member() -> None:
    buf = EnsembleReplay(2, 5, 3, 2)
    _fill(buf, 8)
    assert len(buf) == 5 and buf.cursor == 3
    assert sorted(buf.data["reward"][0].tolist()) == [3, 4, 5, 6, 7]
    batch = buf.sample(64, generator=torch.Generator().manual_seed(0))
    assert batch["obs"].shape == (2, 64, 3) and batch["terminal"].dtype == torch.bool
    assert set(batch["reward"][0].tolist()) <= {3, 4, 5, 6, 7} and set(batch["reward"][1].tolist()) <= {103, 104, 105, 106, 107}
    torch.testing.assert_close(batch["next_obs"][..., 0], batch["reward"] + 1)


def test_state_dict_round_trip_is_exact() -> None:
    buf = EnsembleReplay(2, 10, 3, 2)
    _fill(buf, 7)
    other = EnsembleReplay(2, 10, 3, 2)
    other.load_state_dict(buf.state_dict())
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    mine, theirs = buf.sample(16, generator=g1), other.sample(16, generator=g2)
    assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert buf.state_dict()["obs"].shape == (2, 7, 3)


def test_bad_input_is_refused() -> None:
    buf = EnsembleReplay(2, 4, 3, 2)
    with pytest.raises(ConfigError):
        buf.sample(4)
    with pytest.raises(ConfigError):
        buf.add(torch.zeros(3, 3), torch.zeros(2, 2), torch.zeros(2), torch.zeros(2, 3), torch.zeros(2, dtype=torch.bool))
