"""The Case review page's parts; ``views/2_Case_review.py`` reads the navigation widgets and composes them.

- ``state``: the worklist (uploads, bundled samples, frames of multi-frame DICOMs) and navigation in session state,
  so both survive page switches; widget values that must survive too;
- ``samples``: the bundled samples offered, with their ground truth;
- ``records``: a records CSV matched to a case by file name or ID column (models with clinical inputs);
- ``compute``: inference, Grad-CAM and LRP cached by (case hash, model sha256, settings), with progress bars;
  display re-renders (window, colour map, threshold, alpha) never rerun a model;
- ``worklist`` / ``findings`` / ``explain_view`` / ``compare`` / ``feedback_view``: one tab each.

Per-paper result panels stay in ``hcview/ui/panels``; reports and the feedback store in ``hcview/report``.
"""
