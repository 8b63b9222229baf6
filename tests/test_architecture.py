"""Module boundaries: streamlit only in hcview/ui and pages; no torch in pages; the library imports clean."""
import re
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_streamlit_only_in_ui_and_pages():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "hcview").rglob("*.py")
                 if "ui" not in p.relative_to(ROOT / "hcview").parts[:1] and "streamlit" in _imports(p)]
    assert offenders == []


def test_no_legacy_pages_folder():
    """A folder named pages/ beside app.py puts Streamlit's first run in legacy multipage mode: the first visitor
    opening /training by URL gets "Page not found". The page scripts live in views/."""
    assert not (ROOT / "pages").exists()
    assert all((ROOT / m).exists() for m in re.findall(r'st\.Page\("([^"]+)"', (ROOT / "app.py").read_text()))


def test_pages_hold_no_torch_code():
    pages = list((ROOT / "views").glob("*.py")) + [ROOT / "app.py"]
    assert len(pages) >= 6
    offenders = [p.name for p in pages if {"torch", "torchvision"} & _imports(p)]
    assert offenders == []


def test_library_and_cli_import_without_streamlit():
    code = ("import sys, hcview.cli, hcview.models, hcview.data, hcview.train, hcview.jobs, hcview.infer, "
            "hcview.explain, hcview.metrics, hcview.risk, hcview.viz; "
            "assert 'streamlit' not in sys.modules, 'streamlit imported by the library'")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-500:]


def test_views_hold_no_per_paper_branch():
    """A page never names a paper: what differs per paper comes from its registry entry and panel."""
    from hcview.models import list_models

    ids = set(list_models())
    assert len(ids) >= 4
    offenders = []
    for p in list((ROOT / "views").glob("*.py")) + [ROOT / "app.py"]:
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ids:
                offenders.append(f"{p.name}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_first_page_renders_without_importing_torch(tmp_var_dir):
    """The Overview page and the shared sidebar read the catalog snapshot and the cards: a cold start pays no torch
    import (bench: app cold start)."""
    code = ("import sys\nfrom streamlit.testing.v1 import AppTest\n"
            f"at = AppTest.from_file({str(ROOT / 'app.py')!r}, default_timeout=120)\nat.run()\n"
            "assert not at.exception, [e.value for e in at.exception]\n"
            "assert len(at.metric) >= 2\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n")
    import os

    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env={**os.environ, "HCVIEW_VAR_DIR": str(tmp_var_dir)})
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip().splitlines()[-1] == "NO-TORCH"
