"""Escaping untrusted text for display.

Every string that a user or a file controls (file names, DICOM values, CSV headers and cells, error
messages that quote them) goes through :func:`escape_markdown` before Streamlit renders it as markdown
(``st.error``, ``st.caption``, ``st.markdown``, ``st.write`` of a str, labels), and through
:func:`escape_html` before it is placed inside HTML. Neither needs streamlit.
"""
from __future__ import annotations

import html
import re
import string

# every ASCII punctuation character may be backslash-escaped in CommonMark and then renders literally;
# escaping them all also defuses Streamlit's own syntax (:emoji:, :color[text], $math$, ~strike~).
_MD_SPECIAL = frozenset(string.punctuation)
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
    for ch in s:
        if ch in _MD_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def escape_html(value, limit: int | None = None) -> str:
    """Text safe to place between HTML tags or inside a quoted attribute (``& < > " '`` escaped)."""
    return html.escape(one_line(value, limit), quote=True)


# short aliases for page code
md = escape_markdown
