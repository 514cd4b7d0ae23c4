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
