"""The Evaluation page's parts; ``views/4_Evaluation.py`` reads the widgets and composes them.

- ``stored``: which evaluations to offer, where they live, cached reads (``hcview.infer.evaluate``'s
  readers), the allowed data specs, and running an evaluation (the only place a model runs);
- ``model_view``: one stored evaluation, head by head (``heads``, ``softmax_view``, ``sigmoid_view``);
- ``cases``: thumbnails and lists of the cases behind a failure list or a confusion cell;
- ``external``: prediction files made elsewhere (``hcview.metrics.external``), uploaded or under an
  allowed data root.

Metrics come from ``hcview.metrics`` and figures from ``hcview.viz``; nothing here computes either.
"""
