"""Streamlit-side helpers: cached loaders and reusable widgets. The only place in hcview that imports streamlit."""
