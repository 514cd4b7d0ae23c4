"""The logged input example shows the schema without copying training rows (review L8: every registry reader
can download a model's artifacts)."""

import numpy as np
import pandas as pd

from tabflow.serving.pyfunc import synthetic_example


def test_the_example_is_made_of_quartiles_and_common_values_not_rows():
    rng = np.random.default_rng(0)
    n = 200
    train = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "income": np.where(rng.random(n) < 0.2, np.nan, rng.normal(5e4, 1e4, n)),
            "city": pd.Categorical(rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])),
            "note": rng.choice(["x", "y"], n).astype(object),
            "member": rng.random(n) < 0.3,
            "seen": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "empty": np.full(n, np.nan),
        }
    )
    roles = dict.fromkeys(train.columns, "numeric")
    example = synthetic_example(train, roles)
    assert list(example.columns) == list(train.columns) and len(example) == 3
    assert (example.dtypes == train.dtypes).all(), example.dtypes
    assert example["city"].tolist() == ["a", "b", "c"], "the most common categories, most common first"
    assert example["income"].between(train["income"].min(), train["income"].max()).all()
    assert example["empty"].isna().all()
    copied = example.drop(columns="empty").merge(train.drop(columns="empty"), how="inner")
    assert copied.empty, f"training rows copied into the example: {copied}"
