"""The kedro-mlflow alternative of the serving benchmarks: the example's own pipelines, bound with
``pipeline_ml_factory`` and served by ``mlflow models serve`` (see ``soak.py``)."""
