"""Shared sidebar and small widgets used by every page."""
from __future__ import annotations

import streamlit as st

from hcview.errors import HcviewError


@st.cache_data(ttl=10, show_spinner=False)
def cached_catalog() -> list[dict]:
    from hcview.models.catalog import catalog

    return catalog()


@st.cache_resource(show_spinner=False)
def device_text() -> str:
    from hcview.device import describe

    return describe()


SYNTHETIC_BANNER = "Trained on synthetic phantoms only: not meaningful on real scans."


def sidebar() -> None:
    """The sidebar every page shares: device, which models are trained, a link to bootstrap."""
    with st.sidebar:
        st.caption(f"Compute: {device_text()}")
        rows = [r for r in cached_catalog() if r["variant"] == "demo"]
        trained = [r["name"] for r in rows if r["trained"]]
        if trained:
            st.caption("Trained demo models: " + ", ".join(trained))
        else:
            st.warning("No trained models yet. Start the demo bootstrap on the Overview page.", icon="⚠️")
        st.caption("Research software: not for clinical diagnosis.")


def show_error(err: Exception) -> None:
    """One line for the user, markdown-escaped (it may quote file names and values); never a traceback."""
    from hcview.errors import describe
    from hcview.text import escape_markdown

    msg, code = describe(err)
    if not isinstance(err, HcviewError) and code == 1:
        msg = "Unexpected " + msg
    st.error(escape_markdown(msg, limit=400), icon="🚫")
