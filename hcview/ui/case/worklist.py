"""The Worklist tab: add scans (several files at once; every frame of a multi-frame DICOM becomes a case) and
bundled samples, see each case's status for the chosen model, remove cases, attach a records CSV for models with
clinical inputs, and run the whole list in one go through the batch contract (``predict_files``) with a CSV."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from hcview.errors import describe
from hcview.text import escape_markdown as md
from hcview.ui.common import show_error

from . import compute
from . import state as S
from .records import check_columns, columns_doc, id_columns, match_record
from .samples import bundled_samples, sample_label

REC = "case_records"  # {"name", "df", "id_column"}


# ---- adding cases (callbacks: they run before the page, so the list is up to date when it is drawn) ---------------
def _ingest_uploads(key: str) -> None:
    files = st.session_state.get(key) or []
    added = []
    for f in files:
        try:
            added += S.add_file(f.getvalue(), f.name)
        except Exception as e:  # the list is full: say so once
            st.session_state["case_flash"] = describe(e)[0]
            break
    if added:
        S.select(added[0])
        st.session_state["case_tab"] = "Findings"
    st.session_state[S.GEN] += 1  # a fresh, empty uploader: the worklist now holds the files


def _add_sample() -> None:
    key = st.session_state.get("case_sample")
    if key and key in bundled_samples():
        ids = S.add_sample(key)
        if ids:
            S.select(ids[0])
            st.session_state["case_tab"] = "Findings"
    st.session_state["case_sample"] = None


def add_controls() -> None:
    """The uploader and the sample picker (also shown above an empty worklist)."""
    gen = st.session_state.setdefault(S.GEN, 0)
    c1, c2 = st.columns([3, 2], gap="medium")
    with c1:
        key = f"case_upload_{gen}"
        st.file_uploader("Add scans (DICOM, PNG, JPEG; several at once)", accept_multiple_files=True, key=key,
                         on_change=_ingest_uploads, args=(key,),
                         help="Each file is de-identified when read. A multi-frame DICOM adds one case per frame.")
    with c2:
        st.selectbox("…or a bundled sample", list(bundled_samples()), index=None, key="case_sample",
                     format_func=sample_label, on_change=_add_sample, placeholder="Choose a sample to add",
                     help="Held-out test images from the sample pack, with their ground truth.")
    flash = st.session_state.pop("case_flash", None)
    if flash:
        st.warning(md(flash))


# ---- the list ------------------------------------------------------------------------------------------------------
def worklist_frame(model_id: str) -> pd.DataFrame:
    rows = []
    for i, it in enumerate(S.worklist(), 1):
        s = S.status(it["id"], model_id)
        rows.append({"#": i, "case": it["name"], "type": ("unreadable" if it["error"] else it["kind"].upper()),
                     "ground truth": it.get("truth") or "", "status": "unreadable" if it["error"] else s["status"],
                     "model finding": it["error"] or s["top"]})
    return pd.DataFrame(rows, columns=["#", "case", "type", "ground truth", "status", "model finding"])


def render_worklist(model_id: str, model_name: str, mc: int, pred_spec_inputs: tuple) -> None:
    add_controls()
    items = S.worklist()
    if not items:
        st.info("The worklist is empty: add scans or a bundled sample. It stays here while you visit other pages.")
        return
    st.markdown(f"##### {len(items)} case{'s' if len(items) != 1 else ''} · status for {md(model_name)}")
    df = worklist_frame(model_id)
    st.dataframe(df, hide_index=True, width="stretch", height=min(38 + 35 * len(df), 38 + 35 * 10),
                 column_config={"#": st.column_config.NumberColumn(width="small"),
                                "case": st.column_config.TextColumn(width="medium"),
                                "status": st.column_config.TextColumn(width="medium",
                                                                      help="not run · done · flagged (OOD, uncertain, "
                                                                           "untrained, modality) · unreadable"),
                                "model finding": st.column_config.TextColumn(width="large")})
    b1, b2, b3 = st.columns([2, 2, 3])
    cur = S.current()
    b1.button("Remove the open case", on_click=S.remove, args=(cur["id"],), key="wl_remove", width="stretch")
    b2.button("Clear the worklist", on_click=S.clear, key="wl_clear", width="stretch")
    batch(model_id, model_name, mc)
    if "meta" in pred_spec_inputs:
        records_section(model_name)


# ---- batch ---------------------------------------------------------------------------------------------------------
def batch(model_id: str, model_name: str, mc: int) -> None:
    st.markdown("##### Run the whole worklist")
    items = S.worklist()
    c1, c2 = st.columns([2, 3])
    go = c1.button(f"Run all {len(items)} with {model_name}", key="wl_batch", type="primary", width="stretch")
    c2.caption(f"{mc} MC-dropout passes each (set at the top). Images only: records and heat maps are per case.")
    if go:
        try:
            df = run_batch(items, model_id, mc)
            st.session_state[S.BATCH] = {"model": model_id, "csv": df}
            st.rerun()  # redraw the list above with the new statuses
        except Exception as e:
            show_error(e)
    done = st.session_state.get(S.BATCH)
    if done and done["model"] == model_id:
        from hcview.io_utils import safe_csv_text

        df = done["csv"]
        n_err = int((df["error"] != "").sum())
        st.caption(f"{len(df)} rows: {int(df['ood'].fillna(0).sum())} out of distribution, "
                   f"{int(df['uncertain'].fillna(0).sum())} uncertain, {n_err} unreadable.")
        st.download_button("Batch results (CSV)", data=safe_csv_text(df, index=False),
                           file_name=f"worklist_{model_id}.csv", mime="text/csv", icon=":material/download:", key="wl_csv",
                           on_click="ignore")


def run_batch(items: list[dict], model_id: str, mc: int) -> pd.DataFrame:
    """The worklist through ``hcview.infer.batch.predict_files`` (uploads written to a private temp folder; a frame
    of a multi-frame DICOM other than the first goes through the single-case path into the same columns). One row
    per case, in worklist order, ``path`` being the case's name."""
    from hcview.infer.batch import output_columns, predict_files

    pred = compute.predictor(model_id)
    bar = st.progress(0.0, text=f"Running {len(items)} cases…")
    rows: dict[int, dict] = {}
    total = max(len(items), 1)
    with tempfile.TemporaryDirectory(prefix="hcview-worklist-") as tmp:
        files, owners = [], []
        for i, it in enumerate(items):
            if it["frame"] > 0:
                continue
            if isinstance(it["src"], (bytes, bytearray)):
                p = Path(tmp) / f"{i:04d}_{Path(it['file_name']).name[-80:] or 'upload'}"
                p.write_bytes(it["src"])
            else:
                p = Path(it["src"])
            files.append(p)
            owners.append(i)
        chunk = 8
        for start in range(0, len(files), chunk):
            part = predict_files(pred, files[start:start + chunk], mc=mc, progress=False, workers=0)
            for i, r in zip(owners[start:start + chunk], part.to_dict("records")):
                rows[i] = {**r, "path": items[i]["name"]}
                _status_from_row(items[i], model_id, r, pred)
            bar.progress(len(rows) / total, text=f"{len(rows)} of {len(items)} cases")
        cols = output_columns(pred.label_space)
        for i, it in enumerate(items):
            if it["frame"] == 0:
                continue
            r = {"path": it["name"], "error": ""}
            try:
                res = compute.result(it, pred, mc, None, progress=False)
                r.update({"ood": int(bool(res.ood)), "ood_score": res.ood_score, "uncertain": int(res.uncertain)})
                for name, h, k in cols:
                    r[f"p:{name}"] = float(res.probs[h][k])
                    if res.uncertainty:
                        r[f"sd:{name}"] = float(res.uncertainty[h].std[k]) if h in res.uncertainty else float("nan")
            except Exception as e:
                r["error"] = describe(e)[0]
            rows[i] = r
            _status_from_row(it, model_id, r, pred)
            bar.progress(len(rows) / total, text=f"{len(rows)} of {len(items)} cases")
    bar.empty()
    ordered = [rows[i] for i in sorted(rows)]
    order = list(dict.fromkeys(["path", "ood", "ood_score", "uncertain"] + [c for r in ordered for c in r]))
    order = [c for c in order if c != "error"] + ["error"]
    df = pd.DataFrame(ordered)
    for c in order:
        if c not in df.columns:
            df[c] = ""
    df["error"] = df["error"].fillna("")
    return df[order]


