"""``python -m hcview demo [--models a,b] [--json] [--background]``: train and register the demo
variant of each model on the bundled sample pack (foreground by default; ``--background`` queues jobs)."""
from __future__ import annotations

import json
import sys
import time


def register(sub):
    p = sub.add_parser("demo", help="train + register the demo models on the sample pack")
    p.add_argument("--models", default=None, help="comma-separated ids (default: all four)")
    p.add_argument("--device", default=None)
    p.add_argument("--background", action="store_true", help="queue background jobs instead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from hcview.jobs.bootstrap import demo_models, submit_demo_jobs

    models = demo_models([m.strip() for m in args.models.split(",") if m.strip()] if args.models else None)
    if args.background:
        jobs = submit_demo_jobs(models, only_missing=False)
        out = [{"model": j["model"], "id": j["id"], "status": j["status"]} for j in jobs]
        print(json.dumps(out, indent=2) if args.json else "\n".join(f"{o['model']}: job {o['id']} ({o['status']})" for o in out))
        return 0

    from hcview.train.config import default_out_dir, resolve_config
    from hcview.train.trainer import train

    from hcview.models import versions
    from hcview.train.postfit import apply_post
    from hcview.train.trainer import cpu_threads, register_checkpoint

    t0 = time.time()
    threads = cpu_threads("auto")  # decided once, before our own load counts in the load average
    print(f"demo: {len(models)} model(s), {threads} CPU thread(s) (load average {_load():.1f})", file=sys.stderr)
    rows = []
    for m in models:
        t = time.time()
        print(f"== {m} (demo) ==", file=sys.stderr, flush=True)
        cfg = resolve_config(m, "demo", device=args.device, threads=threads)
        res = train(cfg, default_out_dir(m, "demo"), show_bar=not args.json)
        post = apply_post(res["checkpoint"], cfg["data"])  # the OOD gate and operating points, then ship it
        shipped = register_checkpoint(res["checkpoint"], versions.shipped_path(m, "demo"))
        rows.append({"model": m, "data": cfg["data"], "seconds": round(time.time() - t, 1), "steps": res["steps"],
                     "checkpoint": str(shipped), "test": res.get("test"), "ood": post["ood"].get("separation")})
    total = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps({"total_seconds": total, "threads": threads, "models": rows}, indent=2, default=str))
    else:
        for r in rows:
            tm = {k: v for k, v in (r["test"] or {}).items() if k.startswith("test_") and isinstance(v, float)}
            print(f"{r['model']:<13}{r['seconds']:>7.1f}s  {r['data']:<18} " + " ".join(f"{k[5:]}={v:.3f}" for k, v in tm.items()))
        print(f"total {total:.1f}s")
    return 0


def _load() -> float:
    import os

    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0
