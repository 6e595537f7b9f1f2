"""lab2prod: from a JupyterLab notebook to a model in production, as a Kedro plugin.

The package is imported by ``kedro`` on every command (through its ``kedro.project_commands``
entry point), so nothing heavy is imported here: papermill, nbconvert, pandera and BentoML are
imported inside the functions that use them.
"""

from __future__ import annotations

from lab2prod.errors import Lab2ProdError

__version__ = "0.1.0"

__all__ = ["Lab2ProdError", "__version__"]
