"""Prefect flows and deployments: the orchestration layer (tabflow/ holds the logic)."""

import re


def artifact_key(model_name: str) -> str:
    """A Prefect artifact key for a model: Prefect's keys take lowercase letters, digits and dashes only."""
    return "-".join(filter(None, re.split(r"[^a-z0-9]+", model_name.lower())))
