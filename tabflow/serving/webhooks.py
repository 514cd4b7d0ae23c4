"""MLflow's alias webhooks: the signature check of a delivery, and registering this server for them."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

WEBHOOK_EVENTS: tuple[Any, ...] = ("model_version_alias.created", "model_version_alias.deleted")
SKEW_S = 30  # a timestamp this far ahead of our clock is skew; further ahead, a forgery


def signed(secret: str, headers, body: bytes, now: float, max_age_s: float = 300) -> bool:
    """An MLflow webhook delivery's HMAC-SHA256 signature over "<delivery id>.<timestamp>.<body>", sent within
    `max_age_s` and not from the future (a recorded delivery replayed later is refused). Never raises: headers
    are the sender's bytes, decoded as latin-1."""
    delivery, stamp = headers.get("x-mlflow-delivery-id", ""), headers.get("x-mlflow-timestamp", "")
    if not delivery or not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return False
    if not -SKEW_S <= now - int(stamp) <= max_age_s:
        return False
    digest = hmac.new(secret.encode(), f"{delivery}.{stamp}.".encode("latin-1") + body, hashlib.sha256).digest()
    expected = f"v1,{base64.b64encode(digest).decode()}".encode()
    return hmac.compare_digest(expected, headers.get("x-mlflow-signature", "").encode("latin-1"))


class Deliveries:
    """Signed deliveries, each taken once: a delivery id seen within the signature's window is a replay."""

    def __init__(self, max_age_s: float = 300):
        self.max_age_s = max_age_s
        self.seen: dict[str, float] = {}  # delivery id -> when it arrived

    def fresh(self, secret: str, headers, body: bytes, now: float) -> bool:
        if not signed(secret, headers, body, now, self.max_age_s):
            return False
        self.seen = {k: t for k, t in self.seen.items() if now - t <= self.max_age_s}
        delivery = headers.get("x-mlflow-delivery-id", "")
        if delivery in self.seen:
            return False
        self.seen[delivery] = now
        return True


def register_webhook(url: str, secret: str) -> str:
    """Ask the MLflow tracking server to call `url` when an alias moves (once per url: a restart updates it)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for hook in client.list_webhooks():
        if hook.url == url:
            client.update_webhook(hook.webhook_id, events=list(WEBHOOK_EVENTS), secret=secret, status="ACTIVE")
            return hook.webhook_id
    return client.create_webhook("tabflow-serve", url, list(WEBHOOK_EVENTS), secret=secret).webhook_id
