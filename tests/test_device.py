"""Device choice: auto picks CUDA when present; asking for a missing GPU is an error."""

from __future__ import annotations

import pytest
import torch

from maxentrl.device import device_name, resolve_device
from maxentrl.errors import ConfigError


def test_auto_picks_cuda_exactly_when_available() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_cpu_and_device_objects() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert "CPU" in device_name(torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        resolve_device("cuda")


@pytest.mark.parametrize("spec", ["gpu", "", 3])
def test_unknown_device(spec: object) -> None:
    with pytest.raises(ConfigError, match="device must be one of"):
        resolve_device(spec)  # type: ignore[arg-type]
