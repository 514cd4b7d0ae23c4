"""The model card's sections, from the demo table's splits and stand-in outputs."""

from types import SimpleNamespace

import numpy as np

from tabflow.config import PipelineConfig
from tabflow.model.calibrate import After
from tabflow.promotion.decision import Decision
from tabflow.runs.card import model_card
from tabflow.runs.evaluate import Evaluation
from tabflow.serving.contract import input_schema

SECTIONS = [
    "## Task",
    "## Training data",
    "## Columns",
    "## Test metrics (95% bootstrap intervals)",
    "## Calibration and threshold",
    "## Top features (permutation importance on the test rows)",
    "## Known limits",
    "## Lineage",
]


def test_the_card_has_every_section_with_the_run_s_facts(splits):
    cfg = PipelineConfig.model_validate({"data": {"source": "builtin:breast_cancer"}, "model_name": "cancer"})
    y = splits.y("test")
    rng = np.random.default_rng(0)
    good = np.clip(y * 0.8 + 0.1 + rng.normal(0, 0.05, len(y)), 0, 1)
    scores = Evaluation(
        test={"auc": 0.99, "ece": 0.031, "brier": 0.04},
        baselines={"dummy": {}, "logreg": {}},
        output=good,
        baseline_outputs={"dummy": np.full(len(y), y.mean()), "logreg": good[::-1].copy()},
        importance=(("worst radius", 0.05), ("mean texture", 0.01)),
    )
    after = After(temperature=1.4, threshold=0.37, rows=483, log_loss_before=0.2, log_loss_after=0.15)
    model = SimpleNamespace(after=after, capped={"city": {"values": 12, "rows": 30}})
    decision = Decision("PROMOTE", "no champion yet", "test_auc", 0.99, version="3")
    card = model_card(
        cfg,
        splits,
        model,
        scores,
        decision,
        {"data_digest": "abc", "version.keras": "3.15"},
        input_schema(splits.x("train"), splits.roles),
    )
    positions = [card.index(section) for section in SECTIONS]
    assert positions == sorted(positions), "every section, in order"
    assert card.startswith("# cancer, version 3") and "**Decision: PROMOTE.** no champion yet" in card
    assert "| mean radius | numeric |" in card, "each column's role and its training range"
    assert "temperature 1.4" in card and "P(positive) >= 0.37" in card and "| actual 1 |" in card
    auc_row = next(line for line in card.splitlines() if line.startswith("| auc"))
    assert auc_row.count("[") == 3, "an interval for the network and each baseline"
    assert "1. `worst radius`" in card and "`city`: 12 rare values" in card
    assert "- data_digest: `abc`" in card and "keras 3.15" in card
