"""The runs of a sweep: ``-p key=value`` and ``--grid key=v1,v2`` options, read and expanded.

Values are read as YAML 1.2 reads a scalar (``parse_value``): numbers, booleans, null, and
everything else as the text typed, so ``lr=1e-3`` is a float and ``day=2024-01-01`` a string.
The grid is the cartesian product of its keys' values; each run gets a folder name from the
values that set it apart, safe on any filesystem and unique within the sweep.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lab2prod.execute.results import Run, format_value

_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_NULL = frozenset({"null", "Null", "NULL", "~", "None"})
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+-]")
_MAX_NAME = 80

__all__ = ["Run", "expand_grid", "parse_grid", "parse_parameters", "parse_value"]


def parse_value(text: str) -> Any:
    """A value typed on the command line, as YAML 1.2 reads a scalar (and papermill's ``-p``).

    ==========================================  =====================================
    text                                        value
    ==========================================  =====================================
    ``3``, ``-2``, ``1_000``                    int
    ``0.5``, ``1e-3``, ``-inf``, ``nan``        float
    ``true``, ``True``, ``false``, ``False``    bool (``yes``, ``on`` stay strings)
    ``null``, ``~``, ``None``                   None
    ``"3"``, ``'true'``                         the text inside the quotes, a string
    anything else (``adam``, ``2024-01-01``)    the text as typed, a string
    ==========================================  =====================================

    Args:
        text: The value as typed.

    Returns:
        An int, float, bool, None or str.
    """
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if text in _NULL:
        return None
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def parse_parameters(options: Sequence[str]) -> dict[str, Any]:
    """``-p key=value`` options as parameters.

    Args:
        options: Each ``key=value`` as typed; the value is read by ``parse_value``.

    Returns:
        Parameter name to value, in the order given.

    Raises:
        ValueError: An option is not ``key=value`` with an identifier as key, or a key repeats.
    """
    parameters: dict[str, Any] = {}
    for option in options:
        key, text = _split_assignment(option, "-p")
        if key in parameters:
            raise ValueError(f"-p {key} is given twice; give each parameter once.")
        parameters[key] = parse_value(text)
    return parameters


def parse_grid(options: Sequence[str]) -> dict[str, list[Any]]:
    """``--grid key=v1,v2,...`` options as lists of values.

    Values are split on commas outside quotes (``--grid 'title="a,b",c'`` is two values) and
    stripped of spaces, then read by ``parse_value``.

    Args:
        options: Each ``key=v1,v2,...`` as typed.

    Returns:
        Parameter name to its values, in the order given.

    Raises:
        ValueError: An option is not ``key=values``, a key repeats, or a value repeats.
    """
    grid: dict[str, list[Any]] = {}
    for option in options:
        key, text = _split_assignment(option, "--grid")
        if key in grid:
            raise ValueError(
                f"--grid {key} is given twice; list all its values in one option: "
                f"--grid {key}=v1,v2,..."
            )
        texts = _split_values(text)
        repeated = sorted({item for item in texts if texts.count(item) > 1})
        if repeated:
            raise ValueError(
                f"--grid {option} lists {', '.join(map(repr, repeated))} more than once; "
                "each value would run twice."
            )
        grid[key] = [parse_value(item) for item in texts]
    return grid


def expand_grid(parameters: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]) -> list[Run]:
    """The runs of a sweep: every combination of the grid's values, plus the fixed parameters.

    The combinations come in ``itertools.product`` order: the first grid key varies slowest.
    A run is named for its grid values (``lr=0.001,depth=3``); with no grid, for the fixed
    parameters, or ``defaults`` when there are none.

    Args:
        parameters: Parameters every run gets.
        grid: Parameter name to the values to sweep over.

    Returns:
        The runs, with unique, filesystem-safe names.

    Raises:
        ValueError: A name is both a fixed parameter and a grid key, or a grid has no values.
    """
    both = sorted(set(parameters) & set(grid))
    if both:
        raise ValueError(
            f"{', '.join(map(repr, both))} given both with -p and with --grid; give each "
            "parameter one way."
        )
    empty = [key for key, options in grid.items() if not options]
    if empty:
        raise ValueError(f"--grid {empty[0]} has no values; list them: --grid {empty[0]}=v1,v2")
    runs, taken = [], set()
    for combination in itertools.product(*grid.values()):
        varying = dict(zip(grid, combination, strict=True))
        name = _unique(_run_name(varying or dict(parameters)), taken)
        runs.append(Run(name, {**varying, **parameters}))
    return runs


def _split_assignment(option: str, flag: str) -> tuple[str, str]:
    key, equals, text = option.partition("=")
    key = key.strip()
    if not equals or not key.isidentifier():
        raise ValueError(
            f"{flag} {option!r} is not key=value with a parameter name as key; "
            f"e.g. {flag} threshold=0.5"
        )
    return key, text


def _split_values(text: str) -> list[str]:
    """Split on commas outside single or double quotes; strip the spaces around each value."""
    items, current, quote = [], "", None
    for char in text:
        if quote is None and char == ",":
            items.append(current)
            current = ""
            continue
        if char in "'\"":
            quote = None if quote == char else (quote or char)
        current += char
    return [item.strip() for item in [*items, current]]


def _run_name(parameters: Mapping[str, Any]) -> str:
    if not parameters:
        return "defaults"
    text = ",".join(f"{key}={format_value(value)}" for key, value in parameters.items())
    return _NAME_UNSAFE.sub("_", text)[:_MAX_NAME]


def _unique(name: str, taken: set[str]) -> str:
    # Compared without case: "x=a" and "x=A" are one folder on macOS and Windows.
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{name}~{number}"
    taken.add(candidate.lower())
    return candidate
