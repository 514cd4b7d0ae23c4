import mlflow
import numpy as np

from tabflow import serving, tracking
from tabflow.model import MLPParams, fit_network, predict_proba, prepare, transform


def test_pyfunc_takes_raw_rows_and_matches_the_network(tmp_path, splits):
    tracking.configure(tmp_path / "mlruns")
    data = prepare(splits)
    network, _ = fit_network(MLPParams(units=8, n_layers=1), data, max_epochs=2, seed=0)
    client = mlflow.MlflowClient()
    experiment = tracking.experiment_id(client, "serving", tmp_path / "mlruns")
    run_id = tracking.start_run(client, experiment, "fit")
    info = serving.log_model(network, data.preprocessor, splits.x("train"), splits.roles, splits.classes, run_id)
    model = mlflow.pyfunc.load_model(info.model_uri)

    test = splits.x("test")
    shuffled = test[list(reversed(test.columns))].assign(extra_column=1.0)
    out = model.predict(shuffled)
    expected = predict_proba(network, transform(data.preprocessor, test))
    assert np.allclose(out["probability"].to_numpy(), expected, atol=1e-6), "served probabilities differ"
    assert set(out["label"]) <= set(splits.classes)
    assert ((out["probability"] >= 0.5) == (out["label"] == splits.classes[1])).all()
    assert all(req.split("==")[0] in {"keras", "mlflow", "numpy", "pandas", "scikit-learn", "tensorflow-cpu",
                                      "tensorflow", "cloudpickle", "joblib"} for req in serving.pip_requirements())


def test_webhook_signatures_are_checked_as_mlflow_makes_them():
    import json
    import time

    from mlflow.webhooks.delivery import _generate_hmac_signature

    from tabflow.server import signed

    body = json.dumps({"entity": "model_version_alias", "action": "created",
                       "data": {"name": "m", "alias": "champion", "version": "2"}})
    now = int(time.time())
    headers = {"x-mlflow-delivery-id": "d-1", "x-mlflow-timestamp": str(now),
               "x-mlflow-signature": _generate_hmac_signature("s" * 20, "d-1", str(now), body)}
    assert signed("s" * 20, headers, body.encode(), now)
    assert not signed("t" * 20, headers, body.encode(), now), "another secret"
    assert not signed("s" * 20, headers, body.replace("2", "3").encode(), now), "a changed body"
    assert not signed("s" * 20, headers, body.encode(), now + 3600), "a delivery replayed an hour later"
    assert not signed("s" * 20, {**headers, "x-mlflow-signature": ""}, body.encode(), now), "no signature"
