"""Thin Prefect tasks, one module per stage, each calling tabflow/.

Tasks pass frames in memory within one flow run: no input hashing (slow for large frames) and no pickled
results on disk (never cleaned up). Crash-safe resumes come from the Optuna study, not task caching.
"""

from prefect.cache_policies import NO_CACHE

STAGE = {"cache_policy": NO_CACHE, "persist_result": False}
