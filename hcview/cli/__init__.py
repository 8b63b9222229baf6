"""``python -m hcview ...``: the CLI for everything the UI does.

Each command group lives in its own module exposing ``register(subparsers)``; the module is
imported lazily so ``python -m hcview models`` does not pay for torch-heavy imports it does not use.
A :class:`hcview.errors.HcviewError` becomes one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# command name -> module under hcview.cli that provides register(subparsers)
COMMANDS: dict[str, str] = {
    "models": "models_cmd",
    "data": "data_cmd",
    "train": "train_cmd",
    "jobs": "jobs_cmd",
    "predict": "predict_cmd",
    "evaluate": "evaluate_cmd",
    "risk": "risk_cmd",
    "bench": "bench_cmd",
    "demo": "demo_cmd",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hcview", description="hcview command line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    wanted = None
    if argv:
        first = next((a for a in argv if not a.startswith("-")), None)
        if first in COMMANDS:
            wanted = first
    for name, modname in COMMANDS.items():
        if wanted is not None and name != wanted:
            sub.add_parser(name)  # cheap placeholder for --help listing
            continue
        try:
            mod = importlib.import_module(f"hcview.cli.{modname}")
        except ModuleNotFoundError as e:
            if e.name == f"hcview.cli.{modname}":
                continue  # command not built yet
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from hcview.errors import HcviewError

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except HcviewError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        print(f"error: {e.strerror or e}: {e.filename}", file=sys.stderr)
        return 2
    return int(rc or 0)
