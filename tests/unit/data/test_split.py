def test_split_is_stratified_disjoint_and_seeded(splits, raw):
    sizes = splits.sizes()
    assert sum(sizes.values()) == len(raw)
    assert abs(sizes["train"] / len(raw) - 0.70) < 0.01 and abs(sizes["test"] / len(raw) - 0.15) < 0.01
    overall = raw["target"].mean()
    for part in ("train", "val", "test"):
        assert abs(splits.y(part).mean() - overall) < 0.02, f"{part} is not stratified"
    keys = {part: set(map(tuple, splits.part(part).round(6).to_numpy())) for part in ("train", "val", "test")}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]


def test_same_seed_same_split_other_seed_other_split(raw):
    table = clean.clean_table(raw, "target", SplitConfig(), "d")
    a, b, c = (split(table, SplitConfig(), seed) for seed in (1, 1, 2))
    assert a.part("test").equals(b.part("test"))
    assert not a.part("test").equals(c.part("test"))


import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from tabflow.config import SplitConfig  # noqa: E402
from tabflow.data import clean  # noqa: E402
from tabflow.data.split import check_leaks, split  # noqa: E402
from tabflow.errors import DataError  # noqa: E402


def table(n: int = 200) -> clean.CleanTable:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "when": pd.date_range("2020-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
            "customer": rng.integers(0, 40, n).astype(str),
            "y": rng.normal(size=n),
        }
    )
    frame.loc[n // 2 :, "when"] = frame.loc[: n - n // 2 - 1, "when"].to_numpy()  # dates repeat
    return clean.clean_table(
        frame.sample(frac=1, random_state=1), "y", SplitConfig(), "d", columns={"customer": "drop"}
    )


def test_time_split_keeps_order_and_ties_together():
    s = split(table(), SplitConfig(strategy="time", column="when"), seed=0)
    train, val, test = (pd.to_datetime(s.part(p)["when"]) for p in ("train", "val", "test"))
    assert train.max() < val.min() and val.max() < test.min()
    assert sum(s.sizes().values()) == 200 and s.sizes()["train"] >= 140


def test_group_split_never_puts_a_group_in_two_splits():
    s = split(table(), SplitConfig(strategy="group", column="customer"), seed=0)
    groups = [set(s.part(p)["customer"]) for p in ("train", "val", "test")]
    assert not groups[0] & groups[1] and not groups[0] & groups[2] and not groups[1] & groups[2]
    assert "customer" not in s.features, "a dropped column can still define the groups"


def test_regression_defaults_to_a_random_split_and_refuses_stratification():
    assert split(table(), SplitConfig(), seed=0).task == "regression"
    with pytest.raises(Exception, match="stratified split needs classes"):
        split(table(), SplitConfig(strategy="stratified"), seed=0)


@pytest.mark.parametrize(
    ("parts", "strategy", "expected"),
    [
        (
            [pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [3]}), pd.DataFrame({"a": [2]})],
            "random",
            "1 identical row",
        ),
        (
            [
                pd.DataFrame({"a": [1], "g": ["u"]}),
                pd.DataFrame({"a": [2], "g": ["v"]}),
                pd.DataFrame({"a": [3], "g": ["u"]}),
            ],
            "group",
            "group 'u' is in both train and test",
        ),
        (
            [
                pd.DataFrame({"a": [1], "g": [5]}),
                pd.DataFrame({"a": [2], "g": [3]}),
                pd.DataFrame({"a": [3], "g": [9]}),
            ],
            "time",
            "time order is broken",
        ),
    ],
)
def test_leak_checks_fail_the_run(parts, strategy, expected):
    bounds = np.cumsum([0] + [len(p) for p in parts])
    rows = {name: np.arange(bounds[i], bounds[i + 1]) for i, name in enumerate(("train", "val", "test"))}
    with pytest.raises(DataError, match=expected):
        check_leaks(pd.concat(parts, ignore_index=True), rows, strategy, "g")


def test_split_settings_are_checked():
    with pytest.raises(ValueError, match=r"needs split\.column"):
        SplitConfig(strategy="time")
    with pytest.raises(DataError, match=r"split\.column 'nope' is not in the table"):
        split(table(), SplitConfig(strategy="group", column="nope"), seed=0)
