"""tabflow: a table in, a tuned, evaluated and promoted Keras model in the MLflow registry out.

This package holds the pure logic and never imports prefect; tasks/ and flows/ orchestrate it.
"""

__version__ = "0.1.0"
