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


def test_the_served_model_applies_its_temperature_and_threshold(tmp_path, splits):
    """probability is the temperature-scaled one; label uses the stored threshold, not 0.5."""
    from tabflow.model.calibrate import After, scale

    tracking.configure(tmp_path / "mlruns")
    data = prepare(splits)
    network, _ = fit_network(MLPParams(width=8, depth=1), data, epochs=2, seed=0)
    client = mlflow.MlflowClient()
    run_id = tracking.start_run(client, tracking.experiment_id(client, "cal", tmp_path / "mlruns"), "fit")
    after = After(temperature=2.0, threshold=0.8)
    info = pyfunc.log_model(
        network, data.preprocessor, splits.x("train"), splits.roles, splits.classes, run_id, "binary", after
    )
    out = mlflow.pyfunc.load_model(info.model_uri).predict(splits.x("test"))
    raw = predict_proba(network, transform(data.preprocessor, splits.x("test")))
    assert np.allclose(out["probability"], scale("binary", raw, 2.0), atol=1e-6)
    assert ((out["probability"] >= 0.8) == (out["label"] == splits.classes[1])).all()


def test_a_regression_model_returns_its_interval(tmp_path, splits):
    """The network here is the demo's; logged as a regression model, its one output is the prediction."""
    from tabflow.model.calibrate import After

    tracking.configure(tmp_path / "mlruns")
    data = prepare(splits)
    network, _ = fit_network(MLPParams(width=8, depth=1), data, epochs=1, seed=0)
    client = mlflow.MlflowClient()
    run_id = tracking.start_run(client, tracking.experiment_id(client, "reg", tmp_path / "mlruns"), "fit")
    info = pyfunc.log_model(
        network,
        data.preprocessor,
        splits.x("train"),
        splits.roles,
        (),
        run_id,
        "regression",
        After(coverage=0.9, half_width=0.25),
    )
    out = mlflow.pyfunc.load_model(info.model_uri).predict(splits.x("test"))
    assert list(out.columns) == ["prediction", "prediction_lower", "prediction_upper"]
    assert np.allclose(out["prediction_upper"] - out["prediction"], 0.25)
    assert np.allclose(out["prediction"] - out["prediction_lower"], 0.25)
