"""Guards for the ONE cached model that serves every session.

Hooks (Grad-CAM), dropout sampling (MC dropout) and canonizers (LRP) all modify a model while they
run. Everything in ``hcview.infer`` / ``hcview.explain`` that touches a shared model does so inside
``model_lock(model)`` (a per-model re-entrant lock), and LRP additionally works on a per-call
``copy.deepcopy`` so zennit's canonizers never touch the shared instance at all.

MC dropout does not flip ``model.train()``: :func:`sampled_dropout` keeps every module in eval mode
and replaces each dropout module's output with ``x * mask / (1 - p)``, the mask drawn from a private
``torch.Generator``. That is exactly train-mode dropout (BatchNorm stays in inference mode) but
independent of the global RNG, so concurrent sessions cannot disturb each other's samples and a
seed reproduces the same masks on the fast (cached features) and the full path.
"""
from __future__ import annotations

import contextlib
import threading
import weakref

import torch
from torch import nn

from hcview.models.base import dropout_modules

_LOCKS: "weakref.WeakKeyDictionary[nn.Module, threading.RLock]" = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def model_lock(model: nn.Module) -> threading.RLock:
    """The per-model re-entrant lock (created on first use)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(model)
        if lock is None:
            lock = _LOCKS[model] = threading.RLock()
        return lock


def hook_count(model: nn.Module) -> int:
    """Number of forward/backward hooks registered anywhere in the model (0 on a clean shared model)."""
    n = 0
    for m in model.modules():
        n += len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        n += len(getattr(m, "_backward_pre_hooks", {}))
    return n


def state_fingerprint(model: nn.Module) -> tuple:
    """(training flags, hook count, parameter checksum): what a guarded call must leave unchanged."""
    with torch.no_grad():
        s = float(sum(p.detach().double().sum() for p in model.parameters()))
    return tuple(m.training for m in model.modules()), hook_count(model), s


@contextlib.contextmanager
def sampled_dropout(model: nn.Module, generator: torch.Generator):
    """Inside: every dropout module (p > 0) samples a fresh mask from ``generator`` on each call.
    All other modules keep their mode. Must be used under ``model_lock(model)``."""
    handles = []

    def hook(mod, inputs, output):
        x = inputs[0]
        keep = 1.0 - mod.p
        mask = torch.empty(x.shape, dtype=x.dtype, device="cpu").bernoulli_(keep, generator=generator).to(x.device)
        return x * mask / keep

    try:
        for m in dropout_modules(model):
            handles.append(m.register_forward_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()
