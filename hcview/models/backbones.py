"""Backbones from torchvision, with ImageNet weights when they are cached or reachable.

No weights are ever required: when torchvision cannot supply them (no cache, no network), the
backbone is randomly initialised and a notice says so. The notice is recorded in the model card
and shown in the UI.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torchvision import models as tvm

log = logging.getLogger(__name__)

_failed_downloads: set[str] = set()
_lock = threading.Lock()


@dataclass
class WeightsResult:
    used_pretrained: bool
    notice: str | None = None


def _cached_file(weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def load_imagenet(model: nn.Module, weights_enum, *, allow_download: bool | None = None) -> WeightsResult:
    """Load ``weights_enum.DEFAULT`` into ``model`` if cached or downloadable, else leave it random.

    ``allow_download`` defaults to the env var ``HCVIEW_ALLOW_DOWNLOAD`` (on unless set to 0).
    A failed download is remembered for the process so the app never waits twice.
    """
    weights = weights_enum.DEFAULT
    cached = _cached_file(weights)
    if allow_download is None:
        allow_download = os.environ.get("HCVIEW_ALLOW_DOWNLOAD", "1") != "0"
    name = weights_enum.__name__
    if not cached.exists():
        if not allow_download or name in _failed_downloads:
            return WeightsResult(False, f"ImageNet weights for {name} are not cached; using random initialisation.")
        with _lock:
            old = socket.getdefaulttimeout()
            socket.setdefaulttimeout(10)
            try:
                state = weights.get_state_dict(progress=False)
            except Exception as e:  # no network here: any failure means random init
                _failed_downloads.add(name)
                log.warning("ImageNet weights for %s unavailable (%s); random init", name, type(e).__name__)
                return WeightsResult(False, f"ImageNet weights for {name} could not be downloaded; using random initialisation.")
            finally:
                socket.setdefaulttimeout(old)
    else:
        state = _verified_cache(cached)
        if state is None:
            return WeightsResult(False, f"cached ImageNet weights for {name} ({cached.name}) failed their sha256 "
                                        "check or cannot be read; using random initialisation.")
    model.load_state_dict(state)
    return WeightsResult(True, None)


def _verified_cache(path: Path) -> dict | None:
    """The cached state dict when the file's sha256 starts with the hash prefix torchvision publishes in its
    name (``resnet18-f37072fd.pth``), as torch.hub checks on download; None when it does not or cannot be read."""
    import hashlib
    import re

    m = re.search(r"-([a-f0-9]{8,64})\.", path.name)
    if not m:
        return None
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if not h.hexdigest().startswith(m.group(1)):
            log.warning("cached weights %s failed their sha256 check; random init", path.name)
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unreadable / not a state dict
        log.warning("cached weights %s cannot be loaded (%s); random init", path.name, type(e).__name__)
        return None
    return state if isinstance(state, dict) else None


# ---- ResNet family ----------------------------------------------------------------------
def resnet(name: str, pretrained: bool) -> tuple[nn.Module, WeightsResult, int]:
    """'resnet18', 'resnet34' (torchvision) or 'resnet10' (BasicBlock [1,1,1,1], no ImageNet weights).
    Returns the full torchvision ResNet (fc left in place, unused), weights result, feature width."""
    if name == "resnet10":
        m = tvm.resnet.ResNet(tvm.resnet.BasicBlock, [1, 1, 1, 1])
        return m, WeightsResult(False, "resnet10 has no ImageNet weights; random initialisation." if pretrained else None), 512
    builders = {"resnet18": (tvm.resnet18, tvm.ResNet18_Weights, 512), "resnet34": (tvm.resnet34, tvm.ResNet34_Weights, 512),
                "resnet50": (tvm.resnet50, tvm.ResNet50_Weights, 2048)}
    fn, wenum, width = builders[name]
    m = fn(weights=None)
    wr = load_imagenet(m, wenum) if pretrained else WeightsResult(False)
    return m, wr, width


# ---- DenseNet family --------------------------------------------------------------------
DENSENET_SMALL = dict(growth_rate=16, block_config=(2, 4, 8, 6), num_init_features=32)


def densenet(name: str, pretrained: bool) -> tuple[nn.Module, WeightsResult, int]:
    """'densenet121', 'densenet161' (torchvision) or 'densenet-small' (growth 16, blocks 2-4-8-6).
    Returns the ``features`` Sequential (ends in norm5) and its channel count."""
    if name == "densenet-small":
        m = tvm.DenseNet(**DENSENET_SMALL)
        return m.features, WeightsResult(False, "densenet-small has no ImageNet weights; random initialisation." if pretrained else None), m.classifier.in_features
    builders = {"densenet121": (tvm.densenet121, tvm.DenseNet121_Weights), "densenet161": (tvm.densenet161, tvm.DenseNet161_Weights)}
    fn, wenum = builders[name]
    m = fn(weights=None)
    wr = load_imagenet(m, wenum) if pretrained else WeightsResult(False)
    return m.features, wr, m.classifier.in_features


# ---- EfficientNet family ----------------------------------------------------------------
EFFICIENTNET_SMALL = dict(width_mult=0.5, depth_mult=0.5)  # B0's MBConv stages, compound-scaled down (CPU demos)
# EfficientNet-B0's stage table (Tan & Le 2019): expand ratio, kernel, stride, in, out, layers.
_B0_STAGES = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


def efficientnet(name: str, pretrained: bool) -> tuple[nn.Module, WeightsResult, int]:
    """'efficientnet_b0' .. 'efficientnet_b7' (torchvision) or 'efficientnet-small' (B0 with width and
    depth multipliers 0.5, no ImageNet weights). Returns ``features`` and its channel count."""
    if name == "efficientnet-small":
        from torchvision.models.efficientnet import MBConvConfig

        setting = [MBConvConfig(*stage, **EFFICIENTNET_SMALL) for stage in _B0_STAGES]
        m = tvm.EfficientNet(setting, 0.2)
        return m.features, WeightsResult(False, "efficientnet-small has no ImageNet weights; random initialisation." if pretrained else None), m.classifier[-1].in_features
    fn = getattr(tvm, name)
    wenum = getattr(tvm, name.replace("efficientnet_b", "EfficientNet_B") + "_Weights")
    m = fn(weights=None)
    wr = load_imagenet(m, wenum) if pretrained else WeightsResult(False)
    return m.features, wr, m.classifier[-1].in_features


def combine(*results: WeightsResult) -> WeightsResult:
    notices = [r.notice for r in results if r.notice]
    return WeightsResult(all(r.used_pretrained for r in results) and bool(results), " ".join(notices) or None)
