"""Model card rendering, from the registry spec and the checkpoint's JSON card (real data only)."""
from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from hcview.models import get_spec
from hcview.models.checkpoint import find_checkpoint, read_card, trained_on_synthetic
from hcview.text import escape_markdown as md
from hcview.ui.common import SYNTHETIC_BANNER


SPLIT_PREFIX = {"val": ("val_", "train_loss"), "test": ("test_", "n_cases")}


def _metrics_table(metrics: dict, split: str | None = None) -> pd.DataFrame | None:
    """The split's own figures (``val_*`` / ``test_*``, loss, case count); ``split=None``: every number."""
    flat = {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if split:
        flat = {k: v for k, v in flat.items() if k.startswith(SPLIT_PREFIX[split])}
    if not flat:
        return None
    return pd.DataFrame({"metric": [k.removeprefix("val_").removeprefix("test_").replace("_", " ") for k in flat],
                         "value": [round(float(v), 4) for v in flat.values()]})


def doi_markdown(doi: str) -> str:
    """A DOI as a link to doi.org; anything else (no DOI in the paper text) as escaped text, its links kept."""
    text = (doi or "").strip()
    if re.fullmatch(r"10\.\d{4,9}/\S+", text):
        return f"[{text}](https://doi.org/{text})"
    parts = re.split(r"(https?://\S+)", text)
    return "".join(f"[{p}]({p})" if p.startswith("http") else md(p) for p in parts)


def _pairs_table(value: dict, name: str) -> pd.DataFrame:
    """A dict of card extras as a table; ``"parent->child"`` keys become two columns (per-edge HBCE weights)."""
    keys = [str(k) for k in value]
    if keys and all("->" in k for k in keys):
        pc = [k.split("->", 1) for k in keys]
        return pd.DataFrame({"parent": [p for p, _ in pc], "child": [c for _, c in pc], "weight": list(value.values())})
    return pd.DataFrame({"class": keys, name: list(value.values())})


def _setting_text(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dict):
        return ", ".join(f"{k} {_setting_text(x)}" for k, x in v.items()) or "-"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v)) or "none"
    return "-" if v is None else str(v)


def settings_table(cfg: dict) -> pd.DataFrame:
    return pd.DataFrame({"setting": [k.replace("_", " ") for k in cfg],
                         "value": [_setting_text(v) for v in cfg.values()]})


