"""Page tests share one process: Streamlit's data caches (the model catalog, stored evaluations) would carry one test's
models folder into the next. Each page test starts with empty data caches."""
import pytest


@pytest.fixture(autouse=True)
def _fresh_streamlit_data_caches():
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()
