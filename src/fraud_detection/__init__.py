"""Card-transaction fraud detection: the worked example of a lab2prod Kedro project."""

__version__ = "0.1.0"
