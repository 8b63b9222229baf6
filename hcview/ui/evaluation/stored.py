"""Stored model evaluations: what the page offers, where they live, cached reads, and running one."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from hcview.infer import evaluate as ev
from hcview.infer.evaluate import stored_signature  # noqa: F401 (the page's cache key of a stored evaluation)

SPLITS = ("test", "val", "train", "all")
DATA_SPECS = ("sample:brain-mri", "sample:nih", "sample:nodules", "sample:phantoms")
LEVELS = ("disease", "category", "anatomy")
HEAD_KIND_TEXT = {"softmax": "single-label", "sigmoid": "multi-label", "regression": "regression"}


def model_options() -> list[dict]:
    """Registry rows (id, variant, name, trained, default data) from the cached catalogue."""
    from hcview.ui.common import cached_catalog

    return [{"id": r["id"], "variant": r["variant"], "name": r["name"], "trained": bool(r["trained"]),
             "default_data": r["default_data"], "synthetic": bool(r.get("synthetic"))} for r in cached_catalog()]


def default_sample_spec(model_id: str, variant: str, default: str) -> str:
    """The variant's data spec, or for a real-data placeholder (``mri:PATH``) the bundled sample that fits."""
    if default and "PATH" not in default:
        return default
    from hcview.models import get_spec

    kind = get_spec(model_id).label_space(variant).kind
    return {"taxonomy3": "sample:phantoms", "multitask": "sample:nodules"}.get(kind, "sample:nih")


def default_eval_dir(model_id: str, variant: str, split: str) -> Path:
    """Where ``evaluate_model`` stores its outputs: ``var/eval/<id>-<variant>-<split>/``."""
    return ev.default_out_dir(model_id, variant, split)


def check_data_spec(spec: str) -> str:
    """A typed data spec, refused (one-line ``InputError``) when its path lies outside the allowed data roots.
    Bundled samples (``sample:NAME``) need no path."""
    from hcview.data.adapters import parse_options
    from hcview.data.datasets import parse_spec
    from hcview.paths import check_data_root

    kind, rest = parse_spec(spec)
    if kind != "sample":
        check_data_root(parse_options(rest)[0])
    return spec


def stale_version(metrics: dict, model_id: str, variant: str) -> str | None:
    """'version N' (or 'an earlier checkpoint') when the stored evaluation was computed on weights other than the
    active version's; None when it is current (or scored an untrained model)."""
    from hcview.infer.predictor import active_sha256

    if metrics.get("untrained"):
        return None
    sha = metrics.get("checkpoint_sha256")
    if sha and sha == active_sha256(model_id, variant):
        return None
    return f"version {metrics['version']}" if metrics.get("version") else "an earlier checkpoint"


def active_operating_points(model_id: str, variant: str) -> dict:
    """The active version's per-label operating points (chosen on its validation split), {} when none."""
    from hcview.models.checkpoint import find_checkpoint, read_card

    path = find_checkpoint(model_id, variant)
    return (read_card(path).get("operating_points") or {}) if path else {}


def stored_data_spec(metrics: dict) -> str | None:
    """The data spec a stored evaluation was made on."""
    return metrics.get("data")


def matches_request(metrics: dict, data_spec: str) -> bool:
    """A stored evaluation is reused only for the data spec it was made on."""
    return stored_data_spec(metrics) == data_spec


@st.cache_data(show_spinner=False, max_entries=8)
def load_stored(out_dir: str, signature: tuple) -> dict:
    """``hcview.infer.evaluate.load_evaluation``, cached until the files are rewritten (``signature``)."""
    del signature  # cache key only
    return ev.load_evaluation(out_dir)


def label_space_head(model_id: str, variant: str, head_name: str):
    from hcview.models import get_spec

    return get_spec(model_id).label_space(variant).head(head_name)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_head_arrays(out_dir: str, signature: tuple, model_id: str, variant: str, head_name: str):
    """(y_true, scores) of one head from the stored predictions."""
    from hcview.errors import InputError

    stored = load_stored(out_dir, signature)
    if stored["predictions"] is None:
        raise InputError("the stored evaluation has no predictions file")
    return ev.head_arrays(stored["predictions"], label_space_head(model_id, variant, head_name))


@st.cache_data(show_spinner=False, max_entries=32)
def cached_bootstrap(out_dir: str, signature: tuple, model_id: str, variant: str, head_name: str,
                     n_boot: int = 200) -> dict:
    """95% bootstrap CIs of the head's summary metrics (``hcview.metrics.compute_head_cis``)."""
    from hcview.metrics import compute_head_cis

    head = label_space_head(model_id, variant, head_name)
    y, s = cached_head_arrays(out_dir, signature, model_id, variant, head_name)
    return compute_head_cis(head.kind, y, s, head.labels, n_boot=n_boot)


def run_evaluation(model_id: str, variant: str, data_spec: str, split: str, out_dir: Path) -> dict:
    """Run the model over the split and store predictions + metrics (the slow path), with a progress bar."""
    bar = st.progress(0.0, text=f"Evaluating {model_id}/{variant} on {data_spec} ({split})…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Evaluating {model_id}/{variant} on {data_spec} ({split}): "
                                                f"{done} / {total} cases")

    res = ev.evaluate_model(model_id, variant, data_spec, split, out_dir, progress=progress)
    bar.empty()
    load_stored.clear()
    return res
