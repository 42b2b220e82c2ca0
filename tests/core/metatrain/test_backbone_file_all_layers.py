"""Backbone files that retrain every layer (the GPU meta-training of issue 16): whole state or float16 differences."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.embedding import load_backbone
from core.errors import ModelError
from core.metatrain.backbone_file import DELTA, MetaTrainedLite0, write_backbone_file


def _lite0_state() -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in load_backbone("efficientnet-lite0").net.state_dict().items() if v.is_floating_point()}  # type: ignore[attr-defined]


def test_whole_state_and_float16_differences_load_to_the_same_network(tmp_path: Path) -> None:
    state = _lite0_state()
    change = np.full_like(state["_conv_stem.weight"], 0.25)
    whole = {**state, "_conv_stem.weight": state["_conv_stem.weight"] + change}
    card = {"base_backbone": "efficientnet-lite0", "trained_layers": "all"}
    write_backbone_file(tmp_path / "whole.rsbackbone", whole, card)
    write_backbone_file(tmp_path / "delta.rsbackbone", {"_conv_stem.weight": change.astype(np.float16)}, {**card, "stored_as": DELTA})
    a, b = MetaTrainedLite0(tmp_path / "whole.rsbackbone"), MetaTrainedLite0(tmp_path / "delta.rsbackbone")
    for name, value in a.net.state_dict().items():
        assert torch.equal(value, b.net.state_dict()[name]), name
    assert torch.allclose(a.net.state_dict()["_conv_stem.weight"], torch.from_numpy(whole["_conv_stem.weight"]))


def test_weights_of_another_network_are_refused(tmp_path: Path) -> None:
    card = {"base_backbone": "efficientnet-lite0", "trained_layers": "all"}
    write_backbone_file(tmp_path / "odd.rsbackbone", {"_not_a_layer.weight": np.zeros(3, np.float32)}, card)
    with pytest.raises(ModelError, match="do not fit EfficientNet-Lite0's network"):
        MetaTrainedLite0(tmp_path / "odd.rsbackbone")
