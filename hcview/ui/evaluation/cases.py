"""The cases behind a failure list or a confusion cell: ids, thumbnails with captions, and a table."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import streamlit as st

from hcview.text import escape_markdown

THUMB = 160  # thumbnail side in pixels


def case_table(preds: pd.DataFrame, rows, synthetic: bool = False) -> pd.DataFrame:
    """row / id / path / synthetic of the cases at row positions ``rows`` of a predictions table
    (``synthetic``: the whole dataset is)."""
    rows = np.asarray(rows, dtype=int)
    sub = preds.iloc[rows]
    return pd.DataFrame({"row": rows, "id": sub["id"].astype(str).to_numpy(),
                         "path": sub["path"].fillna("").astype(str).to_numpy(),
                         "synthetic": np.full(len(rows), bool(synthetic))})


@st.cache_data(show_spinner=False, max_entries=512)
def thumbnail_from_path(path: str, size: int = THUMB) -> np.ndarray | None:
    """Grey [0, 1] thumbnail of an image file, or None when it cannot be read."""
    if not path:
        return None
    from hcview.data.io import load_image
    from hcview.viz.failures import downsample

    try:
        a = load_image(path).array
    except Exception:  # noqa: BLE001 (a missing or unreadable image shows as '(no image)')
        return None
    return downsample(a, size)


@st.cache_resource(show_spinner=False, max_entries=4)
def _dataset(data_spec: str, model_id: str, variant: str, split: str):
    from hcview.data.datasets import build_dataset
    from hcview.models import get_spec

    spec = get_spec(model_id)
    return build_dataset(data_spec, spec.label_space(variant), split, spec.variant(variant).input_size, spec.mean,
                         spec.std, model_id=model_id)


def thumbnail_of(case: dict, ctx: dict, size: int = THUMB) -> np.ndarray | None:
    """Thumbnail of one case: from its file, or regenerated from the dataset (synthetic phantoms)."""
    img = thumbnail_from_path(str(case.get("path") or ""), size)
    if img is not None:
        return img
    from hcview.viz.failures import downsample

    try:
        ds = _dataset(ctx["data_spec"], ctx["model_id"], ctx["variant"], ctx["split"])
        i = ds.ids.index(str(case["id"])) if str(case["id"]) in ds.ids else int(case["row"])
        return downsample(ds.grey(i).numpy(), size)
    except Exception:  # noqa: BLE001 (no image: the caption says so)
        return None


def render_thumbnails(cases: pd.DataFrame, captions: Sequence[str], ctx: dict, per_row: int = 5,
                      size: int = THUMB) -> None:
    """A grid of thumbnails, each with its caption (true / pred / prob; synthetic images marked) underneath
    as its own element: images fit their column and long captions wrap below them, never over them."""
    if not len(cases):
        st.info("No cases.")
        return
    rows = cases.to_dict("records")
    for start in range(0, len(rows), per_row):
        cols = st.columns(per_row, gap="medium")
        for col, case, cap in zip(cols, rows[start:start + per_row], captions[start:start + per_row]):
            img = thumbnail_of(case, ctx, size)
            cap = escape_markdown(str(cap))  # case ids and file names come from the data
            if case.get("synthetic"):
                cap = f"{cap} · synthetic"
            with col:
                if img is None:
                    st.caption(f"(no image) {cap}")
                    continue
                st.image(img, clamp=True, width="stretch")
                st.caption(cap)


def render_case_list(frame: pd.DataFrame, ctx: dict) -> None:
    """Thumbnails of the cases of ``frame`` (columns row, true, pred, prob[, label]) and the same as a table."""
    from hcview.viz.failures import case_caption

    preds = ctx.get("preds")
    if frame is None or not len(frame):
        st.info("No cases.")
        return
    if preds is None:
        st.dataframe(frame, hide_index=True, width="stretch", height="content")
        return
    cases = case_table(preds, frame["row"].to_numpy(int), bool(ctx.get("synthetic")))
    caps = [case_caption(str(t), str(p), float(pr)) for t, p, pr in zip(frame["true"], frame["pred"], frame["prob"])]
    if "label" in frame:  # multi-label decisions: say which label
        caps = [f"{lab}: {c}" for lab, c in zip(frame["label"], caps)]
    render_thumbnails(cases, caps, ctx)
    with st.expander("as a table"):
        st.dataframe(pd.concat([cases[["id", "synthetic"]].reset_index(drop=True),
                                frame.drop(columns=[c for c in ("index",) if c in frame]).reset_index(drop=True)],
                               axis=1), hide_index=True, width="stretch", height="content")
