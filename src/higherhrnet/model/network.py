"""HigherHRNet-W32 (input 512) in PyTorch, and the reference's larger W32-640 / W48-640.

Written from the architecture in docs/reference.md, "Model and checkpoint". The module tree is laid out so that ``state_dict()`` has exactly the names,
shapes, dtypes and order of the official ``pose_higher_hrnet_w32_512.pth`` (1810 entries),
so the released checkpoint loads strictly.

``forward(x)`` takes a normalised ``[N,3,H,W]`` float tensor (H, W multiples of 32) and
returns ``[output0, output1]``:

- ``output0`` ``[N,34,H/4,W/4]``: channels 0..16 heatmaps, 17..33 per-joint tags;
- ``output1`` ``[N,17,H/2,W/2]``: heatmaps at twice the resolution.

Variants (``model.variant``; ../shared/reference/variants/README.md): ``w32_512`` (the
guide's), ``w32_640`` (the same network and state-dict layout, input size 640) and
``w48_640`` (branch channels 48/96/192/384, 48 deconv channels, input 640; 1810 entries
too). :data:`~higherhrnet.variants.VARIANTS` holds what differs.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..data.coco import NUM_KEYPOINTS
from ..data.keypoints import for_channels
from .variants import DEFAULT_VARIANT, get_variant

BN_MOMENTUM = 0.1
BN_EPS = 1e-5

STEM_CHANNELS = 64
LAYER1_BLOCKS = 4
#: Modules per stage (stages 2, 3, 4); stage s has s branches.
STAGE_MODULES = (1, 4, 3)
BLOCKS_PER_BRANCH = 4
DECONV_BLOCKS = 4


def stages(width: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """(number of modules, channels per branch) of stages 2-4 for HRNet-W``width``; every
    branch has BLOCKS_PER_BRANCH BasicBlocks."""
    return tuple((m, tuple(width * 2 ** b for b in range(n + 2)))
                 for n, m in enumerate(STAGE_MODULES))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv_bn(cin: int, cout: int, stride: int, relu: bool, kernel: int = 3) -> nn.Sequential:
    """conv (no bias) + BN (+ ReLU), as a Sequential indexed 0, 1(, 2)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False),
        _bn(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN with an identity shortcut (channels never change here)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = _conv3x3(channels, channels)
        self.bn1 = _bn(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = _bn(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + x)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (x4 channels) with an optional 1x1 conv+BN projection shortcut."""

    expansion = 4

    def __init__(self, cin: int, planes: int, downsample: nn.Module | None = None):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, kernel_size=1, bias=False)
        self.bn1 = _bn(planes)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = _bn(planes)
        self.conv3 = nn.Conv2d(planes, cout, kernel_size=1, bias=False)
        self.bn3 = _bn(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


def _fuse_path(channels: Sequence[int], src: int, dst: int) -> nn.Module:
    """How branch ``src`` reaches the resolution and width of branch ``dst``."""
    if src == dst:
        return nn.Identity()
    if src > dst:  # lower resolution: 1x1 conv + BN, then nearest upsampling
        return nn.Sequential(
            nn.Conv2d(channels[src], channels[dst], kernel_size=1, bias=False),
            _bn(channels[dst]),
            nn.Upsample(scale_factor=2 ** (src - dst), mode="nearest"),
        )
    # higher resolution: chain of stride-2 3x3 convs; ReLU on all but the last
    steps = dst - src
    chain = [
        _conv_bn(channels[src], channels[src], stride=2, relu=True) for _ in range(steps - 1)
    ]
    chain.append(_conv_bn(channels[src], channels[dst], stride=2, relu=False))
    return nn.Sequential(*chain)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks, then an all-to-all fuse.

    With ``all_outputs=False`` only the highest-resolution output is computed (the last
    module of stage 4).
    """

    def __init__(self, channels: Sequence[int], all_outputs: bool = True):
        super().__init__()
        n = len(channels)
        self.branches = nn.ModuleList(
            nn.Sequential(*[BasicBlock(c) for _ in range(BLOCKS_PER_BRANCH)]) for c in channels
        )
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(_fuse_path(channels, j, i) for j in range(n))
            for i in range(n if all_outputs else 1)
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        outs = []
        for paths in self.fuse_layers:
            y = paths[0](xs[0])
            for j in range(1, len(xs)):
                y = y + paths[j](xs[j])
            outs.append(self.relu(y))
        return outs


def _transition(prev: Sequence[int], new: Sequence[int]) -> nn.ModuleList:
    """Between stages: keep existing branches (Identity) and add one stride-2 branch.

    The reference also allows a 3x3 conv when an existing branch changes width; for W32 no
    width changes except from layer1's 256 to 32 in transition1.
    """
    layers: list[nn.Module] = []
    for i, cout in enumerate(new):
        if i < len(prev):
            if prev[i] == cout:
                layers.append(nn.Identity())
            else:
                layers.append(_conv_bn(prev[i], cout, stride=1, relu=True))
        else:
            layers.append(nn.Sequential(_conv_bn(prev[-1], cout, stride=2, relu=True)))
    return nn.ModuleList(layers)


class HigherHRNet(nn.Module):
    """HigherHRNet-W``width``: HRNet backbone, 1/4 head (heatmaps + tags), one deconv to 1/2."""

    def __init__(self, num_joints: int = NUM_KEYPOINTS, width: int = 32):
        super().__init__()
        self.width = width
        self.num_joints = num_joints
        self.keypoints = for_channels(num_joints).name  # the layout's joints, for messages
        self.stage_layout = stages(width)
        deconv_channels = width
        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = _bn(STEM_CHANNELS)
        self.conv2 = nn.Conv2d(STEM_CHANNELS, STEM_CHANNELS, kernel_size=3, stride=2, padding=1,
                               bias=False)
        self.bn2 = _bn(STEM_CHANNELS)
        self.relu = nn.ReLU(inplace=True)

        width = STEM_CHANNELS * Bottleneck.expansion
        downsample = nn.Sequential(
            nn.Conv2d(STEM_CHANNELS, width, kernel_size=1, bias=False), _bn(width)
        )
        self.layer1 = nn.Sequential(
            Bottleneck(STEM_CHANNELS, STEM_CHANNELS, downsample),
            *[Bottleneck(width, STEM_CHANNELS) for _ in range(LAYER1_BLOCKS - 1)],
        )

        prev: tuple[int, ...] = (width,)
        for s, (num_modules, channels) in enumerate(self.stage_layout, start=1):
            last_stage = s == len(self.stage_layout)
            setattr(self, f"transition{s}", _transition(prev, channels))
            setattr(self, f"stage{s + 1}", nn.Sequential(*[
                HighResolutionModule(channels, all_outputs=not (last_stage and m == num_modules - 1))
                for m in range(num_modules)
            ]))
            prev = channels

        features = prev[0]
        # Registered before deconv_layers: this is the checkpoint's state-dict order.
        self.final_layers = nn.ModuleList([
            nn.Conv2d(features, 2 * num_joints, kernel_size=1),  # heatmaps + tags
            nn.Conv2d(deconv_channels, num_joints, kernel_size=1),  # heatmaps only
        ])
        deconv_in = features + 2 * num_joints
        self.deconv_layers = nn.ModuleList([nn.Sequential(
            nn.Sequential(
                nn.ConvTranspose2d(deconv_in, deconv_channels, kernel_size=4, stride=2,
                                   padding=1, output_padding=0, bias=False),
                _bn(deconv_channels),
                nn.ReLU(inplace=True),
            ),
            *[nn.Sequential(BasicBlock(deconv_channels)) for _ in range(DECONV_BLOCKS)],
        )])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        for s in range(1, len(self.stage_layout) + 1):
            transition = getattr(self, f"transition{s}")
            xs = [t(xs[i] if i < len(xs) else xs[-1]) for i, t in enumerate(transition)]
            xs = getattr(self, f"stage{s + 1}")(xs)
        features = xs[0]
        output0 = self.final_layers[0](features)
        up = self.deconv_layers[0](torch.cat((features, output0), dim=1))
        output1 = self.final_layers[1](up)
        return [output0, output1]


def build_model(variant: str = DEFAULT_VARIANT) -> HigherHRNet:
    """A freshly initialised HigherHRNet of ``variant`` in eval mode (load weights before use)."""
    v = get_variant(variant)
    return HigherHRNet(num_joints=v.num_joints, width=v.width).eval()
