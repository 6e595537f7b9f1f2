"""The kernel notebooks run in: this environment's Python, whatever kernel specs are installed.

A kernel spec named ``python3`` in ``~/.local/share/jupyter`` (or anywhere on ``JUPYTER_PATH``)
may point at another Python, with other packages, and papermill would use it silently.
``ProjectKernelManager`` never looks kernel specs up: it starts ``sys.executable -m
ipykernel_launcher``, so a notebook node runs with exactly the packages ``kedro run`` has.

``Lab2ProdEngine`` is the papermill engine (papermill's extension point) that uses it, and that
adds lab2prod's ``injected-inputs`` cell right after papermill's ``injected-parameters`` cell.
This module imports papermill: import it only when a notebook runs.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

import zmq
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec
from nbformat import NotebookNode
from papermill.engines import NBClientEngine, papermill_engines
from traitlets import Dict, Unicode, default
from traitlets.config import Config

from lab2prod.notebook import PARAMETERS_TAG

ENGINE_NAME = "lab2prod"
KERNEL_NAME = "lab2prod"
INPUTS_TAG = "injected-inputs"
"""The tag of the cell lab2prod injects: it loads the inputs and tells ``record()`` where to
write."""
INJECTED_PARAMETERS_TAG = "injected-parameters"
"""papermill's tag for the cell it adds with the parameters' values."""

_managers: weakref.WeakSet[ProjectKernelManager] = weakref.WeakSet()


class ProjectKernelManager(AsyncKernelManager):
    """Starts an IPython kernel on this process's interpreter; never reads kernel specs."""

    kernel_env = Dict(
        value_trait=Unicode(),
        help="Environment variables the kernel gets on top of this process's (thread pools).",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _managers.add(self)

    @property
    def kernel_spec(self) -> KernelSpec:
        """The spec of an IPython kernel running ``sys.executable``."""
        if self._kernel_spec is None:
            self._kernel_spec = KernelSpec(
                name=KERNEL_NAME,
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python {sys.version_info[0]} ({sys.prefix})",
                language="python",
                interrupt_mode="signal",
                env=dict(self.kernel_env),
                metadata={"debugger": True, "supported_encryption": ["curve"]},
            )
        return self._kernel_spec

    @property
    def ipykernel(self) -> bool:
        """Always an IPython kernel (nbclient then keeps its history in memory)."""
        return True

    @default("transport_encryption")
    def _transport_encryption_default(self) -> str:
        # Encrypt the loopback channels where libzmq can; it also spares the kernel's warning.
        return "auto" if zmq.has("curve") else "disabled"


class Lab2ProdEngine(NBClientEngine):
    """papermill's nbclient engine on the project's kernel, plus lab2prod's injected cell.

    Extra keyword arguments: ``lab2prod_cell``, the source of the cell to inject (tagged
    ``injected-inputs``) after papermill's parameters cell; ``kernel_env``, environment
    variables for the kernel (a sweep sizes each kernel's thread pools with them).
    """

    @classmethod
    def execute_notebook(
        cls, nb: NotebookNode, kernel_name: str, *, lab2prod_cell: str, **kwargs: Any
    ) -> NotebookNode:
        """Inject lab2prod's cell, then run the notebook as papermill's nbclient engine does."""
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(source=lab2prod_cell)
        cell.metadata["tags"] = [INPUTS_TAG]
        nb.cells.insert(injection_index(nb), cell)
        return super().execute_notebook(nb, kernel_name, **kwargs)

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        *,
        kernel_env: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run on ``ProjectKernelManager``; a failed run kills the kernel at once."""
        if kernel_env:
            # nbclient makes the kernel manager with its own config: the one way in.
            kwargs["config"] = Config({"ProjectKernelManager": {"kernel_env": kernel_env}})
        # "immediate": a timed-out cell may ignore the interrupt a graceful shutdown sends first,
        # and a graceful shutdown waits up to 5 s for it.
        return super().execute_managed_notebook(
            nb_man,
            kernel_name,
            kernel_manager_class=ProjectKernelManager,
            shutdown_kernel="immediate",
            **kwargs,
        )


def injection_index(nb: NotebookNode) -> int:
    """Where lab2prod's cell goes: after papermill's parameters cell, else after the
    ``parameters`` cell, else first."""
    for tag in (INJECTED_PARAMETERS_TAG, PARAMETERS_TAG):
        for index, cell in enumerate(nb.cells):
            if tag in cell.get("metadata", {}).get("tags", []):
                return index + 1
    return 0


def kill_kernels() -> int:
    """Kill every kernel this process started that still runs; return how many.

    Kernels run in sessions of their own, so a Ctrl-C in the terminal does not reach them; a
    sweep interrupted by one calls this, and each run's cell fails at once as a dead kernel.
    """
    killed = 0
    for manager in list(_managers):
        process = getattr(manager.provisioner, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            killed += 1
    return killed


def register_engine() -> None:
    """Make ``Lab2ProdEngine`` available to ``papermill.execute_notebook`` (idempotent)."""
    papermill_engines.register(ENGINE_NAME, Lab2ProdEngine)
