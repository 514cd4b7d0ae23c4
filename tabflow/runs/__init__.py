"""The stages of a training run that touch MLflow, as plain functions (tasks/ wraps each one), and run tracking."""
