"""Escaping untrusted text for display.

Every string that a user or a file controls (file names, DICOM values, CSV headers and cells, error
messages that quote them) goes through :func:`escape_markdown` before Streamlit renders it as markdown
(``st.error``, ``st.caption``, ``st.markdown``, ``st.write`` of a str, labels), and through
:func:`escape_html` before it is placed inside HTML. Neither needs streamlit.
"""
from __future__ import annotations

import html
import re

# Characters that start inline markdown / HTML / Streamlit syntax anywhere in a line: links and images
# ([ ] ( ) !), code (`), emphasis and strike (* ~; _ handled below), tables (|), HTML and entities (< > &),
# Streamlit's :emoji: / :color[text] directives and $math$ (: $), e-mail autolinks (@), escapes (\).
# CommonMark renders a backslash-escaped ASCII punctuation character literally.
_ALWAYS = frozenset("\\`*[]()!|<>&~$:@")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def one_line(value, limit: int | None = None) -> str:
    """``str(value)`` with control characters dropped and all whitespace runs (newlines too) made one space."""
    s = _CONTROL.sub("", " ".join(str(value).split()))
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s


def escape_markdown(value, limit: int | None = None) -> str:
    """Markdown- and HTML-safe, single-line text: links, images, emphasis, headings, HTML tags, emoji and
    colour directives in ``value`` all render as the literal characters."""
    s = one_line(value, limit)
    out = []
    n = len(s)
    for i, ch in enumerate(s):
        prev = s[i - 1] if i else ""
        nxt = s[i + 1] if i + 1 < n else ""
        if ch in _ALWAYS:
            esc = True
        elif ch == "_":  # intraword underscores (snake_case) are literal in CommonMark
            esc = not (prev.isalnum() and nxt.isalnum())
        elif ch in "#-+=":  # headings and list markers: only at the start of the (single) line
            esc = i == 0
        elif ch == ".":  # '1.' ordered list at the start; 'www.' autolinks
            esc = (i > 0 and s[:i].isdigit()) or s[max(0, i - 3):i].lower() == "www"
        else:
            esc = False
        out.append("\\" + ch if esc else ch)
    return "".join(out)


def escape_html(value, limit: int | None = None) -> str:
    """Text safe to place between HTML tags or inside a quoted attribute (``& < > " '`` escaped)."""
    return html.escape(one_line(value, limit), quote=True)


# short aliases for page code
md = escape_markdown


def decimals_apart(a: float, b: float, lo: int = 2, hi: int = 4) -> int:
    """The fewest decimals (``lo`` to ``hi``) at which ``a`` and ``b`` print differently: a value just under its
    threshold never reads as equal to it ("0.525 < 0.526", not "0.53 < 0.53")."""
    for dp in range(lo, hi + 1):
        if f"{a:.{dp}f}" != f"{b:.{dp}f}":
            return dp
    return hi


def mean_ci_text(s: dict) -> str:
    """``0.601 [0.49, 0.71]`` from a ``{mean, ci_low, ci_high}`` summary (``n/a`` without a mean)."""
    if s.get("mean") is None:
        return "n/a"
    if s.get("ci_low") is None:
        return f"{s['mean']:.3f}"
    return f"{s['mean']:.3f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}]"
