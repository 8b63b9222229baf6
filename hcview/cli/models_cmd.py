"""``python -m hcview models [--json] [--card ID --variant V]``"""
from __future__ import annotations

import json


def register(sub):
    p = sub.add_parser("models", help="list registry entries, variants and checkpoints")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--card", metavar="ID", help="print the spec and model card of one entry")
    p.add_argument("--variant", default="demo")
    p.set_defaults(func=run)


def run(args) -> int:
    from hcview.models import get_spec
    from hcview.models.catalog import catalog
    from hcview.models.checkpoint import find_checkpoint, read_card

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
