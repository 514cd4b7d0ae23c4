"""MLflow webhook signatures."""


def test_webhook_signatures_are_checked_as_mlflow_makes_them():
    import json
    import time

    from mlflow.webhooks.delivery import _generate_hmac_signature

    from tabflow.serving.webhooks import signed

    body = json.dumps(
        {
            "entity": "model_version_alias",
            "action": "created",
            "data": {"name": "m", "alias": "champion", "version": "2"},
        }
    )
    now = int(time.time())
    headers = {
        "x-mlflow-delivery-id": "d-1",
        "x-mlflow-timestamp": str(now),
        "x-mlflow-signature": _generate_hmac_signature("s" * 20, "d-1", str(now), body),
    }
    assert signed("s" * 20, headers, body.encode(), now)
    assert not signed("t" * 20, headers, body.encode(), now), "another secret"
    assert not signed("s" * 20, headers, body.replace("2", "3").encode(), now), "a changed body"
    assert not signed("s" * 20, headers, body.encode(), now + 3600), "a delivery replayed an hour later"
    assert not signed("s" * 20, {**headers, "x-mlflow-signature": ""}, body.encode(), now), "no signature"
