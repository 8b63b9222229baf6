"""Model card rendering, from the registry spec and the checkpoint's JSON card (real data only)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from hcview.models import get_spec
from hcview.models.checkpoint import find_checkpoint, read_card, trained_on_synthetic
from hcview.ui.common import SYNTHETIC_BANNER


def _metrics_table(metrics: dict) -> pd.DataFrame | None:
    flat = {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float))}
    if not flat:
        return None
    return pd.DataFrame({"metric": list(flat), "value": [round(float(v), 4) for v in flat.values()]})


def model_card_view(model_id: str, variant: str) -> None:
    spec = get_spec(model_id)
    v = spec.variant(variant)
    ls = spec.label_space(variant)
    st.subheader(f"{spec.name} · {variant}")
    st.markdown(f"**Paper:** {spec.paper}  \n**DOI:** {spec.doi}  \n**Task:** {spec.task} · **Modality:** {spec.modality}")
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
    with st.expander("Paper training defaults"):
        st.json({**spec.train_defaults, **v.train})
    ckpt = find_checkpoint(model_id, variant)
    if ckpt is None:
        st.info("No trained checkpoint for this variant. Train it on the Training page or with "
                f"`python -m hcview train --model {model_id} --variant {variant}`.")
        return
    card = read_card(ckpt)
    st.success(f"Checkpoint `{ckpt.name}` · sha256 `{card.get('sha256', '')[:12]}…` · saved {card.get('saved_at', '?')}")
    if not card.get("pretrained"):
        st.warning(card.get("pretrained_notice") or "Trained from random initialisation (no ImageNet weights).")
    for title, value in (spec.card_extras(card) if spec.card_extras else {}).items():
        if isinstance(value, dict):
            st.markdown(f"**{title}**")
            st.dataframe(pd.DataFrame({"": list(value), "value": list(value.values())}), hide_index=True)
        else:
            st.markdown(f"**{title}:** {value}")
    if trained_on_synthetic(card):
        st.error(SYNTHETIC_BANNER, icon="🧪")
    ood_section(card)
    m = card.get("metrics", {})
    cols = st.columns(2)
    for col, split in zip(cols, ("val", "test")):
        t = _metrics_table(m.get(split, {}))
        with col:
            st.markdown(f"**{split} metrics**")
            if t is None:
                st.caption("none recorded")
            else:
                st.dataframe(t, hide_index=True, width="stretch")
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
        st.markdown(f"**Out-of-distribution gate:** {o['method']}; threshold {o['threshold']:.1f} at a "
                    f"{o['false_alarm_rate']:.0%} false-alarm rate on the {o['threshold_set_on']}.")
        if o.get("note"):
            st.caption(o["note"])
        if sep:
            st.markdown(f"Measured: AUROC {sep['auroc']:.3f} separating the {sep['in']} from images of another "
                        f"kind ({sep['out']}); flags {sep['in_flagged']:.1%} of the former (n = {sep['n_in']}) and "
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
