"""hcview: review what medical-imaging models say about a case, and why.

The library. Nothing here imports streamlit except :mod:`hcview.ui`.
"""
__version__ = "0.1.0"
