"""The worklist and the page's choices, in session state so they survive switching pages.

A worklist item is a plain dict: ``id`` (the case hash: sha256 of the file, plus ``#frame`` for a frame of a
multi-frame DICOM), ``name`` (what the list shows), ``file_name``, ``src`` (the uploaded bytes, or a bundled
sample's path), ``frame``, ``frames``, ``kind``, ``truth`` (bundled samples), ``record`` (a bundled NIH sample's
age / sex / view) and ``error`` (why the file cannot be read, if it cannot). Uploaded bytes are copied into the
worklist at once, so the uploader can be emptied and nothing depends on it afterwards.

Streamlit drops a widget's value when its page is left; :func:`keep` / :func:`remember` give the page's widgets
a shadow copy that is restored on return.
"""
from __future__ import annotations

import hashlib

import streamlit as st

WL, CUR, STATUS, BATCH, GEN = "case_worklist", "case_current", "case_status", "case_batch", "case_upload_gen"
MAX_ITEMS = 200


def _ss():
    ss = st.session_state
    ss.setdefault(WL, [])
    ss.setdefault(STATUS, {})
    ss.setdefault(GEN, 0)
    return ss


def worklist() -> list[dict]:
    return _ss()[WL]


def current() -> dict | None:
    ss = _ss()
    items = ss[WL]
    if not items:
        return None
    cur = ss.get(CUR)
    for it in items:
        if it["id"] == cur:
            return it
    ss[CUR] = items[0]["id"]
    return items[0]


def index_of(item_id: str) -> int:
    return next((i for i, it in enumerate(worklist()) if it["id"] == item_id), 0)


def select(item_id: str) -> None:
    _ss()[CUR] = item_id


def step(delta: int) -> None:
    items = worklist()
    if items:
        cur = current()
        i = (index_of(cur["id"]) + delta) % len(items)
        select(items[i]["id"])


def remove(item_id: str) -> None:
    ss = _ss()
    ss[WL] = [it for it in ss[WL] if it["id"] != item_id]
    for k in [k for k in ss[STATUS] if k[0] == item_id]:
        del ss[STATUS][k]
    if ss.get(CUR) == item_id:
        ss[CUR] = ss[WL][0]["id"] if ss[WL] else None


def clear() -> None:
    ss = _ss()
    ss[WL], ss[STATUS], ss[CUR] = [], {}, None
    ss.pop(BATCH, None)


def _add(item: dict) -> bool:
    items = worklist()
    if any(it["id"] == item["id"] for it in items):
        return False
    if len(items) >= MAX_ITEMS:
        raise ValueError(f"the worklist holds at most {MAX_ITEMS} cases: remove some first")
    items.append(item)
    return True


def add_file(data: bytes, file_name: str, *, src=None, truth: str | None = None, record: dict | None = None,
             sample: bool = False) -> list[str]:
    """Add a file (every frame of a multi-frame DICOM) to the worklist; returns the ids of the items for it (new
    or already there). An unreadable file becomes one item whose ``error`` says why."""
    from hcview.data.io import load_image
    from hcview.errors import describe

    sha = hashlib.sha256(data).hexdigest()
    base = {"file_name": file_name, "src": src if src is not None else data, "truth": truth, "record": record,
            "sample": sample, "error": None}
    try:
        first = load_image(data, name=file_name)
    except Exception as e:  # the message is shown with the item; never a traceback
        _add({**base, "id": sha, "name": file_name, "frame": 0, "frames": 1, "kind": "?", "error": describe(e)[0]})
        return [sha]
    frames = int(first.meta.get("frames") or 1)
    ids = []
    for f in range(frames):
        cid = f"{sha}#{f}" if frames > 1 else sha
        name = f"{file_name} · frame {f + 1}/{frames}" if frames > 1 else file_name
        _add({**base, "id": cid, "name": name, "frame": f, "frames": frames, "kind": first.kind})
        ids.append(cid)
    return ids


def add_sample(key: str) -> list[str]:
    from pathlib import Path

    from .samples import bundled_samples

    s = bundled_samples()[key]
    return add_file(Path(s["path"]).read_bytes(), key, src=s["path"], truth=s["truth"], record=s["record"],
                    sample=True)


def source(item: dict):
    """What ``load_image`` takes for the item: its bytes, or the bundled sample's path."""
    return item["src"]


# ---- status per (case, model) -------------------------------------------------------------------------------------
def set_status(item_id: str, model_id: str, status: str, top: str = "") -> None:
    _ss()[STATUS][(item_id, model_id)] = {"status": status, "top": top}


def status(item_id: str, model_id: str) -> dict:
    return _ss()[STATUS].get((item_id, model_id)) or {"status": "not run", "top": ""}


def status_of_result(summary: dict) -> str:
    f = summary.get("flags", {})
    bits = [b for b, on in (("OOD", f.get("ood")), ("uncertain", f.get("uncertain")),
                            ("untrained", f.get("untrained")), ("modality mismatch", f.get("modality_mismatch"))) if on]
    return ("flagged: " + ", ".join(bits)) if bits else "done"


def top_finding(summary: dict) -> str:
    """One line for the worklist: the positive findings (sigmoid outputs), else the most specific level's class."""
    outs = summary.get("outputs", [])
    levels = [lv for lv in dict.fromkeys(o["level"] for o in outs) if sum(o["level"] == lv for o in outs) > 1]
    if not levels:
        return ""
    if any(o.get("threshold") is not None for o in outs):
        pos = sorted((o for o in outs if o.get("positive")), key=lambda o: -(o["mc_mean"] or o["prob"]))
        return ", ".join(o["label"] for o in pos[:3]) + (f" +{len(pos) - 3}" if len(pos) > 3 else "") if pos else \
            "no positive finding"
    pred = summary.get("prediction") or {}
    lv = levels[-1]
    lab = pred.get(lv) or max((o for o in outs if o["level"] == lv), key=lambda o: o["prob"])["label"]
    p = next(o["prob"] for o in outs if o["level"] == lv and o["label"] == lab)
    return f"{lab} {p:.2f}"


# ---- widget values that survive page switches ---------------------------------------------------------------------
def keep(key: str, default=None) -> None:
    """Before a widget with ``key`` is created: restore its value from the shadow copy (or ``default``)."""
    ss = st.session_state
    if key not in ss:
        shadow = ss.get(f"_keep_{key}", default)
        if shadow is not None:
            ss[key] = shadow


def remember(*keys: str) -> None:
    """After the widgets are created: copy their values to the shadow copies."""
    ss = st.session_state
    for k in keys:
        if k in ss:
            ss[f"_keep_{k}"] = ss[k]