def _status_from_row(item: dict, model_id: str, r: dict, pred) -> None:
    if r.get("error"):
        S.set_status(item["id"], model_id, "unreadable", r["error"])
        return
    bits = [b for b, on in (("OOD", r.get("ood")), ("uncertain", r.get("uncertain")), ("untrained", pred.untrained))
            if on]
    heads = [h for h in pred.label_space.heads if h.kind != "regression" and h.size > 1]
    top = ""
    if heads:  # as the single-case view says it: the positives at their operating points, else the class
        h = heads[-1]
        ps = {lab: float(r.get(f"p:{h.name}:{lab}", float("nan"))) for lab in h.labels}
        if h.kind == "sigmoid":
            thr = dict(zip(h.labels, pred.thresholds.get(h.name, [0.5] * h.size)))
            pos = sorted((lab for lab, p in ps.items() if p >= thr[lab]), key=lambda lab: -ps[lab])
            top = (", ".join(pos[:3]) + (f" +{len(pos) - 3}" if len(pos) > 3 else "")) if pos else "no positive finding"
        else:
            lab = max(ps, key=lambda k: ps[k] if ps[k] == ps[k] else -1.0)
            top = f"{lab} {ps[lab]:.2f}"
    S.set_status(item["id"], model_id, ("flagged: " + ", ".join(bits)) if bits else "done", top)


