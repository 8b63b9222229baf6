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
