"""``python -m hcview train --model ID --variant paper|demo --data SPEC [...]``: train in the foreground.

With ``--nproc N`` (N > 1) the same command re-runs under torchrun with DDP. With ``--job-id`` (set by
``jobs submit``) the process reports its status into the job store: running -> succeeded / failed /
cancelled; SIGTERM stops training at the next step (cancel).
"""
from __future__ import annotations

import json
from pathlib import Path
import signal
import sys


def add_train_args(p) -> None:
    from hcview.cli import argtypes as A

    p.add_argument("--model", required=True, help="registry id (hcnet, cihmlc, medfusionnet, resmtnet)")
    p.add_argument("--variant", default="demo", choices=["paper", "demo"])
    p.add_argument("--data", default=None, help="data spec (default: the variant's)")
    p.add_argument("--epochs", type=A.int_range(1, 100_000))
    p.add_argument("--max-steps", type=A.positive_int, help="stop after N optimiser steps (smoke runs)")
    p.add_argument("--batch-size", type=A.int_range(1, 65536))
    p.add_argument("--lr", type=A.float_range(0, 10, lo_open=True, what="a finite learning rate in (0, 10]"))
    p.add_argument("--out", default=None, type=A.output_dir, help="output folder (default var/runs/<id>-<variant>-<time>)")
    p.add_argument("--nproc", type=A.int_range(1, 1024), default=1, help="processes for DDP under torchrun")
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when present)")
    p.add_argument("--seed", type=A.non_negative_int)
    p.add_argument("--threads", default=None, type=A.auto_or_positive_int, help="CPU threads per process (default auto: the idle cores)")
    p.add_argument("--hbce-mode", choices=["fixed", "data"])
    p.add_argument("--hbce-indicator", choices=["faithful", "surrogate"])
    p.add_argument("--hbce-lambda", type=A.non_negative_float)
    p.add_argument("--curriculum", action="store_true", default=None, help="MedFusionNet: balanced first, natural later")
    p.add_argument("--max-train-samples", type=A.positive_int, help="use a random subset of N training cases (smoke runs)")
    p.add_argument("--max-eval-samples", type=A.positive_int, help="use at most N validation and N test cases (smoke runs)")
    p.add_argument("--register", action="store_true",
                   help="add the best-metric checkpoint as a new model version (the active version does not change)")
    p.add_argument("--promote-if-better", metavar="METRIC", default=None,
                   help="with --register: make the new version active only if it beats the active one on METRIC "
                        "(e.g. val_disease_acc, val_mean_auroc, val_loss) on the same validation split")


def register(sub):
    p = sub.add_parser("train", help="train a model (foreground)")
    add_train_args(p)
    p.add_argument("--job-id", default=None, help=argparse_hidden())
    p.add_argument("--progress-file", default=None, help=argparse_hidden())
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def config_from_args(args) -> dict:
    from hcview.train.config import resolve_config

    return resolve_config(args.model, args.variant, data=args.data, epochs=args.epochs, max_steps=args.max_steps,
                          batch_size=args.batch_size, lr=args.lr, device=args.device, seed=args.seed,
                          hbce_mode=args.hbce_mode, hbce_indicator=args.hbce_indicator, hbce_lambda=args.hbce_lambda,
                          curriculum=args.curriculum, max_train_samples=args.max_train_samples,
                          max_eval_samples=args.max_eval_samples, threads=args.threads)


def train_argv(args, *, out: str | None, progress: str | None, drop_job: bool, with_nproc: bool = False) -> list[str]:
    """Rebuild the ``train`` argv (torchrun workers: without --nproc; background jobs: with it)."""
    argv = ["train", "--model", args.model, "--variant", args.variant]
    if with_nproc and (args.nproc or 1) > 1:
        argv += ["--nproc", str(args.nproc)]
    for flag, val in (("--data", args.data), ("--epochs", args.epochs), ("--max-steps", args.max_steps),
                      ("--batch-size", args.batch_size), ("--lr", args.lr), ("--device", args.device),
                      ("--seed", args.seed), ("--threads", args.threads), ("--hbce-mode", args.hbce_mode), ("--hbce-indicator", args.hbce_indicator),
                      ("--hbce-lambda", args.hbce_lambda), ("--max-train-samples", args.max_train_samples),
                      ("--max-eval-samples", args.max_eval_samples), ("--out", out), ("--progress-file", progress)):
        if val is not None:
            argv += [flag, str(val)]
    if args.curriculum:
        argv.append("--curriculum")
    if args.register:
        argv.append("--register")
    if args.promote_if_better:
        argv += ["--promote-if-better", args.promote_if_better]
    if not drop_job and args.job_id:
        argv += ["--job-id", args.job_id]
    return argv


