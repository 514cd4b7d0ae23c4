"""The file MLflow loads a logged tabflow model from (models-from-code: no pickled Python objects).

It only runs inside `mlflow.pyfunc.load_model`; nothing imports it.
"""

from mlflow.models import set_model

from tabflow.serving.pyfunc import TabflowModel

set_model(TabflowModel())
