"""One module per paper. Each builds its :class:`hcview.models.ModelSpec` (architecture factory and variants,
label spaces, loss builder, predictor class, data mapping, Case-review panel name, model-card extras) and
registers it. Adding a paper means adding one module here and one panel in ``hcview/ui/panels/``: this package
imports every module it holds, and the registry imports this package by name on first use.
"""
import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
