"""Prediction files made elsewhere: uploads, or files under an allowed data root, scored by
``hcview.metrics.external`` and shown side by side (Friedman test for several files)."""
from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Sequence

import streamlit as st

from hcview.text import escape_markdown

from hcview.errors import CsvError
from hcview.metrics.external import compare_predictions, load_files, unique_names
from hcview.ui.evaluation.heads import ci_text, fmt
from hcview.viz.curves import roc_curves
from hcview.viz.tables import comparison_tables

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_label_list(text: str | None) -> list[str] | None:
    """'A, B,C' -> ['A', 'B', 'C']; empty -> None (every label with both columns)."""
    labels = [x.strip() for x in re.split(r"[,\n;]", str(text or "")) if x.strip()]
    return labels or None


def parse_path_list(text: str | None, what: str = "predictions file") -> list[Path]:
    """Server-side CSV paths typed one per line (or comma separated). A path outside the allowed data
    roots is refused before anything looks at it; a missing one inside them -> ``CsvError``."""
    from hcview.paths import check_data_root

    out = []
    for part in re.split(r"[\n,]", text or ""):
        part = part.strip().strip('"').strip("'")
        if not part:
            continue
        p = check_data_root(part)
        if not p.exists():
            raise CsvError(f"{what} not found: {part}")
        out.append(p)
    return out


def score_prediction_files(paths: Sequence, truth_pattern: str = "{label}_GT", score_pattern: str = "{label}_Pred",
                           labels: Sequence[str] | None = None, names: Sequence[str] | None = None,
                           n_boot: int = 0, truth=None, id_column: str | None = None) -> dict:
    """Score prediction CSVs on disk: ``{"result": compare_predictions(...), "names": [...],
    "curves": {name: (labels, y_true, y_score)}}``. With ``truth`` (a truth CSV) and ``id_column`` the
    truths come from that file, joined by ID (``result["models"][name]["join"]`` counts the matches).
    Every bad input raises a one-line ``CsvError``."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise CsvError("no predictions file given")
    if not str(truth_pattern).strip() or not str(score_pattern).strip():
        raise CsvError("the truth and score column patterns must not be empty")
    if truth is not None and not str(id_column or "").strip():
        raise CsvError("a truth file is joined by ID: name the ID column both files hold")
    if truth is None and str(id_column or "").strip():
        raise CsvError("an ID column joins a separate truth file: add the truth file, or clear the ID column")
    names, loaded, joins = load_files(paths, truth_pattern, score_pattern, labels, names, truth, id_column)
    result = compare_predictions(loaded, dict(zip(names, paths)), n_boot=n_boot, joins=joins)
    return {"result": result, "names": names, "curves": loaded}


def _safe_name(name: str, i: int) -> str:
    stem = _SAFE.sub("_", Path(str(name or f"file{i}")).name).strip("._") or f"file{i}"
    return stem if stem.lower().endswith((".csv", ".tsv", ".txt", ".gz")) else stem + ".csv"


def _write_upload(folder: Path, i: int, name: str, data) -> Path:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CsvError(f"{name}: not file content")
    p = folder / f"{i:02d}" / _safe_name(name, i)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(bytes(data))
    return p


def score_uploaded_predictions(files: Sequence[tuple[str, bytes]], truth_pattern: str = "{label}_GT",
                               score_pattern: str = "{label}_Pred", labels: Sequence[str] | None = None,
                               n_boot: int = 0, truth: tuple[str, bytes] | None = None,
                               id_column: str | None = None) -> dict:
    """Like :func:`score_prediction_files` for uploads given as ``(file name, bytes)`` pairs (``truth``: an
    uploaded truth file joined by ``id_column``)."""
    if not files:
        raise CsvError("no predictions file given")
    with tempfile.TemporaryDirectory(prefix="hcview-preds-") as tmp:
        paths = [_write_upload(Path(tmp), i, name, data) for i, (name, data) in enumerate(files)]
        truth_path = _write_upload(Path(tmp) / "truth", 0, *truth) if truth else None
        return score_prediction_files(paths, truth_pattern, score_pattern, labels,
                                      names=unique_names([n for n, _ in files]), n_boot=n_boot, truth=truth_path,
                                      id_column=id_column)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_score_uploaded(files: tuple[tuple[str, bytes], ...], truth_pattern: str, score_pattern: str,
                          labels: tuple[str, ...] | None, n_boot: int = 0, truth: tuple[str, bytes] | None = None,
                          id_column: str | None = None) -> dict:
    return score_uploaded_predictions(list(files), truth_pattern, score_pattern, list(labels) if labels else None,
                                      n_boot, truth, id_column)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_score_paths(paths: tuple[str, ...], mtimes: tuple[float, ...], truth_pattern: str, score_pattern: str,
                       labels: tuple[str, ...] | None, n_boot: int = 0, truth: str | None = None,
                       id_column: str | None = None) -> dict:
    del mtimes  # part of the cache key only: a rewritten file is scored again
    return score_prediction_files(list(paths), truth_pattern, score_pattern, list(labels) if labels else None,
                                  n_boot=n_boot, truth=truth, id_column=id_column)


def join_text(join: dict, name: str) -> str:
    return (f"{name}: joined to the truth file on {join['id_column']!r}: {join['matched']} rows matched; "
            f"{join['predictions_without_truth']} prediction rows without truth and "
            f"{join['truth_without_predictions']} truth rows without predictions are not scored.")


def friedman_text(fr: dict | None) -> str | None:
    """One line describing the Friedman test result (None when there is no test: one file)."""
    if not fr:
        return None
    if fr.get("statistic") is None or (isinstance(fr.get("statistic"), float) and math.isnan(fr["statistic"])):
        return f"Friedman test not computed: {fr.get('reason') or 'undefined'}."
    best = min(fr["mean_ranks"], key=fr["mean_ranks"].get) if fr.get("mean_ranks") else None
    verdict = "the files differ" if fr["p_value"] < 0.05 else "no significant difference"
    return (f"Friedman test on per-label AUROC over {fr['n_blocks']} labels (blocks), {fr['k']} files: "
            f"χ² = {fr['statistic']:.3f}, p = {fr['p_value']:.4g} → {verdict} at α = 0.05"
            + (f"; best mean rank: {best}." if best else "."))


UPLOAD_TYPES = ["csv", "tsv", "txt", "gz"]

_DEFAULTS = {"ext_truth": "{label}_GT", "ext_score": "{label}_Pred"}


def init_state() -> None:
    """Default values of the tab's widgets, set once, so the example button can fill them without a conflict."""
    import os

    for k, v in {**_DEFAULTS, "ext_paths": os.environ.get("HCVIEW_EVAL_PREDICTIONS", "")}.items():
        st.session_state.setdefault(k, v)