def model_card_view(model_id: str, variant: str) -> None:
    spec = get_spec(model_id)
    v = spec.variant(variant)
    ls = spec.label_space(variant)
    st.subheader(f"{spec.name} · {variant}")
    st.markdown(f"**Paper:** {md(spec.paper)}  \n**DOI:** {doi_markdown(spec.doi)}  \n"
                f"**Task:** {md(spec.task)} · **Modality:** {md(spec.modality)}")
    st.markdown(f"**Variant:** {v.description}")
    a, b, c = st.columns(3)
    a.metric("Input", f"{v.input_size}×{v.input_size}×{spec.in_chans}")
    b.metric("Grad-CAM layer", spec.cam_layer)
    c.metric("ImageNet weights requested", "yes" if v.pretrained else "no")
    st.caption(f"MC dropout: {spec.dropout}. LRP: {spec.lrp}. {spec.notes}")
    with st.expander(f"Label space: {ls.name}", expanded=False):
        st.write(ls.description)
        if ls.kind == "taxonomy3":
            st.dataframe(pd.DataFrame(ls.tree, columns=["disease", "anatomy", "category"]), hide_index=True)
        elif ls.kind == "multilabel_tree":
            st.dataframe(pd.DataFrame(ls.edges, columns=["parent", "child"]), hide_index=True)
            st.caption(f"{len(ls.edges)} penalty edges; {ls.heads[0].size} outputs: " + ", ".join(ls.heads[0].labels))
        else:
            for h in ls.heads:
                st.write(f"**{h.name}** ({h.kind}): " + ", ".join(h.labels))
    with st.expander("Training configuration (paper defaults, then this variant's changes)"):
        st.dataframe(settings_table({**spec.train_defaults, **v.train}), hide_index=True, width="stretch")
    ckpt = find_checkpoint(model_id, variant)
    if ckpt is None:
        st.info("No trained checkpoint for this variant. Train it on the Training page or with "
                f"`python -m hcview train --model {model_id} --variant {variant}`.")
        return
    card = read_card(ckpt)
    st.success(f"Checkpoint `{ckpt.name}` · sha256 `{card.get('sha256', '')[:12]}…` · saved {card.get('saved_at', '?')}")
    if not card.get("pretrained"):
        st.warning(card.get("pretrained_notice") or "Trained from random initialisation (no ImageNet weights).")
    extras = spec.card_extras(card) if spec.card_extras else {}
    texts = {k: val for k, val in extras.items() if not isinstance(val, dict)}
    tables = {k: val for k, val in extras.items() if isinstance(val, dict)}
    if texts or tables:
        st.markdown("**Loss and data, as trained**")
        for title, value in texts.items():
            st.markdown(f"- **{md(title)}:** {md(value)}")
        cols = (st.columns([2, 1]) if len(tables) == 1 else st.columns(2)) if tables else []
        for i, (title, value) in enumerate(tables.items()):
            with cols[i % len(cols)]:
                t = _pairs_table(value, "weight")
                nums = {round(float(x), 6) for x in value.values() if isinstance(x, (int, float))}
                if len(value) > 1 and len(nums) == 1:  # say it, rather than list the same number twenty times
                    st.markdown(f"**{md(title)}:** all {len(value)} equal to {next(iter(nums)):.4f}")
                    with st.expander(f"{title}: the {len(value)} entries"):
                        st.dataframe(t, hide_index=True, width="stretch")
                    continue
                st.caption(title)
                st.dataframe(t, hide_index=True, width="stretch",
                             column_config={"weight": st.column_config.NumberColumn(format="%.4f")})
    if trained_on_synthetic(card):
        st.error(SYNTHETIC_BANNER, icon=":material/science:")
    ood_section(card)
    m = card.get("metrics", {})
    cols = st.columns(2)
    for col, split in zip(cols, ("val", "test")):
        t = _metrics_table(m.get(split, {}), split)
        with col:
            st.markdown(f"**{'Validation' if split == 'val' else 'Test'} metrics**")
            if t is None:
                st.caption("none recorded")
            else:
                st.dataframe(t, hide_index=True, width="stretch", height="content")
    with st.expander("Every recorded metric (per-head details)"):
        c1, c2 = st.columns(2)
        for col, split in zip((c1, c2), ("val", "test")):
            t = _metrics_table(m.get(split, {}))
            if t is not None:
                col.caption(split)
                col.dataframe(t, hide_index=True, width="stretch")
    data = card.get("data")
    if data:
        with st.expander("Data and label mapping"):
            st.json(data)
    with st.expander("Full model card (JSON)"):
        st.json(card)


def ood_section(card: dict) -> None:
    """The out-of-distribution gate and the per-label operating points, with their measured figures."""
    o = card.get("ood")
    if not o:
        st.warning("No out-of-distribution statistics: the app cannot tell whether an image resembles this model's "
                   "training data.")
    else:
        sep = o.get("separation") or {}
        st.markdown(f"**Out-of-distribution gate:** {md(o['method'])}; threshold {o['threshold']:.1f} at a "
                    f"{o['false_alarm_rate']:.0%} false-alarm rate on the {md(o['threshold_set_on'])}.")
        if o.get("note"):
            st.caption(md(o["note"]))
        if sep:
            st.markdown(f"Measured: AUROC {sep['auroc']:.3f} separating the {md(sep['in'])} from images of "
                        f"another kind ({md(sep['out'])}); flags {sep['in_flagged']:.1%} of the former "
                        f"(n = {sep['n_in']}) and "
                        f"{sep['out_flagged']:.1%} of the latter (n = {sep['n_out']}).")
    ops = card.get("operating_points") or {}
    for head, labels in ops.items():
        with st.expander(f"Operating points ({head}): {card.get('operating_rule', 'youden')} on the validation split"):
            st.dataframe(pd.DataFrame([{"label": lab, "threshold": v["threshold"], "sensitivity": v["sensitivity"],
                                        "specificity": v["specificity"], "positives in validation": v.get("n_pos"),
                                        "rule": v.get("rule")} for lab, v in labels.items()]),
                         hide_index=True, width="stretch",
                         column_config={c: st.column_config.NumberColumn(format="%.3f")
                                        for c in ("threshold", "sensitivity", "specificity")})
