"""Category codes."""


def test_vocabulary_codes_frequent_values_and_sends_the_rest_to_other():
    import pandas as pd

    from tabflow.features.encoders import Vocabulary

    train = pd.DataFrame({"c": ["a"] * 9 + ["b"] * 6 + ["rare"] * 2 + [None] * 5})
    vocab = Vocabulary(max_categories=10, min_count=5).fit(train)
    assert vocab.vocabularies_ == {"c": ["a", "b", "(missing)"]} and vocab.tokens(0) == (4,)
    codes = vocab.transform(pd.DataFrame({"c": ["a", "b", None, "rare", "never seen"]}))
    assert codes.ravel().tolist() == [1, 2, 3, 0, 0]
    capped = Vocabulary(max_categories=2, min_count=1).fit(train)
    assert capped.vocabularies_ == {"c": ["a"]}, "the cap keeps the most frequent values"
    assert vocab.folded_ == {"c": {"values": 1, "rows": 2}} and capped.folded_ == {"c": {"values": 3, "rows": 13}}
