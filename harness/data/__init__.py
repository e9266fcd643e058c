"""The data layer: the chat-JSONL format, validation, leakage-free splits and dataset reports.

Nothing heavy is imported here (numpy/scipy/transformers load inside the functions that need them).

- :func:`validate_file` -> :class:`ValidationReport` (problems by line with stable codes, see ``CODES``)
- :func:`split_examples` -> :class:`SplitResult`; :func:`split_file` writes train/val/test.jsonl atomically
- :func:`profile_file` -> :class:`DatasetProfile`; :func:`compare_profiles` -> :class:`Comparison`
"""

from harness.data.report import DatasetProfile, profile_file
from harness.data.schema import CODES, Issue
from harness.data.shift import Comparison, compare_profiles
from harness.data.split import SplitResult, SplitStats, split_examples
from harness.data.split_io import split_file
from harness.data.validate import ValidationReport, validate_file

__all__ = [
    "CODES", "Comparison", "DatasetProfile", "Issue", "SplitResult", "SplitStats", "ValidationReport",
    "compare_profiles", "profile_file", "split_examples", "split_file", "validate_file",
]
