"""Category codes and RealMLP's numeric scaling."""

import numpy as np


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


def test_real_scaler_scales_as_realmlp_does():
    """pytabkit's robust_scale + smooth_clip: median, 1/IQR, 2/(max-min) for a zero IQR, 0 for a constant."""
    from tabflow.features.encoders import RealScaler, smooth_clip

    spread = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 100.0])  # median 2.5, IQR 2.5
    rare = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])  # IQR 0, range 1: factor 2
    const = np.full(6, 7.0)
    out = RealScaler().fit_transform(np.column_stack([spread, rare, const]))
    assert np.allclose(out[:, 0], smooth_clip((spread - 2.5) / 2.5), atol=1e-6), "centred on the median, per IQR"
    assert np.allclose(out[:, 1], smooth_clip(rare * 2.0), atol=1e-6), "a zero IQR falls back to half the range"
    assert np.all(out[:, 2] == 0), "a constant column carries nothing: it becomes 0"
    assert out.dtype == np.float32 and np.abs(out).max() < 3, "bounded by the smooth clip"
    assert np.all(np.diff(out[:, 0]) > 0), "the clip keeps the order, the outlier stays the largest"


def test_smooth_clip_of_huge_values_is_three_not_zero():
    """(z / 3)^2 overflows float32 past about 5e19, and z / inf is 0: a huge value scored as a typical one."""
    from tabflow.features.encoders import smooth_clip

    z = np.array([1e20, -1e30, 3e38, 0.0], dtype="float32")
    np.testing.assert_allclose(smooth_clip(z.copy()), [3, -3, 3, 0], rtol=1e-6)
    np.testing.assert_allclose(smooth_clip(z.copy(), out=z), [3, -3, 3, 0], rtol=1e-6)
