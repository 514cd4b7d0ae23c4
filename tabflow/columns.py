"""Where models logged before tabflow had subpackages find the classes their pickled preprocessor names.

A logged preprocessor (preprocessor.joblib) refers to `tabflow.columns.Vocabulary`, `tabflow.columns.DateParts`,
`tabflow.columns.as_float32` and `tabflow.columns.coerce` by module path; tests/fixtures holds such a model and
tests/flows/test_legacy_model.py loads it. New code imports them from tabflow.features.
"""

from tabflow.features.coerce import as_float32, coerce, numbers
from tabflow.features.encoders import DateParts, Vocabulary

__all__ = ["DateParts", "Vocabulary", "as_float32", "coerce", "numbers"]