PEER_NOTE = ("Why Pneumonia differs: the peer scored its predictions against its own copy of the NIH labels, which "
             "NIH revised in 2020; the truth file here holds the original 2017 labels. On the 181 of these test images "
             "that the bundled NIH sample (2020 labels) also holds, the two label versions disagree on exactly one "
             "label, a Pneumonia label, and Pneumonia has only 242 positives in this test split. The scoring agrees "
             "(the other 13 labels within 0.0003). Provenance: data/samples/peer-chexnet/README.md.")


def peer_dir():
    from hcview.paths import samples_dir

    return samples_dir() / "peer-chexnet"


def load_peer_example() -> None:
    """Button callback: fill the tab with the bundled peer CheXNet reproduction (predictions, truth joined on
    ``Image Index``, published AUROCs)."""
    d = peer_dir()
    st.session_state.update({"ext_paths": str(d / "predictions.csv.gz"), "ext_truth_path": str(d / "truth.csv.gz"),
                             "ext_id_column": "Image Index", "ext_truth": "{label}", "ext_score": "prob_{label}",
                             "ext_published": str(d / "published_aucs.csv"), "ext_labels": ""})


@st.cache_data(show_spinner=False, max_entries=8)
def published_comparison(labels_key: tuple, published_path: str, mtime: float) -> dict:
    from hcview.metrics.external import compare_to_published, load_published

    del mtime
    labels = {lab: {"auroc": auc} for lab, auc in labels_key}  # None: undefined on these files
    return compare_to_published(labels, load_published(published_path))


