"""Model registry and the four paper architectures."""
from .labels import Head, LabelSpace, load_label_space
from .registry import ModelSpec, Variant, count_params, create_model, get_spec, list_models

__all__ = ["Head", "LabelSpace", "load_label_space", "ModelSpec", "Variant", "count_params", "create_model",
           "get_spec", "list_models"]
