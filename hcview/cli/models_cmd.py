"""``python -m hcview models [--json] [--card ID --variant V]`` and the version commands:
``models versions ID [--variant V] [--json]``, ``models promote ID [--variant V] --version N``,
``models rollback ID [--variant V]``."""
from __future__ import annotations

import json


def register(sub):
    p = sub.add_parser("models", help="list registry entries, variants and checkpoints")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--card", metavar="ID", help="print the spec and model card of one entry")
    p.add_argument("--variant", default="demo")
    p.add_argument("--readme", action="store_true", help="print the README's table of the shipped demo models")
    p.add_argument("--snapshot", action="store_true",
                   help="rewrite hcview/models/catalog_snapshot.json from the registry (what the app's first page "
                        "reads without importing torch); needed after changing a paper's spec")
    p.set_defaults(func=run)
    vsub = p.add_subparsers(dest="models_command", metavar="ACTION")
    v = vsub.add_parser("versions", help="list the versions of a model, with metrics and which one is active")
    v.add_argument("id")
    v.add_argument("--variant", default="demo")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=run_versions)
    pr = vsub.add_parser("promote", help="make a version the active one")
    pr.add_argument("id")
    pr.add_argument("--variant", default="demo")
    pr.add_argument("--version", type=int, required=True)
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(func=run_promote)
    rb = vsub.add_parser("rollback", help="return to the version active before the last promotion")
    rb.add_argument("id")
    rb.add_argument("--variant", default="demo")
    rb.add_argument("--json", action="store_true")
    rb.set_defaults(func=run_rollback)
    fo = vsub.add_parser("fit-ood", help="fit the out-of-distribution gate and the per-label operating points of the "
                                         "active version on its training/validation splits")
    fo.add_argument("id")
    fo.add_argument("--variant", default="demo")
    fo.add_argument("--data", default=None, help="data spec (default: the one the checkpoint was trained on)")
    fo.add_argument("--false-alarm", type=float, default=None,
                    help="in-distribution false-alarm rate of the OOD threshold on the validation split "
                         "(default: the model's, usually 0.05)")
    fo.add_argument("--target-sensitivity", type=float, default=None,
                    help="operating points at this sensitivity instead of Youden's J")
    fo.add_argument("--json", action="store_true")
    fo.set_defaults(func=run_fit_ood)


def _fmt_metrics(m: dict, n: int = 3) -> str:
    keys = [k for k in m if isinstance(m[k], (int, float)) and not k.endswith("_loss")][:n]
    return ", ".join(f"{k} {m[k]:.3f}" for k in keys) or "-"


def run_versions(args) -> int:
    from hcview.models import get_spec, versions

    get_spec(args.id).variant(args.variant)
    rows = versions.list_versions(args.id, args.variant)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    if not rows:
        print(f"{args.id}/{args.variant}: no versions (untrained)")
        return 0
    for r in rows:
        print(f"{'*' if r['active'] else ' '} v{r['version']:<3} {'shipped' if r['shipped'] else (r['job_id'] or 'run'):<28} "
              f"{(r['sha256'] or '')[:12]}  {r['created_at'] or '':<21} val: {_fmt_metrics(r['val_metrics'])}")
    return 0


def _changed(args, ptr: dict, what: str) -> int:
    if args.json:
        print(json.dumps(ptr, default=str))
    else:
        print(f"{args.id}/{args.variant}: version {ptr['version']} is active ({what}; sha256 {ptr['sha256'][:12]})")
    return 0


def run_promote(args) -> int:
    from hcview.models import get_spec, versions

    get_spec(args.id).variant(args.variant)
    return _changed(args, versions.promote(args.id, args.variant, args.version), "promoted")


def run_rollback(args) -> int:
    from hcview.models import get_spec, versions

    get_spec(args.id).variant(args.variant)
    return _changed(args, versions.rollback(args.id, args.variant), "rolled back")


def run(args) -> int:
    from hcview.models import get_spec
    from hcview.models.catalog import catalog
    from hcview.models.checkpoint import find_checkpoint, read_card

    if args.snapshot:
        from hcview.models.catalog import write_snapshot

        print(f"wrote {write_snapshot()}")
        return 0
    if args.readme:
        from hcview.models.catalog import demo_models_markdown

        print(demo_models_markdown())
        return 0
    if args.card:
        spec = get_spec(args.card)
        spec.variant(args.variant)
        ckpt = find_checkpoint(spec.id, args.variant)
        out = {"spec": spec.to_json(args.variant), "card": read_card(ckpt) if ckpt else None}
        print(json.dumps(out, indent=2, default=str))
        return 0
    rows = catalog()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    print(f"{'id':<14}{'variant':<8}{'params':>10}  {'input':>6}  {'trained':<8}label space")
    for r in rows:
        print(f"{r['id']:<14}{r['variant']:<8}{r['params'] / 1e6:>9.2f}M  {r['input_size']:>6}  "
              f"{'yes' if r['trained'] else 'no':<8}{r['label_space']} {r['outputs']}")
    return 0


def run_fit_ood(args) -> int:
    """The active version gains the gate. Shipped versions are rewritten in place (same weights, so predictions do
    not change); a job's version is immutable, so the result becomes a new version, promoted in its place."""
    import shutil
    import sys
    import tempfile
    from pathlib import Path

    from hcview.errors import InputError
    from hcview.models import get_spec, versions
    from hcview.models.checkpoint import card_path
    from hcview.train.postfit import apply_post

    get_spec(args.id).variant(args.variant)
    if args.false_alarm is not None and not 0 < args.false_alarm < 0.5:
        raise InputError("--false-alarm must be in (0, 0.5)")
    if args.target_sensitivity is not None and not 0 < args.target_sensitivity < 1:
        raise InputError("--target-sensitivity must be in (0, 1)")
    active = versions.active_version(args.id, args.variant)
    if active is None:
        raise InputError(f"{args.id}/{args.variant} has no trained version to fit")
    src = versions.version_path(args.id, args.variant, active)
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / "model.pt"
        shutil.copyfile(src, tmp)
        shutil.copyfile(card_path(src), card_path(tmp))
        extra = apply_post(tmp, args.data, false_alarm=args.false_alarm,
                           rule="sensitivity" if args.target_sensitivity else "youden",
                           target_sensitivity=args.target_sensitivity)
        if active == versions.SHIPPED:
            versions.write_shipped(tmp, src)
            where = f"version {active} (shipped) rewritten"
        else:
            n = versions.add_version(args.id, args.variant, tmp, {"derived_from": active})
            versions.promote(args.id, args.variant, n, {"reason": f"version {active} plus OOD statistics"})
            where = f"version {n} (version {active}'s weights plus the gate) added and promoted"
    if args.json:
        print(json.dumps({"model": args.id, "variant": args.variant, **extra}, default=str))
        return 0
    o = extra["ood"]
    print(f"{args.id}/{args.variant}: {where}; OOD threshold {o['threshold']:.1f} "
          f"({o['false_alarm_rate']:.0%} false alarms on {o['threshold_set_on']})", file=sys.stderr)
    sep = o.get("separation")
    if sep:
        print(f"  separation: AUROC {sep['auroc']:.3f}; flagged {sep['in_flagged']:.1%} of {sep['n_in']} {sep['in']}, "
              f"{sep['out_flagged']:.1%} of {sep['n_out']} images of {sep['out']}")
    return 0
