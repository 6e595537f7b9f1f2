"""Errors raised by lab2prod.

The tree::

    Lab2ProdError                   every error lab2prod raises on purpose
     └── ContractError              a data contract cannot be inferred, used or derived

Each error says what failed, the offending value and the fix, and carries structured fields for
programs that handle it.
"""

from __future__ import annotations


class Lab2ProdError(Exception):
    """Base class of every error lab2prod raises on purpose."""


class ContractError(Lab2ProdError, ValueError):
    """A data contract cannot be inferred from the data, or turned into a request model."""
