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


def delivery(secret: str, body: bytes, stamp: str, delivery_id: str = "d-1") -> dict:
    from mlflow.webhooks.delivery import _generate_hmac_signature

    signature = _generate_hmac_signature(secret, delivery_id, stamp, body.decode())
    return {"x-mlflow-delivery-id": delivery_id, "x-mlflow-timestamp": stamp, "x-mlflow-signature": signature}


def test_hostile_headers_are_refused_without_raising():
    """Headers arrive as latin-1: "²" passes str.isdigit but not int(); a non-ASCII signature made
    compare_digest raise; 5,000 digits pass isdigit but not int() (review M2)."""
    import time

    from tabflow.serving.webhooks import signed

    now, body = int(time.time()), b"{}"
    good = delivery("s" * 20, body, str(now))
    for changed in (
        {"x-mlflow-timestamp": "\xb2"},
        {"x-mlflow-timestamp": "9" * 5000},
        {"x-mlflow-signature": "v1,\xe9"},
        {"x-mlflow-delivery-id": ""},
        {"x-mlflow-timestamp": str(now + 3600)},  # from the future
    ):
        assert not signed("s" * 20, {**good, **changed}, body, now), f"{changed!r} should be refused"
    assert signed("s" * 20, good, body, now), "the unchanged delivery is fine"


def test_a_delivery_is_taken_once():
    import time

    from tabflow.serving.webhooks import Deliveries

    now, body = int(time.time()), b"{}"
    seen = Deliveries()
    first = delivery("s" * 20, body, str(now))
    assert seen.fresh("s" * 20, first, body, now), "a new delivery is taken"
    assert not seen.fresh("s" * 20, first, body, now + 1), "the same delivery again is a replay"
    assert seen.fresh("s" * 20, delivery("s" * 20, body, str(now), "d-2"), body, now + 1), "another id is new"
