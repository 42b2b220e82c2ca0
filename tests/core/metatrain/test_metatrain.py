"""Meta-training on synthetic classes with the real backbone: deterministic, resumable, loadable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.demo import write_demo_images
from core.errors import ModelError
from core.metatrain import MetaTrainConfig, MetaTrainedLite0, load_meta_data, meta_train, read_backbone_file, write_backbone_file
from core.metatrain.data import MetaTrainError, split_classes
from core.metatrain.trainer import significant_gain

CONFIG = MetaTrainConfig(ways=2, shots=2, queries=2, episodes=12, val_every=4, val_episodes=6, patience=10, learning_rate=1e-3)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("synthetic")
    write_demo_images(root / "cells", per_class=8, size=64)
    return load_meta_data([root / "cells"], [None], ["target_cell", "sickle_cell"], 0.25, seed=0)


def test_split_by_name_and_by_share() -> None:
    classes = [f"d/c{i}" for i in range(8)]
    assert split_classes(classes, ["c1", "d/c2"], 0.25, 0).tolist() == [False, True, True, False, False, False, False, False]
    assert split_classes(classes, None, 0.25, 0).sum() == 2
    with pytest.raises(MetaTrainError, match="val-classes"):
        split_classes(classes, ["nope"], 0.25, 0)


def test_same_seed_same_weights_and_resume_equals_uninterrupted(data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    whole = meta_train(data, CONFIG, tmp_path / "a.ckpt")
    again = meta_train(data, CONFIG, tmp_path / "b.ckpt")
    first_half = meta_train(data, MetaTrainConfig(**{**CONFIG.__dict__, "episodes": 8}), tmp_path / "c.ckpt")
    assert first_half.state.step == 8
    resumed = meta_train(data, CONFIG, tmp_path / "c.ckpt")
    assert resumed.state.step == whole.state.step == 12
    for name, value in whole.upper_weights.items():
        np.testing.assert_array_equal(value, again.upper_weights[name])
        np.testing.assert_array_equal(value, resumed.upper_weights[name])
    assert [h["val_accuracy"] for h in resumed.state.history] == [h["val_accuracy"] for h in whole.state.history]


def test_backbone_file_round_trip_and_damage(data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = meta_train(data, MetaTrainConfig(**{**CONFIG.__dict__, "episodes": 4}), tmp_path / "x.ckpt")
    path = tmp_path / "meta.rsbackbone"
    digest = write_backbone_file(path, result.upper_weights, {"base_backbone": "efficientnet-lite0", "val_accuracy": 0.5})
    card, _ = read_backbone_file(path)
    assert card["weights_sha256"] == digest
    backbone = MetaTrainedLite0(path)
    assert backbone.backbone_id == f"{path.resolve()}@{digest[:16]}"
    from core.embedding import load_backbone

    assert load_backbone(backbone.backbone_id).card["weights_sha256"] == digest
    with pytest.raises(ModelError, match="changed since"):
        load_backbone(f"{path}@{'0' * 16}")
    with torch.inference_mode():
        _low, act = backbone.lower(torch.zeros(1, 3, 224, 224))
        assert backbone.upper(act).shape == (1, 320 + 1280)
    damaged = tmp_path / "damaged.rsbackbone"
    data_bytes = bytearray(path.read_bytes())
    data_bytes[-10] ^= 0xFF
    damaged.write_bytes(bytes(data_bytes))
    with pytest.raises(ModelError, match="damaged"):
        read_backbone_file(damaged)
    (tmp_path / "junk.rsbackbone").write_bytes(b"not a backbone")
    with pytest.raises(ModelError, match="not a RareSight backbone file"):
        read_backbone_file(tmp_path / "junk.rsbackbone")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU, so --device cuda is valid here")
def test_cuda_without_a_gpu_is_a_clear_error(data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MetaTrainError, match="no CUDA GPU"):
        meta_train(data, MetaTrainConfig(**{**CONFIG.__dict__, "device": "cuda"}), tmp_path / "gpu.ckpt")


def test_a_gain_counts_only_beyond_the_noise_of_the_paired_episodes() -> None:
    frozen = [0.5, 0.6, 0.4, 0.5, 0.7, 0.3]
    assert significant_gain([a + 0.1 for a in frozen], frozen)[2]  # every episode better
    gain, half, beyond = significant_gain([0.6, 0.5, 0.5, 0.4, 0.8, 0.2], frozen)  # +0.1 and -0.1 in turn
    assert gain == pytest.approx(0.0, abs=1e-12) and half > 0 and not beyond


def test_without_a_validation_gain_the_pretrained_weights_are_kept(data, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from core.embedding import load_backbone

    pretrained = {k: v.numpy() for k, v in load_backbone("efficientnet-lite0").upper_module().state_dict().items()}
    still = meta_train(data, MetaTrainConfig(**{**CONFIG.__dict__, "learning_rate": 0.0}), tmp_path / "still.ckpt")
    assert still.state.best_step == 0 and still.state.best_accuracy == still.state.frozen_accuracy
    for name, value in still.upper_weights.items():
        np.testing.assert_array_equal(value, pretrained[name])
    moved = meta_train(data, CONFIG, tmp_path / "moved.ckpt")
    changed = any(not np.array_equal(v, pretrained[k]) for k, v in moved.upper_weights.items())
    assert changed == (moved.state.best_step > 0)  # weights leave the pretrained ones only with a real gain
