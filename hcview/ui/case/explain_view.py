"""The Explanations tab: the original, Grad-CAM and LRP side by side for the chosen output, a gallery of the top-k
outputs' Grad-CAMs (all from one backbone pass), a colour-map choice, threshold, opacity, and click-to-zoom at full
resolution. Maps come from the cache (``compute``); a slider change only re-blends them (numpy, milliseconds)."""
from __future__ import annotations

import streamlit as st

from hcview.report.case import validity_note
from hcview.text import escape_markdown as md
from hcview.viz import case as vc

from . import compute
from . import state as S

PANEL_SIDE = 640     # pixels sent for the three main panels (about 330 px shown, sharp on a 2x screen)
THUMB_SIDE = 256
CONTROL_KEYS = ("case_target", "case_cmap", "case_thr", "case_alpha", "case_topk")


def title(res, m: dict) -> str:
    sd = res.sd_of(m["head"], m["index"])
    p = res.mean_of(m["head"], m["index"])
    return f"{m['label']}: {p:.2f}" + (f" ± {sd:.2f}" if sd is not None else "")


@st.dialog("Full resolution", width="large")
def zoom(caption: str, image, cam, thr: float, alpha: float, cmap: str) -> None:
    st.image(vc.overlay(image, cam, thr, alpha, cmap), caption=caption, width="stretch", output_format="PNG")
    st.caption(f"{image.shape[1]}×{image.shape[0]} pixels, the map resized to them (bilinear).")


def controls(pred, res) -> dict:
    targets = pred.targets_for(res, "ranked")
    names = {f"{h}:{pred.label_space.head(h).labels[i]}": (h, i) for h, i in targets}
    single = len({h for h, _ in targets}) == 1
    fmt = (lambda k: f"{k.split(':', 1)[1]} ({res.mean_of(*names[k]):.2f})") if single else \
        (lambda k: f"{k.replace(':', ': ', 1)} ({res.mean_of(*names[k]):.2f})")
    if st.session_state.get("case_target") not in names:
        st.session_state.pop("case_target", None)
    for k, d in (("case_cmap", vc.DEFAULT_CMAP), ("case_thr", 0.5), ("case_alpha", 0.5), ("case_topk", 6)):
        S.keep(k, d)
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
    target = c1.selectbox("Output to explain", list(names), format_func=fmt, key="case_target",
                          help="Ordered as the model ranks them: the most specific level first, by probability.")
    cmap = c2.selectbox("Colour map", list(vc.CMAPS), format_func=vc.CMAP_LABELS.get, key="case_cmap",
                        help="viridis and inferno are perceptually uniform (equal steps look equal, readable in "
                             "grey); 'paper style' is the CIHMLC authors' 5-step hot_r, whose top step is black.")
    thr = c3.slider("Threshold", 0.0, 0.95, step=0.05, key="case_thr",
                    help="map values at or below it are not drawn (the scan shows through)")
    alpha = c4.slider("Opacity (alpha)", 0.0, 1.0, step=0.05, key="case_alpha")
    S.remember(*CONTROL_KEYS)
    return {"target": names[target], "cmap": cmap, "thr": float(thr), "alpha": float(alpha)}


def cons_text(c: float) -> str:
    """A conservation figure: two decimals in the usual range, else three significant digits (-1.66e+08)."""
    return f"{c:.2f}" if 0.01 <= abs(c) < 1000 else f"{c:.3g}"


def render_explanations(item: dict, disp, pred, res, record, window) -> dict:
    """Draws the tab; returns the settings (for the report)."""
    s = controls(pred, res)
    view = compute.view(item, disp, window, PANEL_SIDE)
    cams = compute.gradcams(item, pred, res, record, progress=True)
    target = s["target"]
    cam = cams.get(tuple(target))
    lrp = compute.lrp(item, pred, res, record, target)
    cons = lrp.get("conservation") if lrp else None
    if cons is not None and not 0.5 <= cons <= 2.0:  # said above the maps, where the eye lands first
        st.warning(f"LRP does not conserve relevance on this case (conservation {cons_text(cons)}; 1 means the map "
                   "accounts for the whole score): the LRP map is not a decomposition of the score. Do not read it "
                   "as one; Grad-CAM is the better guide here.", icon=":material/warning:")
    cols = st.columns(3, gap="small")
    for col, (name, m) in zip(cols, (("Original", None), ("Grad-CAM", cam), ("LRP", lrp))):
        with col:
            cap = name if m is None else f"{name} · {title(res, m)}"
            if m is not None and m.get("approximate"):
                c = m.get("conservation")
                cap += " · approximate" + (f" (conservation {cons_text(c)})" if c is not None else "")
            st.image(vc.overlay(view, None if m is None else m["map"], s["thr"], s["alpha"], s["cmap"]),
                     caption=md(cap), width="stretch")
            if st.button("Zoom", icon=":material/zoom_in:", key=f"zoom_{name}", help="full resolution in a dialog"):
                zoom(cap, disp.array, None if m is None else m["map"], s["thr"], s["alpha"], s["cmap"])
    bar_col, note_col = st.columns([1, 3])
    bar_col.image(vc.colorbar_strip(s["cmap"], s["thr"]), width="stretch",
                  caption=f"0 → 1; ≤ {s['thr']:.2f} not drawn (hatched)")
    note_col.info(validity_note(pred.model_id, pred.variant, res.sha256), icon=":material/straighten:")
    with st.expander("LRP details"):
        st.markdown(f"Relevance conservation (input relevance / explained logit): **{cons_text(lrp['conservation'])}** "
                    "(1.00 means every bit of the score is accounted for).")
        from hcview.explain.lrp_chain import RULES as CHAIN_RULES

        if (lrp.get("rules") or "").startswith(CHAIN_RULES):
            head = ("Conserving rules for this architecture (every layer has an LRP rule). "
                    + ("This map is marked **approximate** only because its conservation is outside [0.8, 1.2]. "
                       if lrp.get("approximate") else ""))
        elif lrp.get("approximate"):
            head = ("These rules are **approximate** for this architecture: some layers have no exact LRP rule and "
                    "pass plain gradient. ")
        else:
            head = "Exact rules for this architecture. "
        st.markdown(head + f"Rules: {md(lrp.get('rules') or '')}.")
        st.caption(f"Model notes: {md(pred.spec.lrp)}")
    gallery(disp, pred, res, cams, compute.view(item, disp, window, THUMB_SIDE), s)
    return s


def gallery(disp, pred, res, cams: dict, thumb, s: dict) -> None:
    h, c = st.columns([4, 1], vertical_alignment="bottom")
    h.markdown("**Top outputs, Grad-CAM** (all from one backbone pass)")
    k = c.segmented_control("Show", [3, 6, 12], key="case_topk", required=True)
    S.remember("case_topk")
    top = [t for t in pred.targets_for(res, f"top{int(k)}") if tuple(t) in cams]
    per_row = 6 if len(top) > 4 else 4
    for start in range(0, len(top), per_row):
        cols = st.columns(per_row, gap="small")
        for col, t in zip(cols, top[start:start + per_row]):
            m = cams[tuple(t)]
            with col:
                lab, val = title(res, m).split(": ", 1)
                st.image(vc.overlay(thumb, m["map"], s["thr"], s["alpha"], s["cmap"]),
                         caption=f"{md(lab)}  \n{md(val)}", width="stretch")
                if st.button("", icon=":material/zoom_in:", key=f"zoomg_{t[0]}_{t[1]}", help="full resolution"):
                    zoom(f"Grad-CAM · {title(res, m)}", disp.array, m["map"], s["thr"], s["alpha"], s["cmap"])
