def test_split_is_stratified_disjoint_and_seeded(splits, raw):
    sizes = splits.sizes()
    assert sum(sizes.values()) == len(raw)
    assert abs(sizes["train"] / len(raw) - 0.70) < 0.01 and abs(sizes["test"] / len(raw) - 0.15) < 0.01
    overall = raw["target"].mean()
    for part in ("train", "val", "test"):
        assert abs(splits.y(part).mean() - overall) < 0.02, f"{part} is not stratified"
    keys = {part: set(map(tuple, getattr(splits, part).round(6).to_numpy())) for part in ("train", "val", "test")}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]


def test_same_seed_same_split_other_seed_other_split(raw):
    from tabflow import data
    from tabflow.config import SplitConfig
    from tabflow.splitting import split

    table = data.clean_table(raw, "target", SplitConfig(), "d")
    a, b, c = (split(table, SplitConfig(), seed) for seed in (1, 1, 2))
    assert a.test.equals(b.test)
    assert not a.test.equals(c.test)
