"""The README's figures of the shipped demo models are the cards' own (regenerate the block with
``python -m hcview models --readme``), and its commands are the real ones."""
from pathlib import Path

from hcview.models.catalog import README_END, README_START, demo_models_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_readme_demo_table_is_read_from_the_cards():
    text = (ROOT / "README.md").read_text()
    block = text[text.index(README_START) + len(README_START):text.index(README_END)].strip()
    assert block == demo_models_markdown()


def test_readme_names_the_setup_and_test_commands():
    text = (ROOT / "README.md").read_text()
    for cmd in ("pip install -r requirements.txt", "streamlit run app.py", "python -m pytest"):
        assert cmd in text


def test_readme_quotes_the_benchmark_ratios_from_benchmarks_md():
    """``python -m hcview bench`` writes BENCHMARKS.md and this README block together; by hand: ``bench --readme``."""
    from hcview.cli.bench_cmd import README_RATIOS_END, README_RATIOS_START, readme_ratios_markdown

    text = (ROOT / "README.md").read_text()
    block = text[text.index(README_RATIOS_START) + len(README_RATIOS_START):text.index(README_RATIOS_END)].strip()
    bench = (ROOT / "BENCHMARKS.md").read_text()
    assert block == readme_ratios_markdown(bench)
    for name in ("mc_dropout_ratio", "cam_all_labels_ratio", "review_bundle_ratio", "train_step_ratio",
                 "batch_throughput_ratio"):
        assert f"`{name}`" in block


def _readme_commands() -> list[str]:
    import re

    text = (ROOT / "README.md").read_text()
    cmds = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            for part in line.split(" ; "):
                part = part.split("  #")[0].strip()
                if part.startswith("python -m hcview "):
                    cmds.append(part)
    return cmds


def test_readme_hcview_commands_parse():
    """Every ``python -m hcview ...`` line in the README is accepted by the CLI's parser (nothing is run)."""
    import shlex

    from hcview.cli import build_parser

    cmds = _readme_commands()
    assert len(cmds) >= 10
    for cmd in cmds:
        argv = shlex.split(cmd)[3:]
        build_parser(argv).parse_args(argv)
