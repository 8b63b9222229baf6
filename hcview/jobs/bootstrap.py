"""Demo bootstrap: train the demo variant of every model on the bundled sample pack and register it.

``python -m hcview demo`` does it in the foreground; :func:`submit_demo_jobs` (called by the app when
no checkpoint exists) queues one background job per model, so each model becomes usable as soon as
its own job finishes. The data each model trains on is its demo variant's ``data`` spec:
hcnet -> sample:brain-mri, cihmlc -> sample:nih, medfusionnet -> sample:nih (+ age/sex/view metadata),
resmtnet -> sample:nodules.
"""
from __future__ import annotations

DEMO_ORDER = ("cihmlc", "medfusionnet", "hcnet", "resmtnet")  # quickest first: something usable early


def demo_models(models: list[str] | None = None) -> list[str]:
    from hcview.errors import InputError
    from hcview.models.cards import model_ids

    known = model_ids()  # the registry's ids without importing torch (the Overview page lists them)
    if not models:
        return [m for m in DEMO_ORDER if m in known] + [m for m in known if m not in DEMO_ORDER]
    bad = [m for m in models if m not in known]
    if bad:
        raise InputError(f"unknown model(s) {', '.join(bad)} (choose from {', '.join(known)})")
    return list(models)


def submit_demo_jobs(models: list[str] | None = None, only_missing: bool = True, store=None) -> list[dict]:
    """Queue one demo training job per model (skipping models that already have a registered demo
    checkpoint, or an active demo job, when ``only_missing``). Returns the jobs (new or already active)."""
    from hcview.jobs.runner import reconcile, submit_train
    from hcview.jobs.store import JobStore
    from hcview.models.checkpoint import find_checkpoint
    from hcview.models.registry import get_spec

    store = store or JobStore()
    reconcile(store)
    active = {j["model"]: j for j in store.list() if j["status"] in ("queued", "running") and j.get("variant") == "demo"}
    jobs = []
    for m in demo_models(models):
        if only_missing and find_checkpoint(m, "demo") is not None:
            continue
        if m in active:
            jobs.append(active[m])
            continue
        # a demo job becomes active only if it beats the active version (or there is none) on its selection metric
        select = get_spec(m).train_defaults.get("select", "val_loss")
        jobs.append(submit_train(["--model", m, "--variant", "demo", "--promote-if-better", select], m, "demo",
                                 config={"demo": True}, store=store))
    return jobs


def demo_status(store=None) -> list[dict]:
    """Per model: registered checkpoint or not, and the newest demo job (for the Overview/Training pages)."""
    from hcview.jobs.runner import job_view, reconcile
    from hcview.jobs.store import JobStore
    from hcview.models.cards import find_checkpoint

    store = store or JobStore()
    reconcile(store)
    jobs = store.list()
    out = []
    for m in demo_models():
        j = next((j for j in jobs if j["model"] == m and j.get("variant") == "demo"), None)
        out.append({"model": m, "checkpoint": str(find_checkpoint(m, "demo") or "") or None,
                    "job": job_view(j) if j else None})
    return out
