"""The quality gate of a module project (``modelport check``) and its smoke-test helpers."""

from modelport.quality.gate import CheckOptions, run_checks
from modelport.quality.report import CheckResult, Report, Status
from modelport.quality.smoke import TrainingRun, predict_with_examples, train_once

__all__ = [
    "CheckOptions",
    "CheckResult",
    "Report",
    "Status",
    "TrainingRun",
    "predict_with_examples",
    "run_checks",
    "train_once",
]