def run(args) -> int:
    from hcview.errors import HcviewError
    from hcview.train import ddp
    from hcview.train.config import default_out_dir

    job = None
    if args.job_id:
        from hcview.jobs.store import JobStore

        job = JobStore()
        job.mark_running(args.job_id)
    stop = {"flag": False}

    def _term(signum, _frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _term)
    try:
        cfg = config_from_args(args)
        out = args.out or str(default_out_dir(args.model, args.variant, args.job_id))
        progress = args.progress_file
        if args.nproc and args.nproc > 1 and not ddp.in_torchrun():
            Path(out).mkdir(parents=True, exist_ok=True)
            if job:
                job.update(args.job_id, out_dir=out)
            rc = ddp.launch(args.nproc, train_argv(args, out=out, progress=progress, drop_job=True))
            if stop["flag"] or (job and job.get(args.job_id)["cancel_requested"]):
                if job:
                    job.finish(args.job_id, "cancelled")
                print("cancelled", file=sys.stderr)
                return 3
            if rc != 0:
                from hcview.errors import HcviewError as _E

                raise _E(f"distributed training failed (torchrun exit code {rc}); see the log")
            result = json.loads((Path(out) / "result.json").read_text())
        else:
            from hcview.train.trainer import Cancelled, train

            if job:
                job.update(args.job_id, out_dir=out)
            try:
                result = train(cfg, out, progress_path=progress, should_stop=lambda: stop["flag"], show_bar=True)
            except Cancelled:
                if job:
                    job.finish(args.job_id, "cancelled")
                print("cancelled: training stopped at a step boundary; checkpoints so far are kept", file=sys.stderr)
                return 3
        if Path(result.get("checkpoint") or "").exists():
            from hcview.train.postfit import apply_post

            # the OOD gate and the operating points go into the checkpoint before anything uses it
            result["post"] = apply_post(result["checkpoint"], cfg["data"], max_fit=cfg.get("max_train_samples"),
                                        max_eval=cfg.get("max_eval_samples"))
        if args.register or args.promote_if_better:
            result.update(add_version(args, cfg, result))
        from hcview.jobs.tracking import log_training

        result["mlflow_run_id"] = log_training(cfg, result, result.get("registered") or result.get("checkpoint"))
        if job:
            job.finish(args.job_id, "succeeded", checkpoint=result.get("registered") or result.get("checkpoint"),
                       result={"test": result.get("test"), "steps": result.get("steps"), "stopped": result.get("stopped"),
                               "version": result.get("version"), "promoted": result.get("promoted"),
                               "comparison": result.get("comparison")})
        if args.json:
            print(json.dumps({k: v for k, v in result.items() if k != "history"}, default=str))
        return 0
    except HcviewError as e:
        if job:
            job.finish(args.job_id, "failed", error=str(e))
        raise
    except BaseException as e:
        if job:
            msg = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {' '.join(str(e).split())[:300]}"
            job.finish(args.job_id, "failed", error=msg)
        raise
    finally:
        if job:
            try:
                from hcview.jobs.runner import reconcile

                reconcile(job)  # a slot is free: start queued jobs
            except Exception:
                pass


def add_version(args, cfg: dict, result: dict) -> dict:
    """Add the run's best checkpoint as a new version; promote it only when asked and it wins on the metric."""
    from pathlib import Path

    from hcview.models import versions
    from hcview.train.compare import compare

    ckpt = Path(result["checkpoint"])
    comparison = None
    if args.promote_if_better:
        comparison = compare(ckpt, versions.active_checkpoint(args.model, args.variant), cfg, args.promote_if_better)
        comparison["active_version"] = versions.active_version(args.model, args.variant)
    extra = {"job_id": args.job_id, "trained_run": str(ckpt.parent), "promotion_check": comparison}
    n = versions.add_version(args.model, args.variant, ckpt, extra)
    promoted = bool(comparison and comparison["better"])
    if promoted:
        versions.promote(args.model, args.variant, n, comparison)
    msg = f"added {args.model}/{args.variant} version {n}"
    if comparison:
        act = comparison["active"]
        msg += (f"; {comparison['metric']} {comparison['candidate']:.4f} vs active "
                f"{'none' if act is None else format(act, '.4f')} on {comparison['n_val']} validation cases: "
                + ("promoted" if promoted else "not promoted"))
    else:
        msg += " (not active: promote it with python -m hcview models promote)"
    print(msg, file=sys.stderr)
    return {"version": n, "promoted": promoted, "comparison": comparison,
            "registered": str(versions.version_path(args.model, args.variant, n))}
