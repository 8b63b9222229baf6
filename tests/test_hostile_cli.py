"""The one error path (CLI and UI), the argparse validators, the escape helper and the data-roots check."""
from __future__ import annotations

import argparse
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hcview.cli import argtypes as A
from hcview.cli import main
from hcview.errors import CsvError, DicomError, InputError, describe
from hcview.limits import check_data_root, data_roots
from hcview.text import escape_html, escape_markdown, one_line

ROOT = Path(__file__).resolve().parent.parent


def _run(capsys, argv):
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ---- the error path ---------------------------------------------------------------------------------------
def test_describe_maps_every_exception_to_one_line():
    assert describe(DicomError("a.dcm: bad\nthing")) == ("a.dcm: bad thing", 2)
    msg, code = describe(FileExistsError(errno.EEXIST, "File exists", "out/metrics.json"))
    assert code == 2 and msg.startswith("out/metrics.json: a file is in the way")
    msg, code = describe(NotADirectoryError(errno.ENOTDIR, "Not a directory", "f/x"))
    assert code == 2 and "is a file, not a folder" in msg
    assert describe(PermissionError(errno.EACCES, "Permission denied", "/root/x")) == ("/root/x: Permission denied", 2)
    assert describe(OSError(errno.ENOSPC, "No space left on device", "/tmp/x"))[1] == 2
    assert describe(MemoryError())[1] == 2
    assert describe(KeyboardInterrupt()) == ("interrupted", 130)
    msg, code = describe(ZeroDivisionError("float division by zero"))
    assert code == 1 and msg == "internal error: ZeroDivisionError: float division by zero"
    assert "\n" not in describe(ValueError("a\nb\n" * 200))[0]


def test_internal_error_is_one_line_exit_1_with_debug_hint(capsys, monkeypatch):
    import hcview.cli.data_cmd as dc

    monkeypatch.setattr(dc, "check_path", lambda *a, **k: 1 / 0)
    rc, out, err = _run(capsys, ["data", "check", "x"])
    assert rc == 1
    assert err == "error: internal error: ZeroDivisionError: division by zero (run with --debug for the traceback)\n"


def test_debug_shows_the_traceback(capsys, monkeypatch):
    import hcview.cli.data_cmd as dc

    monkeypatch.setattr(dc, "check_path", lambda *a, **k: 1 / 0)
    rc, out, err = _run(capsys, ["data", "check", "x", "--debug"])
    assert rc == 1 and "Traceback" in err and err.strip().splitlines()[-1].startswith("error: internal error")


def test_out_pointing_at_a_file_is_refused_by_every_command(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    pred = tmp_path / "p.csv"
    pred.write_text("A_GT,A_Pred\n1,0.9\n0,0.1\n")
    for argv in (["evaluate", "--predictions", pred, "--out", f],
                 ["risk", "--records", "bundled", "--out", f],
                 ["train", "--model", "hcnet", "--out", f],
                 ["predict", "--model", "hcnet", "--input", "x.png", "--out", f / "sub"]):
        rc, out, err = _run(capsys, argv)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, argv
        assert "is an existing file" in err or "is a file" in err


def test_parser_errors_are_one_line(capsys):
    for argv in (["nosuch"], ["predict"], ["risk", "--records", "x", "--bins", "-1"], ["train", "--lr", "nan"],
                 ["data", "check"], ["evaluate", "--bootstrap", "1e3"]):
        rc, out, err = _run(capsys, argv)
        assert rc == 2 and err.count("\n") == 1 and err.startswith("error: python -m hcview"), (argv, err)


def test_help_still_exits_0(capsys):
    rc, out, err = _run(capsys, ["data", "deid", "--help"])
    assert rc == 0 and "PS3.15" in out


@pytest.mark.parametrize("argv", [
    ["data", "check", "tests/does-not-exist.dcm"],
    ["train", "--model", "hcnet", "--lr", "nan"],
    ["predict", "--model", "hcnet", "--input", "README.md", "--target", "top0"],
    ["risk", "--records", "README.md"],
    ["evaluate", "--predictions", "pyproject.toml"],
])
def test_python_m_hcview_one_line(argv):
    """The same through ``python -m hcview`` in a fresh process (exit status, stderr, no traceback)."""
    r = subprocess.run([sys.executable, "-m", "hcview", *argv], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "HCVIEW_ALLOW_DOWNLOAD": "0"}, timeout=300)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    assert r.stdout == ""


