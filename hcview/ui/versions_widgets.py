"""Model versions on the Models and Training pages: the list, a side-by-side comparison on the same validation
split, promotion with confirmation, rollback and restoring the shipped version."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from hcview.ui.common import cached_catalog, show_error


def short_id(job_id: str) -> str:
    """``20261201-223105-cihmlc-3f2a1c`` -> ``22:31:05 · 3f2a1c`` (the date and model are shown elsewhere)."""
    parts = str(job_id).split("-")
    if len(parts) >= 4 and len(parts[1]) == 6 and parts[1].isdigit():
        t = parts[1]
        return f"{t[:2]}:{t[2:4]}:{t[4:]} · {parts[-1]}"
    return str(job_id)


def _metrics_text(m: dict, n: int = 3) -> str:
    keys = [k for k, v in (m or {}).items() if isinstance(v, (int, float)) and not k.endswith("loss")][:n]
    return ", ".join(f"{k.removeprefix('val_').replace('_', ' ')} {m[k]:.3f}" for k in keys)


@st.cache_data(show_spinner="Scoring both versions on the same validation split…", max_entries=16)
def _compare(model_id: str, variant: str, candidate: int, active_sha: str | None) -> dict:
    from hcview.train.compare import compare_versions

    return compare_versions(model_id, variant, candidate)


def comparison_table(cmp: dict) -> pd.DataFrame:
    act, cand = cmp.get("active_metrics") or {}, cmp["candidate_metrics"]
    rows = []
    for k, v in cand.items():
        if k == "n_val" or not isinstance(v, (int, float)):
            continue
        a = act.get(k)
        rows.append({"metric": k, f"active (v{cmp['active_version']})": a, f"candidate (v{cmp['candidate_version']})": v,
                     "difference": None if a is None else v - a})
    return pd.DataFrame(rows)


def promote_section(model_id: str, variant: str, cand: int, active: dict | None, key: str) -> None:
    """Side by side on the candidate's validation split, then a confirmed promotion of version ``cand``."""
    from hcview.models import versions

    st.caption("Before a promotion the active and the candidate are scored side by side on the candidate's "
               "validation split.")
    if not st.toggle("Compare with the active version", key=f"{key}_cmp_{cand}"):
        return
    try:
        cmp = _compare(model_id, variant, int(cand), active and active["sha256"])
    except Exception as e:
        show_error(e)
        return
    table = comparison_table(cmp)
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in table.columns if c != "metric"})
    verdict = "better" if cmp["better"] else "not better"
    st.caption(f"{cmp['n_val']} validation cases of {cmp['data']}; on its selection metric "
               f"{cmp['metric']} the candidate is {verdict}.")
    ok = st.checkbox(f"I have compared them: make version {cand} the one every page and command uses",
                     key=f"{key}_ok_{cand}")
    if st.button(f"Promote version {cand}", type="primary", disabled=not ok, key=f"{key}_promote_{cand}"):
        try:
            versions.promote(model_id, variant, int(cand), {k: v for k, v in cmp.items() if not k.endswith("_metrics")})
            cached_catalog.clear()
            st.success(f"Version {cand} is active.")
            st.rerun(scope="app")
        except Exception as e:
            show_error(e)


def versions_panel(model_id: str, variant: str, key: str) -> None:
    """Everything about ``(model_id, variant)``'s versions; ``key`` keeps widgets of two pages apart."""
    from hcview.models import versions

    rows = versions.list_versions(model_id, variant)
    if not rows:
        st.info(f"{model_id}/{variant} has no trained version yet.")
        return
    st.dataframe(pd.DataFrame([{
        "version": r["version"], "active": "●" if r["active"] else "",
        "origin": "shipped" if r["shipped"] else (f"job {short_id(r['job_id'])}" if r["job_id"] else "run"),
        "created": r["created_at"], "data": r["data"], "validation": _metrics_text(r["val_metrics"]),
        "sha256": (r["sha256"] or "")[:10]} for r in rows]), hide_index=True, width="stretch", column_config={
            "version": st.column_config.NumberColumn(width=60), "active": st.column_config.TextColumn(width=50),
            "origin": st.column_config.TextColumn(
                width=140, help="shipped with the app, or the training job (its start time and id suffix)"),
            "created": st.column_config.TextColumn(width=150), "data": st.column_config.TextColumn(width=110),
            "validation": st.column_config.TextColumn(width=200, help="on the version's own validation split"),
            "sha256": st.column_config.TextColumn(width=90)})
    active = next((r for r in rows if r["active"]), None)
    others = [r["version"] for r in rows if not r["active"]]
    c1, c2 = st.columns([3, 2])
    with c1:
        if others:
            cand = st.selectbox("Candidate version", others, index=len(others) - 1, key=f"{key}_cand",
                                format_func=lambda v: f"version {v}")
            promote_section(model_id, variant, int(cand), active, key)
        else:
            st.caption("Only one version: nothing to promote.")
    with c2:
        st.markdown(f"**Active:** version {active['version'] if active else '-'}")
        if st.button("Roll back to the previous active version", key=f"{key}_rollback", disabled=len(rows) < 2,
                     help="back to the version that was active before the last promotion"):
            try:
                ptr = versions.rollback(model_id, variant)
                cached_catalog.clear()
                st.success(f"Version {ptr['version']} is active again.")
                st.rerun()
            except Exception as e:
                show_error(e)
        if rows[0]["shipped"] and not rows[0]["active"]:
            if st.button("Restore the shipped version", key=f"{key}_restore"):
                try:
                    versions.restore_shipped(model_id, variant)
                    cached_catalog.clear()
                    st.rerun()
                except Exception as e:
                    show_error(e)
