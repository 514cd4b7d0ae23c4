"""What the served model adds after the network, fitted on held-out rows: temperature, threshold, interval."""

import numpy as np
import pytest

from tabflow.model import calibrate


def labelled(n: int, seed: int, sharpen: float = 1.0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    y = (rng.random(n) < p).astype(int)  # p is the true probability: calibrated
    logit = np.log(p / (1 - p)) * sharpen
    return y, 1 / (1 + np.exp(-logit))


@pytest.mark.parametrize("sharpen", [0.4, 1.0, 3.0])
def test_temperature_never_makes_the_held_out_log_loss_worse(sharpen):
    y, p = labelled(2000, 0, sharpen)
    t = calibrate.temperature("binary", y, p)
    before, after = calibrate.log_loss("binary", y, p), calibrate.log_loss("binary", y, calibrate.scale("binary", p, t))
    assert after <= before + 1e-12
    if sharpen == 1.0:
        assert t == 1.0, "calibrated probabilities are left alone"
    else:
        assert (t > 1) == (sharpen > 1), f"overconfident output is softened, underconfident sharpened: {t}"
        assert after < before * 0.99


def test_temperature_leaves_a_few_separable_rows_alone():
    """Out of sample, a sharpening fitted on 86 separable rows ruins test log loss: under the row floor, none."""
    y = np.r_[np.zeros(40, int), np.ones(46, int)]
    p = np.r_[np.linspace(0.01, 0.1, 40), np.linspace(0.9, 0.99, 46)]
    assert calibrate.temperature("binary", y, p) == 1.0


def test_multiclass_temperature_keeps_rows_summing_to_one_and_the_argmax():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(500, 4)) * 3
    y = np.array([rng.choice(4, p=np.exp(r / 3) / np.exp(r / 3).sum()) for r in logits])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    t = calibrate.temperature("multiclass", y, p)
    scaled = calibrate.scale("multiclass", p, t)
    assert t == pytest.approx(3.0, rel=0.25), "the logits were three times too sharp"
    assert np.allclose(scaled.sum(axis=1), 1) and (scaled.argmax(axis=1) == p.argmax(axis=1)).all()


def confusion(y, p, t):
    pred = p >= t
    return (pred & (y == 1)).sum(), (pred & (y == 0)).sum(), (~pred & (y == 1)).sum(), (~pred & (y == 0)).sum()


def test_each_threshold_rule_optimises_what_it_names():
    y, p = labelled(3000, 1)
    cuts = np.linspace(0.01, 0.99, 99)

    def best(measure):
        return max(measure(*confusion(y, p, c)) for c in cuts)

    def f1(tp, fp, fn, tn):
        return 2 * tp / (2 * tp + fp + fn)

    def youden(tp, fp, fn, tn):
        return tp / (tp + fn) - fp / (fp + tn)

    assert calibrate.threshold(0.3, y, p) == 0.3, "a number is taken as it is"
    assert f1(*confusion(y, p, calibrate.threshold("f1", y, p))) >= best(f1) - 1e-12
    assert youden(*confusion(y, p, calibrate.threshold("youden", y, p))) >= best(youden) - 1e-12
    tp, fp, fn, _ = confusion(y, p, calibrate.threshold({"recall": 0.9}, y, p))
    assert tp / (tp + fn) >= 0.9
    tp2, fp2, *_ = confusion(y, p, calibrate.threshold({"recall": 0.9}, y, p) + 0.01)
    assert tp2 / (y == 1).sum() < 0.9 or fp2 == fp, "the highest threshold that keeps the recall"
    tp, fp, *_ = confusion(y, p, calibrate.threshold({"precision": 0.9}, y, p))
    assert tp / (tp + fp) >= 0.9
    costs = {"fp": 1.0, "fn": 5.0}
    chosen = confusion(y, p, calibrate.threshold({"cost": costs}, y, p))
    assert chosen[1] + 5 * chosen[2] <= min(fp + 5 * fn for tp, fp, fn, tn in (confusion(y, p, c) for c in cuts))


def test_a_precision_no_threshold_reaches_gives_the_most_precise_one():
    y, p = np.array([0, 1, 0, 1]), np.array([0.9, 0.8, 0.7, 0.1])
    assert calibrate.threshold({"precision": 0.99}, y, p) > 0.8, "above every positive: nothing is flagged"


def test_conformal_intervals_cover_within_three_points_over_twenty_seeds():
    coverages = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=3000)
        y = 2 * x + rng.standard_t(4, size=3000)  # heavy tails: a normal interval would miss
        pred = 2 * x
        w = calibrate.interval(y[:1000], pred[:1000], 0.9)
        coverages.append(np.mean(np.abs(y[1000:] - pred[1000:]) <= w))
    # Over 20 seeds the mean is within 1.5 points of nominal; any one seed varies with its 1,000 calibration rows
    # and 2,000 test rows (a standard deviation near 1.2 points), so each is held to 5.
    assert abs(np.mean(coverages) - 0.9) < 0.015 and all(abs(c - 0.9) < 0.05 for c in coverages), coverages


def test_fit_fills_what_each_task_needs():
    y, p = labelled(1000, 2)
    binary = calibrate.fit("binary", y, p, True, "f1", 0.9)
    assert binary.coverage is None and binary.threshold != 0.5 and binary.rows == 1000
    regression = calibrate.fit("regression", np.arange(100.0), np.arange(100.0) + 1, True, 0.5, 0.8)
    assert regression.half_width == 1.0 and regression.coverage == 0.8 and regression.temperature == 1.0
    assert calibrate.fit("regression", np.arange(10.0), np.arange(10.0), True, 0.5, None).half_width is None
