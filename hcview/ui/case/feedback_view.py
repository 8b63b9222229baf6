"""The Feedback & report tab: the reader's verdict on each finding (agree / disagree / unsure, a note, their name),
stored per case and model version; the case report as HTML, PDF or JSON; all feedback as CSV."""
from __future__ import annotations

import streamlit as st

from hcview.report import feedback as FB
from hcview.report import render
from hcview.report.case import build_report, case_slug
from hcview.text import escape_markdown as md
from hcview.ui.common import show_error

from . import compute
from . import state as S

REPORTS = compute.LRU(16)
MIME = {"html": "text/html", "pdf": "application/pdf", "json": "application/json"}


def findings_for_feedback(summary: dict, res) -> list[dict]:
    """The findings a reader judges: every sigmoid output (its positive / negative call at its operating point) and
    the predicted class of each softmax level; positives and predictions first."""
    outs = summary["outputs"]
    levels = list(dict.fromkeys(o["level"] for o in outs))
    multi = len(levels) > 1
    rows = []
    pred = summary.get("prediction") or {}
    for lv in levels:
        group = [o for o in outs if o["level"] == lv]
        if all(o.get("threshold") is None for o in group):
            if len(group) < 2:
                continue
            lab = pred.get(lv) or max(group, key=lambda o: o["prob"])["label"]
            o = next(x for x in group if x["label"] == lab)
            call, first = f"predicted {res.mean_of(lv, o['index']):.2f}", True
            rows.append({"level": lv, "label": lab, "model_call": call, "prob": o["prob"], "_first": first})
            continue
        for o in group:
            v = res.mean_of(lv, o["index"])
            call = f"{'positive' if o.get('positive') else 'negative'} {v:.2f}"
            rows.append({"level": lv, "label": o["label"], "model_call": call, "prob": o["prob"],
                         "_first": bool(o.get("positive")), "_v": v})
    rows.sort(key=lambda r: (not r["_first"], -r.get("_v", 1.0)))
    for r in rows:
        r["finding"] = f"{r['level']}: {r['label']}" if multi else r["label"]
    return rows


def render_feedback(item: dict, pred, res, summary: dict, disp, record) -> None:
    report_downloads(item, pred, res, disp, record)
    st.divider()
    feedback_form(item, pred, res, summary)


def feedback_form(item: dict, pred, res, summary: dict) -> None:
    st.markdown("##### Do you agree with the model?")
    S.keep("case_reader", "")
    reader = st.columns([2, 3])[0].text_input("Your name", key="case_reader", max_chars=FB.MAX_READER,
                                              placeholder="e.g. Dr A. Reader", help="stored with each verdict")
    S.remember("case_reader")
    sha = res.sha256 or "untrained"
    saved = FB.for_case(item["id"], sha)
    mine = {(r["level"], r["label"]): r for r in saved if r["reader"] == reader.strip()}
    rows = findings_for_feedback(summary, res)
    first = [r for r in rows if r["_first"]]
    rest = [r for r in rows if not r["_first"]]
    prefix = f"fb_{item['id'][:16]}_{pred.model_id}_{sha[:8]}_{reader.strip()[:20]}"
    with st.form(f"{prefix}_form", border=False):
        answers = {}
        if first:
            answers.update(_rows(first, mine, prefix))
        else:
            st.caption("No finding is positive at its operating point.")
        if rest:
            with st.expander(f"Findings the model calls negative ({len(rest)})"):
                answers.update(_rows(rest, mine, prefix))
        save = st.form_submit_button("Save feedback", type="primary", icon=":material/save:")
    if save:
        entries = [{**{k: r[k] for k in ("level", "label", "model_call", "prob")}, "verdict": v, "note": note}
                   for r, (v, note) in ((r, answers[(r["level"], r["label"])]) for r in rows) if v]
        if not reader.strip():
            st.warning("Enter your name first: verdicts are stored per reader.")
        elif not entries:
            st.warning("No verdict chosen: pick agree, disagree or unsure for at least one finding.")
        else:
            try:
                k = FB.record(item["id"], pred.model_id, sha, entries, reader=reader, case_name=item["name"],
                              variant=pred.variant, model_version=res.version)
                st.success(f"Saved {k} verdict{'s' if k != 1 else ''} for this case and model version.",
                           icon=":material/check_circle:")
                saved = FB.for_case(item["id"], sha)
            except Exception as e:
                show_error(e)
    if saved:
        readers = sorted({r["reader"] for r in saved})
        st.caption(f"Stored for this case and model version: {len(saved)} verdict{'s' if len(saved) != 1 else ''} by "
                   + ", ".join(md(r) for r in readers) + ".")
    st.download_button("All reader feedback (CSV)", data=lambda: FB.to_csv_text(FB.all_rows()),
                       file_name="reader_feedback.csv", mime="text/csv", key="fb_csv", icon=":material/download:",
                       on_click="ignore", help="every verdict from every case, model and reader; spreadsheet-safe")


