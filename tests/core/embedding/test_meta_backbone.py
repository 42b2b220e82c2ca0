"""The shipped meta-trained backbone (issue 16): loads offline, carries its card and licences, is intact."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest
import torch

from core.embedding import load_backbone
from core.embedding.backbones import MetaLite0Features
from core.errors import ModelError
from core.fewshot.calibration import load_calibration
from core.store.tensors import decode_safetensors


@pytest.fixture(scope="module")
def meta() -> MetaLite0Features:
    backbone = load_backbone("raresight-meta-lite0")
    assert isinstance(backbone, MetaLite0Features)
    return backbone


def test_card_names_training_data_with_licences_and_the_held_out_domain(meta: MetaLite0Features) -> None:
    card = meta.card
    assert card["trained_layers"] == "all" and card["stored_as"].startswith("float16 difference")
    assert [d["folder"] for d in card["trained_on"]] == ["rbc-morphology", "breast-ultrasound", "dermoscopy-isic2017"]
    assert all(d["licence"] for d in card["trained_on"])
    assert "chest-xray-findings" in card["not_trained_on"]
    assert set(card["held_out_chest_xray_findings"]) == {"1-shot", "5-shot"}


def test_weights_match_the_hash_in_the_card() -> None:
    data = resources.files("resources").joinpath(MetaLite0Features.resource).read_bytes()
    arrays = decode_safetensors(data)
    digest = hashlib.sha256()
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    assert digest.hexdigest() == load_backbone("raresight-meta-lite0").card["weights_sha256"]  # type: ignore[attr-defined]


def test_differs_from_lite0_with_the_same_layout(meta: MetaLite0Features) -> None:
    lite0 = load_backbone("efficientnet-lite0")
    assert meta.layout == lite0.layout and meta.input_size == lite0.input_size
    changed = [k for k, v in meta.net.state_dict().items() if not torch.equal(v, lite0.net.state_dict()[k])]  # type: ignore[attr-defined]
    assert "_conv_stem.weight" in changed and "_conv_head.weight" in changed
    assert not any(k.endswith("running_var") for k in changed)  # BatchNorm statistics kept


def test_has_its_own_calibration_fitted_on_domains_it_never_saw() -> None:
    calibration = load_calibration("raresight-meta-lite0")
    assert "fold backbone that never trained on it" in calibration.extra["fitted_on"]
    assert calibration.extra["fitted_by"].startswith("bench/lodo_metatrain_calibration.py --ship")


def test_a_missing_resource_is_a_clear_model_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MetaLite0Features, "resource", "no-such-file.safetensors")
    with pytest.raises(ModelError, match=r"no-such-file\.safetensors.*reinstall RareSight"):
        MetaLite0Features()
