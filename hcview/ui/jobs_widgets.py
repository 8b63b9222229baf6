"""Training-page widgets: launch form, job rows with their own actions, the selected job's live detail, demo
bootstrap.

All work goes through :mod:`hcview.jobs` (no torch here). The job list is an ``st.fragment`` that re-runs every
``refresh_s`` seconds while a job is queued or running (and not at all otherwise); every refresh reconciles the
job store (dead jobs -> interrupted, queued jobs started). The detail panel follows the job selected in
``st.session_state[SELECTED]``: the job just submitted, else the one whose row was clicked, else the running one.
"""
from __future__ import annotations


import pandas as pd
import streamlit as st

from hcview.ui.common import cached_catalog, show_error
from hcview.ui.versions_widgets import short_id

FINAL = ("succeeded", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
# status -> (badge colour, material icon)
STATUS_BADGE = {"queued": ("gray", ":material/schedule:"), "running": ("blue", ":material/autorenew:"),
                "succeeded": ("green", ":material/check_circle:"), "failed": ("red", ":material/error:"),
                "cancelled": ("orange", ":material/cancel:"), "interrupted": ("violet", ":material/bolt:")}
SELECTED = "train_selected_job"
PROMOTE = "train_promote_job"
ROWS = 8


def _fmt_duration(s) -> str:
    if s is None:
        return "-"
    s = int(max(0, s))
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s"


def step_text(job: dict) -> str:
    """``12/40``; without a known total ``12 steps``; before the first step ``-``."""
    prog = job.get("progress") or {}
    step, total = prog.get("step"), prog.get("total_steps")
    if step is None:
        return "-"
    return f"{step}/{total}" if total else f"{step} steps"


def loss_text(job: dict) -> str:
    loss = (job.get("progress") or {}).get("loss")
    return "-" if loss is None else f"{loss:.4f}"


def time_text(job: dict) -> str:
    """ETA while running, the run time once ended, the wait while queued."""
    prog = job.get("progress") or {}
    if job["status"] == "running":
        eta = prog.get("eta_s")
        return f"ETA {_fmt_duration(eta)}" if eta is not None else "starting"
    if job["status"] == "queued":
        return "waiting"
    if job.get("started") and job.get("finished"):
        return f"took {_fmt_duration(job['finished'] - job['started'])}"
    return "-"


# ---- launch form -----------------------------------------------------------------------------------------------
def _defaults(model: str, variant: str) -> dict:
    """The configuration a job gets without overrides (paper defaults <- variant), even for a paper variant whose
    data placeholder still needs a path."""
    from hcview.models import get_spec
    from hcview.train.config import BASE

    spec = get_spec(model)
    v = spec.variant(variant)
    return {**BASE, **spec.train_defaults, **v.train, "data": v.data}


def _loss_doc(model: str) -> str:
    from hcview.models import get_spec

    doc = (get_spec(model).loss.__doc__ or "").strip().split("\n\n")[0]
    return " ".join(doc.split())


def launch_form() -> None:
    """Model and variant (outside the form, so the loss options follow the model), then data, schedule and the
    loss options the trainer and ``python -m hcview train`` accept for that model -> a background job."""
    from hcview.models import get_spec

    rows = cached_catalog()
    ids = list(dict.fromkeys(r["id"] for r in rows))
    names = {r["id"]: r["name"] for r in rows}
    c1, c2 = st.columns([2, 1])
    model = c1.selectbox("Model", ids, format_func=lambda i: names.get(i, i), key="tr_new_model")
    variant = c2.radio("Variant", ["demo", "paper"], horizontal=True, key="tr_new_variant",
                       help="demo: sized for a CPU, trains on the bundled sample pack; paper: the paper's exact "
                            "configuration, needs your copy of the dataset")
    d = _defaults(model, variant)
    needs_path = str(d["data"]).endswith("PATH")
    with st.form("launch_training"):
        data = st.text_input("Data", "", placeholder=f"default: {d['data']}",
                             help="empty = the variant's default. sample:nih, sample:brain-mri, sample:nodules, "
                                  "sample:phantoms, or ADAPTER:/path (chexpert, nih, jsrt, mri, folder, csv)")
        c3, c4, c5, c6 = st.columns(4)
        epochs = c3.number_input("Epochs", 1, 500, int(d["epochs"]))
        max_steps = c4.number_input("Max steps (0 = no limit)", 0, 1_000_000, int(d.get("max_steps") or 0),
                                    help="stop after this many optimiser steps: a quick smoke run")
        batch = c5.number_input("Batch size", 1, 1024, int(d["batch_size"]))
        lr = c6.number_input("Learning rate", 1e-7, 10.0, float(d["lr"]), format="%.0e", step=1e-5)
        doc = _loss_doc(model)
        st.markdown(f"**Loss** · {doc}")
        if "class-weighted" in doc.lower():
            st.caption("The class weights are part of this paper's loss and always on: the train command has no "
                       "switch for them.")
        hb = {}
        if d.get("loss") == "hbce":
            h1, h2, h3 = st.columns(3)
            hb["hbce_mode"] = h1.selectbox(
                "HBCE edge weights", ["data", "fixed"], index=["data", "fixed"].index(d["hbce_mode"]),
                format_func={"data": "data-driven", "fixed": f"fixed (beta {d.get('hbce_beta', 1.0)})"}.get,
                help="data-driven: each parent-child edge weighted from the training split's label counts; fixed: "
                     "every edge weighs beta")
            hb["hbce_indicator"] = h2.selectbox(
                "HBCE indicator", ["faithful", "surrogate"], index=["faithful", "surrogate"].index(d["hbce_indicator"]),
                format_func={"faithful": "faithful (no gradient)", "surrogate": "surrogate (differentiable)"}.get,
                help="faithful = the authors' constant indicator: the penalty passes no gradient, so training is "
                     "plain BCE; surrogate = w * relu(p_child - p_parent), which does push parents above children")
            hb["hbce_lambda"] = h3.number_input("HBCE lambda (penalty weight)", 0.0, 100.0, float(d["hbce_lambda"]),
                                                step=0.1, format="%.2f")
        curriculum = None
        if "curriculum" in get_spec(model).train_defaults:
            curriculum = st.checkbox("Curriculum: balanced batches first, the natural class mix later",
                                     value=bool(d.get("curriculum")))
        if needs_path:
            st.caption(f"The {variant} variant needs your dataset: give Data as {d['data'].replace('PATH', '/path')}.")
        submitted = st.form_submit_button("Start training job", type="primary")
    if not submitted:
        return
    from hcview.jobs.runner import submit_training

    try:
        job = submit_training(model, variant, data=data.strip() or None, epochs=int(epochs),
                              max_steps=int(max_steps) or None, batch_size=int(batch), lr=float(lr),
                              curriculum=curriculum, **hb)
    except Exception as e:
        show_error(e)
        return
    st.session_state[SELECTED] = job["id"]
    st.session_state.pop(PROMOTE, None)
    st.success(f"Job {short_id(job['id'])} ({names.get(model, model)} · {variant}) is {job['status']}: "
               "its progress is shown under Jobs.", icon=":material/rocket_launch:")


# ---- demo bootstrap --------------------------------------------------------------------------------------------
def bootstrap_button(key: str = "bootstrap") -> None:
    """Which demo models are trained; train the missing ones, or (after a confirmation) retrain all of them."""
    from hcview.jobs.bootstrap import demo_status, submit_demo_jobs

    rows = demo_status()
    names = {r["id"]: r["name"] for r in cached_catalog()}
    missing = [r["model"] for r in rows if not r["checkpoint"]]
    parts = []
    for r in rows:
        j = r["job"]
        state = j["status"] if j and j["status"] in ACTIVE else ("trained" if r["checkpoint"] else "not trained")
        parts.append(f"{names.get(r['model'], r['model'])}: **{state}**")
    st.markdown(" · ".join(parts))

    def _submit(only_missing: bool) -> None:
        try:
            jobs = submit_demo_jobs(None, only_missing=only_missing)
            if jobs:
                st.session_state[SELECTED] = jobs[0]["id"]
            st.success(f"{len(jobs)} demo job(s) queued or running: follow them on the Training page.",
                       icon=":material/rocket_launch:")
        except Exception as e:
            show_error(e)

    if missing:
        if st.button(f"Train the {len(missing)} missing demo model(s) in the background", key=f"{key}_missing",
                     type="primary", help="One background job per model on the bundled sample pack; each model is "
                                          "usable as soon as its own job finishes."):
            _submit(True)
        return
    with st.popover("Retrain all demo models", icon=":material/restart_alt:"):
        st.markdown(f"This queues **{len(rows)} background training jobs**, one per demo model, on the bundled "
                    "sample pack (about 7 minutes in all on a 2-core CPU, one job at a time).")
        st.markdown("Each job **adds a new version**; it becomes the version every page uses **only if it beats the "
                    "active one** on the model's selection metric on the same validation split. Otherwise the "
                    "current models stay as they are, and you can compare and promote under Model versions.")
        if st.button("Yes, queue the retraining jobs", key=f"{key}_retrain", type="primary"):
            _submit(False)


# ---- job list and detail ---------------------------------------------------------------------------------------
def _epoch_chart(ep: pd.DataFrame, cols: list[str]):
    """Per-epoch lines with points, so the first epoch (a single point) is already visible; integer epochs."""
    import altair as alt

    long = ep[cols].reset_index().melt("epoch", var_name="series", value_name="value").dropna()
    long["epoch"] = long["epoch"].astype(int) + 1
    return (alt.Chart(long).mark_line(point=True)
            .encode(x=alt.X("epoch:Q", axis=alt.Axis(format="d", tickMinStep=1)), y="value:Q",
                    color=alt.Color("series:N", legend=alt.Legend(orient="bottom", title=None)),
                    tooltip=["epoch", "series", alt.Tooltip("value:Q", format=".4f")])
            .properties(height=220))


def _step_chart(steps: pd.DataFrame):
    """Loss per optimiser step; points while there are few, so the first step is visible; integer steps."""
    import altair as alt

    df = steps[["step", "loss"]].dropna()
    return (alt.Chart(df).mark_line(point=len(df) <= 30)
            .encode(x=alt.X("step:Q", axis=alt.Axis(format="d", tickMinStep=1)), y=alt.Y("loss:Q"),
                    tooltip=["step", alt.Tooltip("loss:Q", format=".4f")])
            .properties(height=220))


def _promotable(job: dict, active: dict[tuple[str, str], int | None]) -> int | None:
    """The version a succeeded job added, when it is not the active one."""
    v = (job.get("result") or {}).get("version")
    if job["status"] != "succeeded" or not v:
        return None
    return None if active.get((job["model"], job["variant"])) == v else int(v)


def _cancel(job_id: str) -> None:
    from hcview.jobs.runner import cancel

    try:
        j = cancel(job_id)
        st.toast("Cancelled before it started." if j["status"] == "cancelled" else
                 "Cancel requested: training stops after the current step.", icon=":material/cancel:")
    except Exception as e:
        show_error(e)


def job_row(job: dict, names: dict, promotable: int | None, selected: bool) -> None:
    cols = st.columns([1.35, 2.3, 1.0, 1.0, 1.3, 0.85, 1.5], vertical_alignment="center")
    colour, icon = STATUS_BADGE.get(job["status"], ("gray", None))
    with cols[0]:
        st.badge(job["status"], color=colour, icon=icon)
    cols[1].markdown(f"**{names.get(job['model'], job['model'])}** · {job['variant']}  \n"
                     f":gray[{short_id(job['id'])}]")
    cols[2].markdown(f"step  \n**{step_text(job)}**")
    cols[3].markdown(f"loss  \n**{loss_text(job)}**")
    cols[4].markdown(f":gray[{time_text(job)}]")
    if cols[5].button("Shown" if selected else "Show", key=f"show_{job['id']}", type="tertiary",
                      disabled=selected, help="show this job's progress, curves and log below"):
        st.session_state[SELECTED] = job["id"]
        st.session_state.pop(PROMOTE, None)
        st.rerun(scope="fragment")
    if job["status"] in ACTIVE:
        if cols[6].button("Cancel", key=f"cancel_{job['id']}", icon=":material/stop_circle:"):
            _cancel(job["id"])
            st.session_state[SELECTED] = job["id"]
            st.rerun(scope="fragment")
    elif promotable:
        if cols[6].button(f"Promote v{promotable}", key=f"promote_{job['id']}",
                          help="compare this job's version with the active one, then make it active"):
            st.session_state[SELECTED] = job["id"]
            st.session_state[PROMOTE] = job["id"]
            st.rerun(scope="fragment")


def job_detail(job: dict, names: dict, promotable: int | None, active_rows: dict) -> None:
    from hcview.jobs.runner import log_tail, progress_series
    from hcview.ui.versions_widgets import promote_section

    prog = job.get("progress") or {}
    h1, h2 = st.columns([5, 1], vertical_alignment="center")
    h1.markdown(f"#### {names.get(job['model'], job['model'])} · {job['variant']} · job {short_id(job['id'])}")
    colour, icon = STATUS_BADGE.get(job["status"], ("gray", None))
    with h2:
        st.badge(job["status"], color=colour, icon=icon)
    c2, c3, c4, c5 = st.columns(4)
    c2.metric("Step", step_text(job))
    c3.metric("Loss (last step)", loss_text(job))
    c4.metric("Epoch", (prog.get("epoch") or 0) + 1 if prog.get("step") is not None else "-")
    c5.metric("ETA" if job["status"] == "running" else "Run time",
              time_text(job).removeprefix("ETA ").removeprefix("took "))
    total = prog.get("total_steps")
    if total and job["status"] in ACTIVE:
        st.progress(min(1.0, (prog.get("step") or 0) / total))
    if job["status"] == "cancelled":
        st.info(f"Cancelled at step {step_text(job)}" + (f" (loss {loss_text(job)})" if prog.get("loss") is not None
                                                        else "") + ". Cancelled jobs add no model version.",
                icon=":material/cancel:")
    elif job.get("error"):
        st.error(job["error"], icon=":material/error:")
    res = job.get("result") or {}
    if job["status"] == "succeeded" and res.get("version"):
        cmp = res.get("comparison")
        if res.get("promoted"):
            st.success(f"Added as version {res['version']} and made active: it beat the active version on "
                       f"{cmp['metric']}.", icon=":material/check_circle:")
        elif promotable:
            st.info(f"Added as version {res['version']}, not active: every page still uses the active version "
                    "until you promote this one.", icon=":material/info:")
        else:
            st.success(f"Added as version {res['version']} (active).", icon=":material/check_circle:")
    if promotable and st.session_state.get(PROMOTE) == job["id"]:
        with st.container(border=True):
            st.markdown(f"**Promote version {promotable} of {job['model']}/{job['variant']}**")
            promote_section(job["model"], job["variant"], promotable, active_rows.get((job["model"], job["variant"])),
                            key=f"job_{job['id']}")
    series = progress_series({"progress_path": job.get("progress_file")})
    lc, rc = st.columns(2)
    with lc:
        if series["steps"]:
            st.caption("Training loss per step")
            st.altair_chart(_step_chart(pd.DataFrame(series["steps"])), width="stretch")
        else:
            st.caption("Training loss per step: no step yet.")
    with rc:
        if series["epochs"]:
            ep = pd.DataFrame(series["epochs"]).set_index("epoch")
            metric_cols = [c for c in ep.columns if c.startswith("val_") and c != "val_loss"
                           and pd.api.types.is_numeric_dtype(ep[c])]
            loss_cols = [c for c in ("train_loss", "val_loss") if c in ep.columns]
            st.caption("Per epoch: loss (train / validation) and validation metrics")
            st.altair_chart(_epoch_chart(ep, loss_cols + metric_cols[:4]), width="stretch")
        else:
            st.caption("Per-epoch validation: after the first epoch.")
    if job.get("argv"):
        st.caption("Command")
        st.code(" ".join(["python -m hcview", *map(str, job["argv"])]), language="bash", wrap_lines=True)
    with st.expander("Log (last 40 lines)"):
        st.code(log_tail({"log_path": job.get("log")}, 40) or "(empty)", language=None)


def jobs_panel(refresh_s: float = 2.0) -> None:
    """Job rows with their own actions, then the selected job in detail; live while any job is queued or running."""
    from hcview.jobs.store import JobStore

    try:
        any_active = any(j["status"] in ACTIVE for j in JobStore().list(limit=50))
    except Exception as e:
        show_error(e)
        return

    @st.fragment(run_every=refresh_s if any_active else None)
    def _panel():
        from hcview.jobs.runner import job_view, reconcile
        from hcview.models import versions

        try:
            store = JobStore()
            reconcile(store)
            jobs = [job_view(j) for j in store.list(limit=50)]
        except Exception as e:
            show_error(e)
            return
        if any_active and not any(j["status"] in ACTIVE for j in jobs):
            cached_catalog.clear()  # a job ended: versions and the sidebar change, and polling can stop
            st.rerun(scope="app")
        if not jobs:
            st.info("No jobs yet: start one above.", icon=":material/info:")
            return
        names = {r["id"]: r["name"] for r in cached_catalog()}
        pairs = {(j["model"], j["variant"]) for j in jobs if j["status"] == "succeeded"}
        active_rows = {}
        for m, v in pairs:
            try:
                active_rows[(m, v)] = next((r for r in versions.list_versions(m, v) if r["active"]), None)
            except Exception:
                active_rows[(m, v)] = None
        active = {k: (r["version"] if r else None) for k, r in active_rows.items()}
        ids = [j["id"] for j in jobs]
        sel = st.session_state.get(SELECTED)
        if sel not in ids:
            sel = next((j["id"] for j in jobs if j["status"] == "running"), ids[0])
        shown = jobs[:ROWS]
        if sel not in [j["id"] for j in shown]:
            shown = shown[:-1] + [next(j for j in jobs if j["id"] == sel)]
        with st.container(border=True, gap="small"):
            for j in shown:
                job_row(j, names, _promotable(j, active), j["id"] == sel)
        older = [j for j in jobs if j not in shown]
        if older:
            with st.expander(f"{len(older)} older job(s)"):
                st.dataframe(pd.DataFrame([{"job": j["id"], "status": j["status"], "model": j["model"],
                                            "variant": j["variant"], "step": step_text(j), "loss": loss_text(j),
                                            "time": time_text(j)} for j in older]), hide_index=True, width="stretch")
        job = next(j for j in jobs if j["id"] == sel)
        job_detail(job, names, _promotable(job, active), active_rows)

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
