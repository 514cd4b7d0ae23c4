import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tabflow.config import PipelineConfig, load_config
from tabflow.errors import ConfigError


def test_flags_override_yaml(tmp_path):
    path = tmp_path / "tabflow.yaml"
    path.write_text("data: {source: builtin:breast_cancer}\ntune: {n_trials: 7, max_epochs: 4}\nseed: 1\n")
    cfg = load_config(path, trials=3)
    assert cfg.tune.n_trials == 3, "a flag must win over the YAML"
    assert cfg.tune.max_epochs == 4 and cfg.seed == 1, "YAML settings without a flag must be kept"


def test_model_name_defaults_to_the_data_stem():
    assert load_config(data="builtin:breast_cancer").model_name == "breast_cancer"
    assert load_config(data="/data/churn v2.csv").model_name == "churn_v2"
    assert load_config(data="x.csv", model_name="mine").model_name == "mine"


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("data: {source: x.csv}\ntune: {n_trails: 3}\n", "unknown config key 'tune.n_trails'"),
        ("data: {source: x.csv}\ntune: {n_trials: 0}\n", "invalid config value for 'tune.n_trials'"),
        ("data: {source: x.csv}\nsplit: {train: 0.5, val: 0.1, test: 0.1}\n", "must be 1.0"),
        ("data: [oops\n", "is not valid YAML"),
        ("tune: {n_trials: 3}\n", "no data given"),
        (
            "data: {source: x.csv}\ntrain: {patience: 3}\n",
            "train.patience is gone: the final fit trains tune.max_epochs",
        ),
        ("data: {source: x.csv}\ngate: {baseline: forest}\n", "invalid config value for 'gate.baseline'"),
    ],
)
def test_bad_config_names_the_setting(tmp_path, yaml_text, expected):
    path = tmp_path / "tabflow.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert "\n" not in str(info.value), "errors are one line"


def test_missing_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml", data="x.csv")


def test_config_is_frozen_and_hash_tracks_every_setting():
    a = PipelineConfig.model_validate({"data": {"source": "x.csv"}})
    b = PipelineConfig.model_validate({"data": {"source": "x.csv"}, "seed": 43})
    with pytest.raises(ValidationError, match="frozen"):
        a.seed = 1
    assert a.digest() != b.digest(), "changing the seed must change the config hash"
    assert a.digest() == PipelineConfig.model_validate({"data": {"source": "x.csv"}}).digest()


def test_example_config_documents_the_defaults():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "tabflow.example.yaml"
    assert load_config(example) == PipelineConfig.model_validate({"data": {"source": "builtin:breast_cancer"}}), (
        "tabflow.example.yaml must show every default as it is"
    )


ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
# An inline example in the docs: `gate.floors` (e.g. `{recall: 0.8}`), or in the example YAML a comment
# `floors: {}  # ..., e.g. {recall: 0.8}` under the section `gate:`.
INLINE = re.compile(r"`([a-z_]+\.[a-z_]+)`[^`]{0,40}?e\.g\.,?\s+`(\{[^`]+\})`")


def readme_examples() -> list[tuple[str, dict]]:
    """Every YAML block the README shows, and every inline `setting` (e.g. `{...}`) example, as a config."""
    found = [
        (f"README yaml block {i}", yaml.safe_load(b))
        for i, b in enumerate(re.findall(r"```yaml\n(.*?)```", README, re.DOTALL))
    ]
    for path, value in INLINE.findall(README):
        section, key = path.split(".")
        found.append((f"README `{path}` e.g. {value}", {section: {key: yaml.safe_load(value)}}))
    return found


def example_yaml_examples() -> list[tuple[str, dict]]:
    found, section = [], None
    for line in (ROOT / "tabflow.example.yaml").read_text().splitlines():
        if re.match(r"^[a-z_]+:\s*(#.*)?$", line):
            section = line.split(":")[0]
        match = re.match(r"^\s+([a-z_]+):.*#.*e\.g\. (\{[^}]*\})", line)
        if match and section:
            found.append(
                (
                    f"tabflow.example.yaml {section}.{match[1]} e.g. {match[2]}",
                    {section: {match[1]: yaml.safe_load(match[2])}},
                )
            )
    return found


def field_examples() -> list[tuple[str, dict]]:
    """The examples in the settings' own descriptions (shown in error messages)."""
    from tabflow.config import PipelineConfig

    found = []
    for section, info in PipelineConfig.model_fields.items():
        for key, field in getattr(info.annotation, "model_fields", {}).items():
            for value in re.findall(r"e\.g\. (\{[^}]*\})", field.description or ""):
                found.append((f"{section}.{key} description e.g. {value}", {section: {key: yaml.safe_load(value)}}))
    return found


def test_the_docs_show_examples_to_check():
    assert len(readme_examples()) >= 4 and len(example_yaml_examples()) >= 3 and len(field_examples()) >= 2, (
        "the README and tabflow.example.yaml show config examples; this test must find them to check them"
    )


@pytest.mark.parametrize(
    ("where", "example"), readme_examples() + example_yaml_examples() + field_examples(), ids=lambda v: str(v)[:60]
)
def test_every_config_example_in_the_docs_is_accepted(where, example):
    raw = {"data": {"source": "builtin:breast_cancer"}, **example}
    raw["data"] = {"source": "builtin:breast_cancer", **(example.get("data") or {})}
    cfg = PipelineConfig.model_validate(raw)
    cfg.gate.check_task("binary")  # the examples are for the demo table: metrics of a binary task


def test_the_metric_vocabulary_is_checked_at_the_edge_and_per_task():
    with pytest.raises(ConfigError, match="unknown metric 'recal'"):
        _load({"gate": {"floors": {"recal": 0.8}}})
    cfg = _load({"gate": {"floors": {"recall": 0.8}}})
    with pytest.raises(ConfigError, match="not a regression metric"):
        cfg.gate.check_task("regression")
    assert cfg.gate.metric_for("regression") == "rmse" and cfg.gate.metric_for("multiclass") == "auc"


def _load(extra: dict) -> PipelineConfig:
    try:
        return PipelineConfig.model_validate({"data": {"source": "x.csv"}, **extra})
    except ValidationError as exc:
        from tabflow.config import describe_validation_error

        raise ConfigError(describe_validation_error(exc)) from None


def test_every_setting_says_what_it_does():
    from tabflow import config

    missing = [
        f"{section.__name__}.{name}"
        for section in (config.DataConfig, config.SplitConfig, config.TuneConfig, config.TrainConfig, config.GateConfig)
        for name, field in section.model_fields.items()
        if not field.description and name not in SELF_EXPLAINING
    ]
    assert not missing, f"settings without a description (shown in errors and docs): {missing}"


SELF_EXPLAINING = {"target", "train", "val", "test", "timeout_s", "pruner"}
