"""Model registry, shared backbones, label spaces, checkpoints and versions.

Names are imported lazily (PEP 562), so a light submodule such as :mod:`hcview.models.versions` loads without
torch.
"""
from importlib import import_module

_EXPORTS = {"Head": "labels", "LabelSpace": "labels", "load_label_space": "labels", "ModelSpec": "registry",
            "Variant": "registry", "count_params": "registry", "create_model": "registry", "get_spec": "registry",
            "list_models": "registry"}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
