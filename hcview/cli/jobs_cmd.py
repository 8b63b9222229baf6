"""``python -m hcview jobs submit|list|show|cancel|logs|wait``: background training jobs.

Every command first reconciles the store (dead jobs -> interrupted, queued jobs started when a
slot is free), so the CLI itself is the recovery path after a crash.
"""
from __future__ import annotations

import json
import sys
import time


def register(sub):
    from hcview.cli.train_cmd import add_train_args

    p = sub.add_parser("jobs", help="background jobs (training)")
    jsub = p.add_subparsers(dest="jobs_command", metavar="ACTION")
    jsub.required = True

    s = jsub.add_parser("submit", help="start a training job in the background")
    add_train_args(s)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_submit)

    ls = jsub.add_parser("list", help="list jobs")
    ls.add_argument("--status", default=None)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    sh = jsub.add_parser("show", help="one job: status, pid, last progress line, log, checkpoint")
    sh.add_argument("id")
    sh.add_argument("--json", action="store_true")
    sh.set_defaults(func=run_show)

    c = jsub.add_parser("cancel", help="cancel a queued or running job (SIGTERM; stops at the next step)")
    c.add_argument("id")
    c.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the job to stop")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_cancel)

    lg = jsub.add_parser("logs", help="print a job's log")
    lg.add_argument("id")
    lg.add_argument("-n", "--lines", type=int, default=100)
    lg.set_defaults(func=run_logs)

    w = jsub.add_parser("wait", help="wait until a job ends; exit 0 if it succeeded")
    w.add_argument("id")
    w.add_argument("--timeout", type=float, default=3600)
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=run_wait)


def _print(obj, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, indent=2, default=str))
    else:
        for k, v in obj.items():
            print(f"{k:<14}{v}")


def run_submit(args) -> int:
    from hcview.cli.train_cmd import config_from_args, train_argv
    from hcview.jobs.runner import submit_train

    cfg = config_from_args(args)  # validate flags now: a bad flag fails here, not in the background
    argv = train_argv(args, out=None, progress=None, drop_job=True, with_nproc=True)[1:]
    job = submit_train(argv, args.model, args.variant, config={k: v for k, v in vars(args).items()
                                                                if k not in ("func", "json", "jobs_command", "command")})
    if args.json:
        print(json.dumps({"id": job["id"], "status": job["status"], "config": cfg}, default=str))
    else:
        print(f"submitted {job['id']} ({job['status']}); follow with: python -m hcview jobs show {job['id']}")
    return 0


def run_list(args) -> int:
    from hcview.jobs.runner import job_view, reconcile
    from hcview.jobs.store import JobStore

    store = JobStore()
    reconcile(store)
    rows = [job_view(j) for j in store.list(status=args.status)]
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'id':<44}{'status':<12}{'model':<14}{'progress':<22}")
    for r in rows:
        pr = r["progress"] or {}
        prog = f"step {pr.get('step', '-')}/{pr.get('total_steps', '-')}" if pr else ""
        print(f"{r['id']:<44}{r['status']:<12}{(r['model'] or ''):<14}{prog:<22}")
    return 0


def run_show(args) -> int:
    from hcview.jobs.runner import job_view, reconcile
    from hcview.jobs.store import JobStore

    store = JobStore()
    reconcile(store)
    _print(job_view(store.get(args.id)), args.json)
    return 0


def run_cancel(args) -> int:
    from hcview.jobs.runner import cancel, job_view, reconcile
    from hcview.jobs.store import JobStore

    store = JobStore()
    reconcile(store)
    job = cancel(args.id, store, wait_s=args.wait)
    v = job_view(job)
    if args.json:
        print(json.dumps(v, indent=2, default=str))
    else:
        print(f"{v['id']}: {v['status']}" + (" (cancel requested)" if v["status"] == "running" else ""))
    return 0


def run_logs(args) -> int:
    from hcview.jobs.runner import log_tail, reconcile
    from hcview.jobs.store import JobStore

    store = JobStore()
    reconcile(store)
    print(log_tail(store.get(args.id), args.lines))
    return 0


def run_wait(args) -> int:
    from hcview.jobs.runner import job_view, wait

    t = time.time()
    job = wait(args.id, args.timeout)
    v = job_view(job)
    if args.json:
        print(json.dumps(v, indent=2, default=str))
    else:
        print(f"{v['id']}: {v['status']} after {time.time() - t:.0f}s" + (f" ({v['error']})" if v.get("error") else ""),
              file=sys.stderr if v["status"] != "succeeded" else sys.stdout)
    return 0 if job["status"] == "succeeded" else 1