# ---- records (clinical inputs) -------------------------------------------------------------------------------------
def records_section(model_name: str) -> None:
    from hcview.data.tabular import read_csv_text

    st.markdown(f"##### Clinical records for {md(model_name)}")
    st.caption(columns_doc())
    up = st.file_uploader("Records CSV", type=["csv", "tsv", "txt"], key="case_records_file")
    if up is not None:
        try:
            df, _ = read_csv_text(up.getvalue(), up.name)
            st.session_state[REC] = {"name": up.name, "df": df, "id_column": None}
        except Exception as e:
            show_error(e)
    rec = st.session_state.get(REC)
    if not rec:
        st.caption("No records file: bundled NIH samples use their own age / sex / view; other cases use the image "
                   "alone.")
        return
    df = rec["df"]
    found, missing, text = check_columns(df.columns)
    head = ", ".join(md(c, limit=40) for c in list(df.columns)[:12])
    st.caption(f"{md(rec['name'])}: {len(df)} rows; columns: {head}{' …' if len(df.columns) > 12 else ''}")
    if not found and not text:
        st.warning("This file has none of the columns the model reads (age, sex, view, or a report/text column): it "
                   "is ignored.", icon=":material/warning:")
    elif missing:
        st.info("Missing columns (masked, not guessed): " + ", ".join(missing) + ("" if text else "; no free text."))
    cands = id_columns(df)
    choice = st.selectbox("Match rows to scans by", ["(any ID column)"] + cands, key="case_records_id",
                          help="the column holding the image's file name or ID")
    rec["id_column"] = None if choice == "(any ID column)" else choice
    matched = sum(match_record(df, it["file_name"], rec["id_column"])[0] is not None for it in S.worklist())
    st.caption(f"{matched} of {len(S.worklist())} cases matched a row.")
    if st.button("Remove the records file", key="case_records_drop"):
        st.session_state.pop(REC, None)
        st.rerun()


def record_for(item: dict, spec_inputs: tuple) -> tuple[dict | None, dict]:
    """(record, info) for a case under a model whose inputs are ``spec_inputs``: the uploaded records file's
    matching row, else a bundled NIH sample's own age / sex / view, else none."""
    if "meta" not in spec_inputs:
        return None, {}
    rec = st.session_state.get(REC)
    if rec:
        found, missing, text = check_columns(rec["df"].columns)
        if found or text:
            row, col = match_record(rec["df"], item["file_name"], rec.get("id_column"))
            if row is not None:
                return row, {"source": f"{rec['name']}, the row whose {col} matches the file name"}
            return None, {"source": f"no row of {rec['name']} matches this file name: image alone"}
        return None, {"source": f"{rec['name']} has none of the columns the model reads: image alone"}
    if item.get("record"):
        r = item["record"]
        return dict(r), {"source": "the bundled sample's own table (age {age}, sex {sex}, view {view})".format(**r)}
    return None, {}
