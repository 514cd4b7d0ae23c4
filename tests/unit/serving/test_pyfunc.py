"""The logged pyfunc."""

import mlflow
import numpy as np

from tabflow import tracking
from tabflow.features.preprocessor import transform
from tabflow.model.inputs import prepare
from tabflow.model.network import MLPParams, fit_network, predict_proba
from tabflow.serving import pyfunc


def test_pyfunc_takes_raw_rows_and_matches_the_network(tmp_path, splits):
    tracking.configure(tmp_path / "mlruns")
    data = prepare(splits)
    network, _ = fit_network(MLPParams(width=8, depth=1), data, epochs=2, seed=0)
    client = mlflow.MlflowClient()
    experiment = tracking.experiment_id(client, "serving", tmp_path / "mlruns")
    run_id = tracking.start_run(client, experiment, "fit")
    info = pyfunc.log_model(network, data.preprocessor, splits.x("train"), splits.roles, splits.classes, run_id)
    model = mlflow.pyfunc.load_model(info.model_uri)

    test = splits.x("test")
    shuffled = test[list(reversed(test.columns))].assign(extra_column=1.0)
    out = model.predict(shuffled)
    expected = predict_proba(network, transform(data.preprocessor, test))
    assert np.allclose(out["probability"].to_numpy(), expected, atol=1e-6), "served probabilities differ"
    assert set(out["label"]) <= set(splits.classes)
    assert ((out["probability"] >= 0.5) == (out["label"] == splits.classes[1])).all()
    assert all(
        req.split("==")[0]
        in {
            "keras",
            "mlflow",
            "numpy",
            "pandas",
            "scikit-learn",
            "tensorflow-cpu",
            "tensorflow",
            "cloudpickle",
            "joblib",
        }
        for req in pyfunc.pip_requirements()
    )


def logged(tmp_path, splits, task: str, after, epochs: int):
    """(network, preprocessor, loaded pyfunc): a small network logged as `task` with `after`."""
    tracking.configure(tmp_path / "mlruns")
    data = prepare(splits)
    network, _ = fit_network(MLPParams(width=8, depth=1), data, epochs=epochs, seed=0)
    client = mlflow.MlflowClient()
    run_id = tracking.start_run(client, tracking.experiment_id(client, task, tmp_path / "mlruns"), "fit")
    classes = splits.classes if task != "regression" else ()
    info = pyfunc.log_model(network, data.preprocessor, splits.x("train"), splits.roles, classes, run_id, task, after)
    return network, data.preprocessor, mlflow.pyfunc.load_model(info.model_uri)


def test_the_served_model_applies_its_temperature_and_threshold(tmp_path, splits):
    """probability is the temperature-scaled one; label uses the stored threshold, not 0.5."""
    from tabflow.model.calibrate import After, scale

    network, preprocessor, model = logged(tmp_path, splits, "binary", After(temperature=2.0, threshold=0.8), 2)
    out = model.predict(splits.x("test"))
    raw = predict_proba(network, transform(preprocessor, splits.x("test")))
    assert np.allclose(out["probability"], scale("binary", raw, 2.0), atol=1e-6)
    assert ((out["probability"] >= 0.8) == (out["label"] == splits.classes[1])).all()


def test_a_regression_model_returns_its_interval(tmp_path, splits):
    """The network here is the demo's; logged as a regression model, its one output is the prediction."""
    from tabflow.model.calibrate import After

    _, _, model = logged(tmp_path, splits, "regression", After(coverage=0.9, half_width=0.25), 1)
    out = model.predict(splits.x("test"))
    assert list(out.columns) == ["prediction", "prediction_lower", "prediction_upper"]
    assert np.allclose(out["prediction_upper"] - out["prediction"], 0.25)
    assert np.allclose(out["prediction"] - out["prediction_lower"], 0.25)
