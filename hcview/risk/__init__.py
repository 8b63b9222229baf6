"""Two-stage risk stratification (MedFusionNet paper, "Initial risk classification") on tabular records,
evaluated by repeated stratified k-fold CV beside baselines."""
from hcview.risk.evaluation import BASELINES, METRICS, binary_metrics
from hcview.risk.model import LEVELS, TwoStageModel
from hcview.risk.records import BUNDLED_PROVENANCE, OUTCOMES, bundled_records_path, read_records
from hcview.risk.stratify import RiskResult, assign_risk, stratify

__all__ = ["BASELINES", "BUNDLED_PROVENANCE", "LEVELS", "METRICS", "OUTCOMES", "RiskResult", "TwoStageModel",
           "assign_risk", "binary_metrics", "bundled_records_path", "read_records", "stratify"]
