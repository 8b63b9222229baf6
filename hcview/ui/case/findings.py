"""The Findings tab and the flags above every tab: the scan, what the model says in words next to the ground truth,
the per-paper result panel at full width, MC-dropout bands, and the de-identified DICOM attributes as a table."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from hcview.report.case import flag_messages
from hcview.text import decimals_apart
from hcview.text import escape_markdown as md
from hcview.ui.panels import PanelContext, render_panel
from hcview.viz import case as vc

from . import compute

def render_flags(summary: dict, res) -> None:
    """Every raised flag, the serious ones in one red box and the cautions in one amber box."""
    msgs = flag_messages(summary, res.modality_mismatch)
    errors = [md(t, limit=600) for sev, _, t in msgs if sev == "error"]
    warnings = [md(t, limit=600) for sev, _, t in msgs if sev != "error"]
    if errors:
        st.error("  \n".join(errors), icon=":material/block:")
    if warnings:
        st.warning("  \n".join(warnings), icon=":material/flag:")


def burned_in_warning(loaded) -> None:
    warn = (loaded.meta or {}).get("warning")
    if warn:
        st.error(f"**Burned-in annotation.** {md(warn)}. Check the image for names, dates or IDs before sharing "
                 "a screenshot or a report.", icon=":material/badge:")


def key_findings(summary: dict, res) -> list[str]:
    """What the model says, in a few markdown lines (escaped)."""
    out = []
    by_level: dict[str, list[dict]] = {}
    for o in summary["outputs"]:
        by_level.setdefault(o["level"], []).append(o)
    pred = summary.get("prediction") or {}
    for level, rows in by_level.items():
        if all(o.get("threshold") is None for o in rows):  # softmax: the predicted class
            if len(rows) == 1:
                continue
            lab = pred.get(level) or max(rows, key=lambda o: o["prob"])["label"]
            o = next(o for o in rows if o["label"] == lab)
            sd = f" ± {o['mc_std']:.2f}" if o.get("mc_std") is not None else ""
            unc = " — **uncertain**" if o.get("uncertain") else ""
            out.append(f"{md(level)}: **{md(lab)}** {res.mean_of(level, o['index']):.2f}{sd}{unc}")
        else:
            pos = sorted((o for o in rows if o.get("positive")), key=lambda o: -(o["mc_mean"] or o["prob"]))
            if not pos:
                out.append("No finding positive at its operating point.")
            for o in pos[:6]:
                sd = f" ± {o['mc_std']:.2f}" if o.get("mc_std") is not None else ""
                unc = " — **uncertain**" if o.get("uncertain") else ""
                m = res.mean_of(level, o["index"])
                dp = decimals_apart(m, o["threshold"])
                out.append(f"**{md(o['label'])}** {m:.{dp}f}{sd} (threshold {o['threshold']:.{dp}f}){unc}")
            if len(pos) > 6:
                out.append(f"… and {len(pos) - 6} more positive (see the tree below)")
    return out


def dicom_table(loaded) -> pd.DataFrame:
    m = loaded.meta or {}
    sp = m.get("pixel_spacing_mm")
    rows = [("Modality", m.get("modality")), ("View", m.get("view")), ("Sex", m.get("sex")), ("Age", m.get("age")),
            ("Image size", f"{m['size'][0]} × {m['size'][1]} px" if m.get("size") else None),
            ("Frame", f"{int(m.get('frame', 0)) + 1} of {m.get('frames')}" if (m.get("frames") or 1) > 1 else None),
            ("Pixel spacing", f"{sp[0]:.3f} × {sp[1]:.3f} mm" if sp else None),
            ("Photometric", m.get("photometric")), ("Bits stored", m.get("bits_stored")),
            ("Display window", m.get("window")), ("Model input window", m.get("model_window")),
            ("Transfer syntax", m.get("transfer_syntax")),
            ("Rescale (slope, intercept)", ", ".join(f"{x:g}" for x in m["rescale"]) if m.get("rescale") else None)]
    return pd.DataFrame([{"attribute": k, "value": str(v)} for k, v in rows if v not in (None, "", [])])


def removed_table(removed) -> pd.DataFrame:
    return pd.DataFrame([{"attribute": e.get("keyword", str(e)) if isinstance(e, dict) else str(e),
                          "tag": e.get("tag", "") if isinstance(e, dict) else "",
                          "action": e.get("action", "") if isinstance(e, dict) else "",
                          "times": int(e.get("count", 1)) if isinstance(e, dict) else 1} for e in removed])


def case_facts(item: dict, disp) -> None:
    a = disp.array
    bits = [f"{disp.kind.upper()} {a.shape[1]}×{a.shape[0]}"]
    if disp.kind == "dicom":
        bits.append(f"window: {md(disp.meta.get('window') or 'header')}")
    st.caption(f"{md(item['name'], limit=120)} · " + " · ".join(bits))


def render_findings(item: dict, disp, pred, res, summary: dict, record_info: dict, window=None) -> None:
    left, right = st.columns([2, 3], gap="medium")
    with left:
        st.image(compute.view(item, disp, window, 768), width="stretch")
        case_facts(item, disp)
    with right:
        st.markdown(f"##### {md(pred.spec.name)} says")
        st.markdown("\n".join(f"- {line}" for line in key_findings(summary, res)))
        if item.get("truth"):
            st.markdown(f"**Ground truth** (bundled label): {md(item['truth'])}")
        if disp.kind == "dicom":
            st.markdown("##### Image attributes (de-identified)")
            st.dataframe(dicom_table(disp), hide_index=True, width="stretch", height=215,
                         column_config={"attribute": st.column_config.TextColumn(width="medium")})
            removed = list(disp.deid_removed or [])
            total = int(getattr(disp.deid_removed, "total", len(removed)))
            with st.expander(f"De-identification removed or replaced {total} identifying attribute"
                             f"{'s' if total != 1 else ''}"):
                st.caption("DICOM PS3.15 Basic Confidentiality Profile (sex and age kept); private tags removed, UIDs "
                           "replaced. Only the attribute names are shown, never their values.")
                if removed:
                    st.dataframe(removed_table(removed), hide_index=True, width="stretch")
            for n in (disp.meta or {}).get("notes") or []:
                st.caption(md(n, limit=300))
    st.divider()
    render_panel(pred.spec, PanelContext(res, summary, disp.array, pred, record_info, key=f"p_{pred.model_id}"))
    heads = [h for h in pred.label_space.heads if h.kind != "regression" and h.size > 1]
    passes = next(iter(res.uncertainty.values())).n if res.uncertainty else 0
    if passes:
        with st.expander(f"MC-dropout bands ({passes} passes): mean and 95% interval per output, grey tick = its "
                         "decision threshold"):
            for h in heads:
                rows = [o for o in summary["outputs"] if o["level"] == h.name]
                st.plotly_chart(vc.mc_bands(rows, title=h.name if len(heads) > 1 else "",
                                            threshold=None), width="stretch", key=f"mc_{h.name}",
                                config={"displayModeBar": False})
    for n in summary.get("notices", []):
        st.caption(md(n, limit=400))