def _rows(rows: list[dict], mine: dict, prefix: str) -> dict:
    """One line per finding: what the model said, agree / disagree / unsure, a note."""
    out = {}
    for i, r in enumerate(rows):
        old = mine.get((r["level"], r["label"])) or {}
        c1, c2, c3 = st.columns([3, 3, 4], vertical_alignment="center")
        c1.markdown(f"**{md(r['finding'])}**  \n{md(r['model_call'])}")
        v = c2.segmented_control("Verdict", list(FB.VERDICTS), default=old.get("verdict"),
                                 key=f"{prefix}_v{i}_{r['level']}_{r['label']}", label_visibility="collapsed")
        note = c3.text_input("Note", value=old.get("note") or "", key=f"{prefix}_n{i}_{r['level']}_{r['label']}",
                             placeholder="note (optional)", label_visibility="collapsed", max_chars=FB.MAX_NOTE)
        out[(r["level"], r["label"])] = (v, note)
    return out


def report_downloads(item: dict, pred, res, disp, record) -> None:
    ss = st.session_state
    target = ss.get("_keep_case_target")
    settings = {"thr": float(ss.get("_keep_case_thr", 0.5)), "alpha": float(ss.get("_keep_case_alpha", 0.5)),
                "cmap": ss.get("_keep_case_cmap", "viridis")}
    slug = case_slug(item["file_name"], item["frame"], item["frames"])

    def build(fmt: str) -> bytes:
        fb = FB.for_case(item["id"], res.sha256 or "untrained")
        key = (item["id"], *compute.model_key(pred), res.uncertainty is not None, str(target),
               tuple(settings.values()), len(fb), max((r["created"] for r in fb), default=0))
        rep = REPORTS.get(key)
        if rep is None:
            cams = compute.gradcams(item, pred, res, record)
            tg = _target(pred, res, target)
            lrp = compute.cached_lrp(item, pred, record, tg) or compute.lrp(item, pred, res, record, tg, progress=False)
            maps = [m for m in (cams.get(tg), lrp) if m is not None]
            rep = REPORTS.put(key, build_report(pred, disp, res, case_hash=item["id"], maps=maps, feedback=fb,
                                                threshold=settings["thr"], alpha=settings["alpha"],
                                                cmap=settings["cmap"], truth=item.get("truth")))
        return render(rep, fmt)

    head, *cols = st.columns([4, 1, 1, 1], vertical_alignment="center")
    head.markdown("##### Case report")
    for col, fmt in zip(cols, ("pdf", "html", "json")):
        col.download_button(fmt.upper(), data=lambda f=fmt: build(f), file_name=f"{slug}.{fmt}", mime=MIME[fmt],
                            key=f"rep_{fmt}", icon=":material/download:", on_click="ignore", width="stretch")
    st.caption("De-identified image, findings tree, MC bands, flags, the explained output's Grad-CAM and LRP (as set "
               "on the Explanations tab) with their validity note, model version and card, reader feedback, software "
               "version. Built when you press a button: a few seconds the first time.")


def _target(pred, res, key: str | None) -> tuple[str, int]:
    if key and ":" in key:
        try:
            return tuple(pred.label_space.resolve(key)[:2])
        except Exception:
            pass
    return tuple(pred.targets_for(res, "default")[0])
