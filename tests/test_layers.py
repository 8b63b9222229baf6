"""Layers import downward only and no module imports in a cycle.

``ui`` > ``cli`` > ``papers`` > ``infer``/``jobs``/``report`` > ``explain``/``train``/``risk`` > ``data``/``viz``
> ``models``/``metrics`` > base (the top-level modules of ``hcview``). A module may import its own layer or a
lower one, at module level or inside a function alike. Each paper module (``hcview/papers``) registers itself
into the registry (``hcview/models/registry.py``), which discovers ``hcview.papers`` as a plugin package by name
at first use: that is the one upward reference, and it is not an import statement.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "hcview"
LAYERS = {"__main__": 6, "ui": 7, "cli": 6, "papers": 5, "infer": 4, "jobs": 4, "report": 4, "explain": 3, "train": 3, "risk": 3,
          "data": 2, "viz": 2, "models": 1, "metrics": 1}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(mod: str) -> int:
    parts = mod.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def imports_of(path: Path) -> set[str]:
    """Every hcview module ``path`` imports, at any depth of the file (function-level imports count)."""
    mod = module_name(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "hcview"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "hcview":
                continue
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names}  # `from pkg import submodule`
    return out


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PKG.rglob("*.py")}
    g = {}
    for mod, path in files.items():
        # a submodule importing its own package's __init__ is not an edge worth naming: the package
        # __init__ only re-exports its submodules
        g[mod] = {t for t in imports_of(path) if t in files and t != mod and not mod.startswith(t + ".")}
    return g


def test_layers_import_downward_only():
    bad = [f"{m} (layer {layer(m)}) imports {t} (layer {layer(t)})"
           for m, targets in graph().items() for t in sorted(targets) if layer(t) > layer(m)]
    assert bad == []


def test_no_import_cycles_between_modules():
    g = graph()
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v):  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in g:
        if v not in index:
            strong(v)
    assert sccs == []


def test_no_cycles_between_subpackages():
    g = graph()
    sub = {}
    for m, targets in g.items():
        a = ".".join(m.split(".")[:2])
        for t in targets:
            b = ".".join(t.split(".")[:2])
            if a != b and a.count(".") and b.count("."):
                sub.setdefault(a, set()).add(b)
    cycles = [(a, b) for a, bs in sub.items() for b in bs if a in sub.get(b, set())]
    assert cycles == []


@pytest.mark.parametrize("src,dst", [("hcview.data.io", "hcview.infer.predictor"), ("hcview.models.base", "hcview.papers.hcnet")])
def test_the_layer_rule_catches_upward_imports(src, dst):
    assert layer(dst) > layer(src)
