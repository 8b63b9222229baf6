"""hcview.paths.check_data_root: typed paths only inside the bundled samples and HCVIEW_DATA_ROOTS."""
import os

import pytest

from hcview.errors import InputError
from hcview.paths import check_data_root, samples_dir


def test_inside_the_roots_only(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x.csv").write_text("1")
    monkeypatch.setenv("HCVIEW_DATA_ROOTS", f"{a}{os.pathsep}{b}{os.pathsep}")
    assert check_data_root(a / "x.csv") == (a / "x.csv").resolve()
    assert check_data_root(str(b / "not-yet.csv")) == (b / "not-yet.csv").resolve()  # inside: allowed
    assert check_data_root(samples_dir() / "README.md") == (samples_dir() / "README.md").resolve()
    lines = set()
    for p in ("/etc/passwd", "/no/such/file", f"{a}/../outside.csv", ""):
        with pytest.raises(InputError) as ei:
            check_data_root(p)
        assert "\n" not in str(ei.value)
        lines.add(str(ei.value).replace(p, "PATH") if p else "PATH")
    assert len(lines - {"PATH"}) == 1  # the same line whether the path exists or not


def test_links_are_followed_before_the_check(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    (root / "etc").symlink_to("/etc")
    monkeypatch.setenv("HCVIEW_DATA_ROOTS", str(root))
    with pytest.raises(InputError):
        check_data_root(root / "etc" / "passwd")