def render_published(scored: dict, published_text: str) -> None:
    """A peer's published per-label AUROCs next to the reproduced ones (one predictions file)."""
    import pandas as pd

    paths = parse_path_list(published_text, "published AUROC file")
    if not paths:
        return
    if len(paths) > 1:
        raise CsvError("give one published AUROC file")
    names = scored["names"]
    if len(names) != 1:
        st.info("Published AUROCs are compared with one predictions file; score one file to see them.")
        return
    rec = scored["result"]["models"][names[0]]["labels"]
    key = tuple((lab, r.get("auroc")) for lab, r in rec.items())
    cmp = published_comparison(key, str(paths[0]), paths[0].stat().st_mtime)
    st.subheader("Against the published figures")
    if not cmp["labels_compared"]:
        st.warning(f"No label of {escape_markdown(paths[0].name)} matches a scored label.")
        return
    table = pd.DataFrame([{"label": lab, "published AUROC": r["published"], "reproduced AUROC": r["reproduced"],
                           "difference": round(r["difference"], 4) + 0.0}  # + 0.0: no "-0.0000"
                          for lab, r in cmp["per_label"].items()])
    close = int((table["difference"].abs() <= 1e-3).sum())
    st.dataframe(table, hide_index=True, width="stretch", height="content",
                 column_config={c: st.column_config.NumberColumn(c, format="%.4f") for c in table.columns[1:]})
    esc = lambda labs: escape_markdown(", ".join(labs), limit=300)  # noqa: E731 (labels are the file's text)
    off = [f"{escape_markdown(lab, limit=60)} ({r['difference']:+.4f})" for lab, r in cmp["per_label"].items()
           if abs(r["difference"]) > 1e-3]
    st.caption(f"{cmp['labels_compared']} labels compared: largest |difference| {cmp['max_abs_difference']:.4f}, "
               f"median {cmp['median_abs_difference']:.4f}; {close} of {cmp['labels_compared']} within 0.001."
               + (f" Differs by more than 0.001: {', '.join(off)}." if off else "")
               + (f" Published only: {esc(cmp['published_only'])}." if cmp["published_only"] else "")
               + (f" Scored only: {esc(cmp['reproduced_only'])}." if cmp["reproduced_only"] else "")
               + (f" No AUROC on these files (one class only): {esc(cmp['undefined_here'])}."
                  if cmp.get("undefined_here") else ""))
    if paths[0].resolve() == (peer_dir() / "published_aucs.csv").resolve():
        st.info(PEER_NOTE, icon=":material/info:")


def external_roc_figure(scored: dict, name: str):
    labs, yt, ys = scored["curves"][name]
    return roc_curves(yt, ys, labs, title=f"ROC curves · {name}")


def render_external(scored: dict) -> None:
    """Summary, per-label AUROC/AUPRC side by side, Friedman result and ROC curves of scored files."""
    res = scored["result"]
    per_label, summary = comparison_tables(res)
    names = scored["names"]
    for n in names:
        join = res["models"][n].get("join")
        if join:
            unmatched = join["predictions_without_truth"] + join["truth_without_predictions"]
            (st.warning if unmatched else st.info)(join_text(join, escape_markdown(n)))
    st.subheader("Summary")
    cols = st.columns(min(4, len(names)))
    for i, n in enumerate(names):
        s = res["summary"][n]
        ci = ci_text(s.get("mean_auroc_ci"))
        cols[i % len(cols)].metric(f"Mean AUROC · {escape_markdown(n)}", fmt(s.get("mean_auroc")),
                                   help=f"{s.get('n_labels_defined')} labels with an AUROC, {s.get('n_cases')} cases")
        if ci:
            cols[i % len(cols)].caption(ci)
    st.dataframe(summary, hide_index=True, width="stretch", height="content",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in summary.columns
                                if summary[c].dtype.kind == "f"})
    st.caption("One row per file: macro / support-weighted means over labels where AUROC is defined.")
    fr = res.get("friedman")
    if fr is not None:
        text = friedman_text(fr)
        (st.success if fr.get("p_value") is not None and fr.get("p_value", 1) < 0.05 else st.info)(text)
    st.subheader("Per label")
    num_cols = [c for c in per_label.columns if c.startswith(("AUROC", "AUPRC"))]
    st.dataframe(per_label, hide_index=True, width="stretch", height="content",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in num_cols})
    st.caption("AUROC and AUPRC per label and file (labels common to all files); click a header to sort.")
    st.subheader("ROC curves")
    chosen = st.selectbox("File", names, key="ext_roc_file") if len(names) > 1 else names[0]
    st.plotly_chart(external_roc_figure(scored, chosen), width="stretch", key="ext_roc")
    st.caption("One ROC curve per label with a defined AUROC (both classes present); dashed = chance.")
