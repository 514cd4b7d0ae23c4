"""Prefect artifact keys made from model names (Prefect takes lowercase letters, digits and dashes only)."""

import pytest

from flows import artifact_key


@pytest.mark.parametrize(
    ("name", "key"), [("breast_cancer", "breast-cancer"), ("Churn.v2", "churn-v2"), ("a--b__c", "a-b-c")]
)
def test_artifact_keys(name, key):
    assert artifact_key(name) == key
