import pytest
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
