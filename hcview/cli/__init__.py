"""``python -m hcview ...``: the CLI for everything the UI does.

Each command group lives in its own module exposing ``register(subparsers)``; the module is
imported lazily so ``python -m hcview models`` does not pay for torch-heavy imports it does not use.
One error path: every exception becomes one ``error:`` line on stderr (``hcview.errors.describe``) and
exit status 2 for a user error (bad input, bad flag, a file in the way), 1 for an internal error, 130 when
interrupted. The traceback is shown only with ``--debug`` (anywhere on the command line) or
``HCVIEW_DEBUG=1``. Parser errors are one line too, and Python warnings are printed as ``warning:`` lines.
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
    "report": "report_cmd",
}


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one ``error:`` line (no usage block) and exit status 2."""

    def error(self, message):  # noqa: D401 - argparse API
        msg = " ".join(str(message).split())
        self.exit(2, f"error: {self.prog}: {msg} (see --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m hcview", description="hcview command line")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error (anywhere on the line)")
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


def _warning_line(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    try:
        (file or sys.stderr).write(f"warning: {text}\n")
    except (OSError, ValueError):
        pass


def main(argv: list[str] | None = None) -> int:
    import os
    import warnings

    argv = [str(a) for a in (sys.argv[1:] if argv is None else argv)]
    debug = "--debug" in argv or os.environ.get("HCVIEW_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = _warning_line
        try:
            parser = build_parser(argv)
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help, or a parser error already printed as one line
            return _exit_code(e)
        except (Exception, KeyboardInterrupt) as e:  # a command module that fails to import, ...
            return _report(e, debug)
        try:
            rc = args.func(args)
        except SystemExit as e:
            return _exit_code(e)
        except BrokenPipeError:  # output piped into `head`: not an error; keep the exit quiet too
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
            except (OSError, ValueError, AttributeError):
                pass
            return 0
        except (Exception, KeyboardInterrupt) as e:
            return _report(e, debug)
    try:
        return int(rc or 0)
    except (TypeError, ValueError):
        return 0


def _exit_code(e: SystemExit) -> int:
    if e.code is None or isinstance(e.code, int):
        return int(e.code or 0)
    print(f"error: {' '.join(str(e.code).split())}", file=sys.stderr)  # sys.exit("message")
    return 2


def _report(e: BaseException, debug: bool) -> int:
    """Print one ``error:`` line (after the traceback under --debug) and return the exit status."""
    from hcview.errors import describe

    if debug:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    msg, code = describe(e)
    if code == 1 and not debug:
        msg += " (run with --debug for the traceback)"
    try:
        print(f"error: {msg}", file=sys.stderr)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    return code