# ---- argparse validators -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,good,bad", [
    (A.positive_int, ["1", "+7", " 12 "], ["0", "-1", "abc", "1.5", "1e3", ""]),
    (A.non_negative_int, ["0", "3"], ["-1", "x"]),
    (A.positive_float, ["0.001", "1e-3", "5"], ["0", "-1", "nan", "inf", "-inf", "x"]),
    (A.finite_float, ["-3.5", "0"], ["nan", "inf", "NaN", "x"]),
    (A.probability, ["0", "1", "0.5"], ["1.01", "-0.01", "nan"]),
    (A.fraction_open, ["0.25"], ["0", "1", "nan"]),
    (A.zero_or_at_least(2), ["0", "2", "10"], ["-1", "1"]),
    (A.auto_or_positive_int, ["auto", "AUTO", "2"], ["0", "abc", "-2", "1.5"]),
    (A.top_spec, ["top1", "top3", "all", "Mass", "labels:Mass,Nodule"], ["top0", "top-1", "top", "", " , "]),
    (A.window_spec, ["lung", "header", "40,400"], ["40,0", "nan,5", "40,-1", "sunset", "inf,2"]),
])
def test_argtypes(fn, good, bad):
    for g in good:
        fn(g)
    for b in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            fn(b)


def test_output_dir_type(tmp_path):
    f = tmp_path / "f"
    f.write_text("x")
    assert A.output_dir(str(tmp_path / "new" / "dir")) == str(tmp_path / "new" / "dir")
    assert A.output_dir(str(tmp_path)) == str(tmp_path)
    for bad in (str(f), str(f / "sub"), "", "a\x00b"):
        with pytest.raises(argparse.ArgumentTypeError):
            A.output_dir(bad)


# ---- escaping untrusted text -------------------------------------------------------------------------------
HOSTILE_TEXT = ["[click me](https://evil.example)", "![beacon](https://evil.example/b.png)",
                "<img src=x onerror=alert(1)>", "**bold** _it_ # heading", ":red[alarm] :smile: $x^2$",
                "line1\nline2\r\n\tline3", "<https://evil.example>", "`code` ~~strike~~ | table |",
                "\u202eevil\u200b"]


def _unescaped(out: str) -> list[str]:
    """Characters of ``out`` not preceded by a backslash escape."""
    chars, i = [], 0
    while i < len(out):
        if out[i] == "\\":
            i += 2
            continue
        chars.append(out[i])
        i += 1
    return chars


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_escape_markdown_leaves_no_active_syntax(text):
    out = escape_markdown(text)
    assert "\n" not in out and "\r" not in out and "\u202e" not in out
    live = set(_unescaped(out))
    assert not live & set("[]()!<>`*|~$:@&\\"), (out, live)
    # unescaping gives back the one-line text
    assert out.replace("\\", "\x00").replace("\x00\x00", "\\").replace("\x00", "") == one_line(text)


@pytest.mark.parametrize("text,expected", [
    ("data sample:brain-mri does not fit hcnet_brain_mri", "data sample\\:brain-mri does not fit hcnet_brain_mri"),
    ("# heading", "\\# heading"), ("- item", "\\- item"), ("12. item", "12\\. item"),
    ("_emph_ x", "\\_emph\\_ x"), ("see www.evil.example", "see www\\.evil.example"),
    ("a@b.example", "a\\@b.example"),
])
def test_escape_markdown_keeps_ordinary_text_readable(text, expected):
    assert escape_markdown(text) == expected


def test_escape_html():
    assert escape_html('<b a="1">x & y</b>') == "&lt;b a=&quot;1&quot;&gt;x &amp; y&lt;/b&gt;"
    assert escape_markdown("a" * 500, limit=10) == "a" * 9 + "…"


def test_show_error_escapes(monkeypatch):
    import streamlit as st

    from hcview.ui import common

    shown = []
    monkeypatch.setattr(st, "error", lambda body, **k: shown.append(body))
    common.show_error(CsvError("![beacon](https://evil.example/b.png).csv: CSV file is empty"))
    common.show_error(RuntimeError("[click](https://evil.example)"))
    assert shown[0].startswith("\\!\\[beacon\\]\\(https\\:") and "](" not in shown[0]
    assert shown[1].startswith("Unexpected internal error\\: RuntimeError\\:") and "](" not in shown[1]


# ---- server-side paths -------------------------------------------------------------------------------------
def test_check_data_root(tmp_path, monkeypatch):
    inside = tmp_path / "allowed"
    (inside / "sub").mkdir(parents=True)
    outside = tmp_path / "other"
    outside.mkdir()
    (inside / "link").symlink_to(outside)
    monkeypatch.setenv("HCVIEW_DATA_ROOTS", f"{inside}{os.pathsep}{tmp_path / 'also'}")
    assert data_roots() == [inside.resolve(), (tmp_path / "also").resolve()]
    assert check_data_root(inside / "sub") == (inside / "sub").resolve()
    for bad in (outside, inside / ".." / "other", inside / "link", "/etc/passwd"):
        with pytest.raises(InputError, match="outside the allowed data folders"):
            check_data_root(bad)
    monkeypatch.delenv("HCVIEW_DATA_ROOTS")
    assert check_data_root(ROOT / "data" / "samples") == (ROOT / "data" / "samples").resolve()
    with pytest.raises(InputError):
        check_data_root(ROOT / "hcview")
