"""The code of the surrogate's MLflow model (MLflow's "models from code").

MLflow copies this file into the saved model and runs it when the model is loaded;
it names the :class:`~flows.surrogate_model.SurrogatePyfunc` class, which reads the
fitted surrogate from the model's artifacts. Saving the model this way, rather than
pickling a ``PythonModel`` object, is the form MLflow recommends.
"""

from mlflow.models import set_model

from flows.surrogate_model import SurrogatePyfunc

set_model(SurrogatePyfunc())
