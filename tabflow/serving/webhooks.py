"""MLflow's alias webhooks: the signature check of a delivery, and registering this server for them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

WEBHOOK_EVENTS: tuple[Any, ...] = ("model_version_alias.created", "model_version_alias.deleted")


def signed(secret: str, headers, body: bytes, now: float, max_age_s: float = 300) -> bool:
    """An MLflow webhook delivery's HMAC-SHA256 signature over "<delivery id>.<timestamp>.<body>", sent within
    `max_age_s` (a recorded delivery replayed later is refused)."""
    delivery, stamp = headers.get("x-mlflow-delivery-id", ""), headers.get("x-mlflow-timestamp", "")
    if not delivery or not stamp.isdigit() or abs(now - int(stamp)) > max_age_s:
        return False
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return hmac.compare_digest(f"v1,{base64.b64encode(digest).decode()}", headers.get("x-mlflow-signature", ""))


def register_webhook(url: str, secret: str) -> str:
    """Ask the MLflow tracking server to call `url` when an alias moves (once per url: a restart updates it)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for hook in client.list_webhooks():
        if hook.url == url:
            client.update_webhook(hook.webhook_id, events=list(WEBHOOK_EVENTS), secret=secret, status="ACTIVE")
            return hook.webhook_id
    return client.create_webhook("tabflow-serve", url, list(WEBHOOK_EVENTS), secret=secret).webhook_id
