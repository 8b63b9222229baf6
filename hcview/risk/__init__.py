"""Two-stage risk stratification (MedFusionNet paper, "Initial risk classification") on tabular records."""
from hcview.risk.records import BUNDLED_PROVENANCE, OUTCOMES, bundled_records_path, read_records
from hcview.risk.stratify import LEVELS, RiskResult, assign_risk, binary_metrics, stratify, stratify_all

__all__ = ["BUNDLED_PROVENANCE", "LEVELS", "OUTCOMES", "RiskResult", "assign_risk", "binary_metrics",
           "bundled_records_path", "read_records", "stratify", "stratify_all"]
