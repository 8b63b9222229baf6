"""Pure metric functions (``compute_*``, MONAI style) on numpy arrays.

Nothing here imports torch or streamlit; results are plain dicts, arrays or DataFrames.
"""
from hcview.metrics.calibration import (compute_brier, compute_ece, compute_multilabel_calibration,
                                        compute_reliability)
from hcview.metrics.classification import (compute_accuracy, compute_balanced_accuracy, compute_classification,
                                           compute_classification_summary, compute_gmean, compute_per_class_table,
                                           compute_recalls)
from hcview.metrics.confusion import (cell_indices, collapse_confusion, compute_confusion_matrix,
                                      compute_hierarchical_confusion, normalize_rows, ranked_confusions,
                                      taxonomy_order)
from hcview.metrics.failures import (LABEL_CELLS, cell_cases, default_label_cell, failure_frames, label_cell_cases,
                                     label_cell_counts, label_decisions, most_confident_errors,
                                     most_uncertain_correct)
from hcview.metrics.hierarchy import compute_edge_consistency, compute_taxonomy_consistency
from hcview.metrics.multilabel import (compute_label_auc, compute_mean_auroc, compute_multilabel_auc,
                                       compute_pr_curves, compute_roc_curves)
from hcview.metrics.regression import compute_regression
from hcview.metrics.report import compute_head_cis, compute_report
from hcview.metrics.stats import (bootstrap_ci, bootstrap_cis, friedman, mcnemar, mcnemar_predictions, pearson,
                                  support_accuracy_correlation)

__all__ = [
    "LABEL_CELLS", "bootstrap_ci", "bootstrap_cis", "cell_cases", "cell_indices", "collapse_confusion",
    "compute_accuracy", "compute_balanced_accuracy", "compute_brier", "compute_classification",
    "compute_classification_summary", "compute_confusion_matrix", "compute_ece", "compute_edge_consistency",
    "compute_gmean", "compute_head_cis", "compute_hierarchical_confusion", "compute_label_auc",
    "compute_mean_auroc", "compute_multilabel_auc", "compute_multilabel_calibration", "compute_per_class_table",
    "compute_pr_curves", "compute_recalls", "compute_regression", "compute_reliability", "compute_report",
    "compute_roc_curves", "compute_taxonomy_consistency", "default_label_cell", "failure_frames", "friedman", "label_cell_cases",
    "label_cell_counts", "label_decisions", "mcnemar", "mcnemar_predictions", "most_confident_errors",
    "most_uncertain_correct", "normalize_rows", "pearson", "ranked_confusions", "support_accuracy_correlation",
    "taxonomy_order",
]
