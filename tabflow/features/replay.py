"""The fitted preprocessor replayed in plain numpy, for requests of a few rows.

scikit-learn's Pipeline and ColumnTransformer validate and dispatch on every call, which costs more than the
network's forward pass for one row (benchmarks/RESULTS.md, section 6). The arithmetic underneath is a median fill,
a missing-value indicator and a (x - center) / scale per column, plus tabflow's own category codes and date parts.
`replay_for` reads those fitted statistics and checks its output against the pipeline's before anyone relies on
it. A step it does not know makes it decline (the pipeline then serves), and a unit test fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tabflow.features.coerce import coerce, numbers
from tabflow.features.encoders import DateParts, smooth_clip


@dataclass(frozen=True)
class NumericReplay:
    """A fitted as_float32 -> SimpleImputer(median, add_indicator) -> RobustScaler or RealScaler pipeline."""

    fill: np.ndarray  # float32, one per column
    flagged: np.ndarray  # columns whose missingness becomes an indicator column
    center: np.ndarray
    scale: np.ndarray  # RobustScaler divides by it; RealScaler multiplies by it, then clips
    real: bool = False

    @classmethod
    def of(cls, pipeline) -> NumericReplay:
        steps = pipeline.named_steps
        imputer = steps["simpleimputer"]
        flagged = imputer.indicator_.features_ if imputer.indicator_ is not None else np.empty(0, dtype=int)
        fill = imputer.statistics_.astype("float32")
        if "realscaler" in steps:
            real = steps["realscaler"]
            return cls(fill, np.asarray(flagged), real.center_, real.factor_, real=True)
        scaler = steps["robustscaler"]  # any other step: a KeyError, and the replay declines
        center = np.asarray(scaler.center_ if scaler.center_ is not None else 0.0)
        scale = np.asarray(scaler.scale_ if scaler.scale_ is not None else 1.0)
        return cls(fill, np.asarray(flagged), center, scale)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        x = values.astype("float32")
        missing = np.isnan(x)
        x = np.where(missing, self.fill, x)
        if len(self.flagged):
            x = np.hstack([x, missing[:, self.flagged].astype("float32")])
        if self.real:
            return smooth_clip((x - self.center) * self.scale)  # RealScaler's own arithmetic, in float32
        x -= self.center  # in place on float32, as RobustScaler(copy=False) does: the same rounding
        x /= self.scale
        return x


@dataclass(frozen=True)
class Replay:
    """Raw rows (the model's columns, any dtypes) in, the same float32 matrix as the pipeline out."""

    parts: tuple  # (role, columns, step) in the ColumnTransformer's order

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        out = []
        for role, columns, step in self.parts:
            if role == "numeric":
                out.append(step(numbers(rows, columns)))
            elif role == "datetime":
                typed = coerce(rows[columns], dict.fromkeys(columns, "datetime"))
                out.append(step(DateParts().transform(typed)))
            else:
                out.append(step.transform(coerce(rows[columns], dict.fromkeys(columns, "categorical"))))
        return np.hstack(out).astype("float32", copy=False)


def replay_for(pre, example: pd.DataFrame) -> Replay | None:
    """The numpy replay of `pre`, or None when `pre` holds a step it does not know or disagrees with the
    pipeline on `example` (plus a row of missing values, which exercises the fills)."""
    try:
        parts = []
        for role, transformer, columns in pre.named_steps["columns"].transformers_:
            if role == "remainder":
                continue
            if role == "categorical":
                if not hasattr(transformer, "vocabularies_"):  # a one-hot pipeline: the baselines', not served
                    return None
                parts.append((role, list(columns), transformer))
            else:
                parts.append((role, list(columns), NumericReplay.of(transformer)))
        replay = Replay(tuple(parts))
        blank = example.head(1).where(np.zeros((1, example.shape[1]), dtype=bool))  # every cell missing
        probe = pd.concat([example, blank], ignore_index=True)
        if not np.allclose(replay.transform(probe), pre.transform(probe), rtol=1e-6, atol=1e-6, equal_nan=True):
            return None
        return replay
    except (KeyError, AttributeError, ValueError, TypeError):
        return None
