"""Shared sidebar and small widgets used by every page."""
from __future__ import annotations

import sys

import streamlit as st

from hcview.errors import HcviewError


@st.cache_data(ttl=10, show_spinner=False)
def cached_catalog() -> list[dict]:
    from hcview.models.cards import catalog_rows  # no torch: the first page renders before torch is imported

    return catalog_rows()


@st.cache_resource(show_spinner=False)
def device_text(torch_loaded: bool = False) -> str:
    """Cached per state: the driver's view before torch is imported, torch's own once it is."""
    from hcview.device import describe

    del torch_loaded  # part of the cache key only

    return describe()


SYNTHETIC_BANNER = "Trained on synthetic phantoms only: not meaningful on real scans."


def sidebar() -> None:
    """The sidebar every page shares: device, which models are trained, a link to bootstrap. It runs before any page
    (app.py), so a catalog that cannot be read (a missing or stale snapshot) is said here once, and no page runs."""
    try:
        rows = [r for r in cached_catalog() if r["variant"] == "demo"]
    except Exception as e:
        show_error(e)
        st.stop()
    with st.sidebar:
        st.caption(f"Compute: {device_text('torch' in sys.modules)}")
        trained = [r["name"] for r in rows if r["trained"]]
        if trained:
            st.caption("Trained demo models: " + ", ".join(trained))
        else:
            st.warning("No trained models yet. Start the demo bootstrap on the Overview page.", icon="⚠️")
        st.caption("Research software: not for clinical diagnosis.")


def show_error(err: Exception) -> None:
    """One line for the user, markdown-escaped (it may quote file names and values); never a traceback."""
    from hcview.errors import describe
    from hcview.text import escape_markdown

    msg, code = describe(err)
    if not isinstance(err, HcviewError) and code == 1:
        msg = "Unexpected " + msg
    st.error(escape_markdown(msg, limit=400), icon="🚫")


_WORDS = {"acc": "accuracy", "auroc": "AUROC", "auprc": "AUPRC", "mse": "MSE", "ece": "ECE"}


def metric_label(key: str) -> str:
    """``test_disease_acc`` -> ``disease accuracy``; ``test_mean_auroc`` -> ``mean AUROC``."""
    words = key.removeprefix("test_").removeprefix("val_").split("_")
    return " ".join(_WORDS.get(w, w) for w in words)


def headline_metrics(rows: list[dict], n: int = 3) -> dict[str, list[tuple[str, float]]]:
    """Per demo model, up to ``n`` test metrics worth a headline: the model's selection metric first, then its other
    ``test_*`` figures; never a head with a single class in the label space (always right, so trivially 1.000), nor a
    mean over heads that includes one, nor a figure that is the same for every model that reports it."""
    cand: dict[str, list[tuple[str, float]]] = {}
    for r in rows:
        if r["variant"] != "demo" or not r.get("test_metrics"):
            continue
        trivial = {h for h, size in (r.get("outputs") or {}).items() if size <= 1}
        keys = [k for k, v in r["test_metrics"].items()
                if k.startswith("test_") and isinstance(v, (int, float)) and not isinstance(v, bool)
                and not any(k.startswith(f"test_{h}_") for h in trivial)
                and not (trivial and k.startswith("test_mean_"))]
        select = "test_" + str(r.get("select", "")).removeprefix("val_")
        keys.sort(key=lambda k: k != select)
        cand[r["id"]] = [(k, float(r["test_metrics"][k])) for k in keys]
    seen: dict[str, set] = {}
    for items in cand.values():
        for k, v in items:
            seen.setdefault(k, set()).add(round(v, 6))
    counts = {k: sum(k in dict(items) for items in cand.values()) for k in seen}
    same = {k for k, vals in seen.items() if counts[k] >= 2 and len(vals) == 1}
    return {m: [(metric_label(k), v) for k, v in items if k not in same][:n] for m, items in cand.items()}
