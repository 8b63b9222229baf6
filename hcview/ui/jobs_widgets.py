"""Training-page widgets: launch form, job list with live progress, cancel, demo bootstrap.

All work goes through :mod:`hcview.jobs` (no torch here); the live panel is an ``st.fragment`` that
re-runs every few seconds, and every refresh reconciles the job store (dead jobs -> interrupted,
queued jobs started)."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from hcview.ui.common import show_error

FINAL = ("succeeded", "failed", "cancelled", "interrupted")
STATUS_ICON = {"queued": "⏳", "running": "🏃", "succeeded": "✅", "failed": "❌", "cancelled": "🛑", "interrupted": "⚡"}


def _fmt_eta(s) -> str:
    if s is None:
        return "-"
    s = int(max(0, s))
    return f"{s // 60}m {s % 60:02d}s"


def launch_form(model_ids: list[str], default_data: dict[tuple[str, str], str]) -> None:
    """Model, variant, data spec, epochs, max steps -> a background job."""
    with st.form("launch_training"):
        c1, c2, c3 = st.columns([2, 1, 3])
        model = c1.selectbox("Model", model_ids)
        variant = c2.radio("Variant", ["demo", "paper"], horizontal=True)
        data = c3.text_input("Data spec (empty = the variant's default)", "",
                             help="sample:nih, sample:brain-mri, sample:nodules, sample:phantoms, or ADAPTER:/path "
                                  "(chexpert, nih, jsrt, mri, folder, csv)")
        c4, c5, c6 = st.columns(3)
        epochs = c4.number_input("Epochs (0 = paper/variant default)", 0, 500, 0)
        max_steps = c5.number_input("Max steps (0 = no limit)", 0, 1_000_000, 0)
        batch = c6.number_input("Batch size (0 = default)", 0, 1024, 0)
        hb1, hb2 = st.columns(2)
        hbce_mode = hb1.selectbox("HBCE mode (CIHMLC)", ["(default)", "data", "fixed"])
        hbce_ind = hb2.selectbox("HBCE indicator (CIHMLC)", ["(default)", "faithful", "surrogate"],
                                 help="faithful = the authors' constant indicator (no gradient: trains like BCE); "
                                      "surrogate = differentiable w * relu(p_child - p_parent)")
        st.caption(f"Default data for this choice: {default_data.get((model, variant), '?')}")
        if st.form_submit_button("Start training job", type="primary"):
            from hcview.jobs.runner import submit_training

            try:
                job = submit_training(model, variant, data=data.strip() or None, epochs=int(epochs) or None,
                                      max_steps=int(max_steps) or None, batch_size=int(batch) or None,
                                      hbce_mode=None if hbce_mode.startswith("(") else hbce_mode,
                                      hbce_indicator=None if hbce_ind.startswith("(") else hbce_ind)
                st.success(f"Job {job['id']} {job['status']}.")
            except Exception as e:
                show_error(e)


def bootstrap_button() -> None:
    from hcview.jobs.bootstrap import demo_status, submit_demo_jobs

    rows = demo_status()
    missing = [r["model"] for r in rows if not r["checkpoint"]]
    cols = st.columns(len(rows))
    for col, r in zip(cols, rows):
        j = r["job"]
        state = "trained" if r["checkpoint"] else (j["status"] if j else "not trained")
        col.metric(r["model"], state)
    label = "Train missing demo models in the background" if missing else "Retrain all demo models"
    if st.button(label, help="One background job per model on the bundled sample pack; each model is usable "
                             "as soon as its own job finishes."):
        try:
            jobs = submit_demo_jobs(None, only_missing=bool(missing))
            st.success(f"{len(jobs)} demo job(s) queued or running.")
        except Exception as e:
            show_error(e)


def _epoch_chart(ep: pd.DataFrame, cols: list[str]):
    """Per-epoch lines with points, so the first epoch (a single point) is already visible; integer epochs."""
    import altair as alt

    long = ep[cols].reset_index().melt("epoch", var_name="series", value_name="value").dropna()
    long["epoch"] = long["epoch"].astype(int) + 1
    return (alt.Chart(long).mark_line(point=True)
            .encode(x=alt.X("epoch:Q", axis=alt.Axis(format="d", tickMinStep=1)), y="value:Q", color="series:N",
                    tooltip=["epoch", "series", alt.Tooltip("value:Q", format=".4f")])
            .properties(height=200))


def job_detail(job: dict) -> None:
    from hcview.jobs.runner import cancel, log_tail, progress_series

    v = job
    prog = v.get("progress") or {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", f"{STATUS_ICON.get(v['status'], '')} {v['status']}")
    step, total = prog.get("step"), prog.get("total_steps")
    c2.metric("Step", f"{step or 0}/{total or '?'}")
    c3.metric("ETA", _fmt_eta(prog.get("eta_s")) if v["status"] == "running" else "-")
    c4.metric("Epoch", (prog.get("epoch") or 0) + 1 if prog else "-")
    if total:
        st.progress(min(1.0, (step or 0) / total))
    if v.get("error"):
        st.error(v["error"])
    res = v.get("result") or {}
    if v["status"] == "succeeded" and res.get("version"):
        cmp = res.get("comparison")
        how = (" and promoted: it beat the active version on " + cmp["metric"]) if res.get("promoted") else \
            " (not active: compare and promote it under Model versions)"
        st.success(f"Added as version {res['version']} of {v['model']}/{v['variant']}{how}.")
    series = progress_series({"progress_path": v.get("progress_file")})
    if series["steps"]:
        df = pd.DataFrame(series["steps"]).set_index("step")
        st.caption("Training loss per step")
        st.line_chart(df[["loss"]], height=200)
    if series["epochs"]:
        ep = pd.DataFrame(series["epochs"]).set_index("epoch")
        metric_cols = [c for c in ep.columns if c.startswith("val_") and c != "val_loss"]
        lc, rc = st.columns(2)
        with lc:
            st.caption("Loss per epoch (train / validation)")
            st.altair_chart(_epoch_chart(ep, [c for c in ("train_loss", "val_loss") if c in ep.columns]))
        with rc:
            if metric_cols:
                st.caption("Validation metrics per epoch")
                st.altair_chart(_epoch_chart(ep, metric_cols))
    if v["status"] in ("queued", "running") and st.button("Cancel job", key=f"cancel-{v['id']}"):
        try:
            cancel(v["id"])
            st.info("Cancel requested: training stops at the next step.")
        except Exception as e:
            show_error(e)
    with st.expander("Log (last 40 lines)"):
        st.code(log_tail({"log_path": v.get("log")}, 40) or "(empty)", language=None)


def jobs_panel(refresh_s: float = 3.0) -> None:
    """The live list of jobs; re-runs itself every ``refresh_s`` seconds."""

    @st.fragment(run_every=refresh_s)
    def _panel():
        from hcview.jobs.runner import job_view, reconcile
        from hcview.jobs.store import JobStore

        try:
            store = JobStore()
            reconcile(store)
            jobs = [job_view(j) for j in store.list(limit=50)]
        except Exception as e:
            show_error(e)
            return
        if not jobs:
            st.info("No jobs yet.")
            return
        table = pd.DataFrame([{
            "job": j["id"], "status": f"{STATUS_ICON.get(j['status'], '')} {j['status']}", "model": j["model"],
            "variant": j["variant"],
            "step": f"{(j['progress'] or {}).get('step', 0)}/{(j['progress'] or {}).get('total_steps', '?')}",
            "loss": (j["progress"] or {}).get("loss"),
            "ETA": _fmt_eta((j["progress"] or {}).get("eta_s")) if j["status"] == "running" else "",
            "started": time.strftime("%H:%M:%S", time.localtime(j["started"])) if j["started"] else "",
        } for j in jobs])
        st.dataframe(table, hide_index=True, use_container_width=True)
        ids = [j["id"] for j in jobs]
        default = next((i for i, j in enumerate(jobs) if j["status"] == "running"), 0)
        chosen = st.selectbox("Job", ids, index=default, key="job_pick")
        job_detail(next(j for j in jobs if j["id"] == chosen))

    _panel()


@st.cache_resource(show_spinner=False)
def recover_jobs_once() -> list:
    """Crash recovery when the app starts (call it from app.py): running jobs whose process is gone
    become ``interrupted``, queued jobs start if a slot is free. Cached: once per server process."""
    from hcview.jobs.runner import reconcile

    try:
        return reconcile()
    except Exception:  # never block the app on the job store
        return []
