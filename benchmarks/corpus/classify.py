"""What happened to one example of the public corpus, as one class and its reason.

Pure logic over what ``run.py`` observed, so that it can be tested without running anything.
The classes, from worst to best as a user meets them:

- ``ran but differs``: ``kedro notebook convert --verify`` passed and ``kedro run`` ran, yet a
  value the notebook computed is different in the pipeline, or lost (the final section's values
  that no dataset carries). The worst class: nothing told the user.
- ``crashed at run``: ``kedro run --pipeline`` failed.
- ``flagged by --verify``: ``--verify`` found datasets that differ, or the pipeline raised under
  ``--verify``: the user was told at conversion.
- ``refused at conversion``: ``kedro notebook convert`` refused, with its reason.
- ``reproduced``: every value compared equal (or nothing was comparable).

``not executable`` (the notebook fails by itself, offline) is outside the rate.
"""

from __future__ import annotations

from dataclasses import dataclass

REPRODUCED = "reproduced"
REFUSED = "refused at conversion"
FLAGGED = "flagged by --verify"
CRASHED = "crashed at run"
DIFFERS = "ran but differs"
NOT_EXECUTABLE = "not executable"
TIMED_OUT = "timed out"
CLASSES = (REPRODUCED, REFUSED, FLAGGED, CRASHED, DIFFERS, TIMED_OUT)
"""The classes of executable examples, in the order the report lists them."""


@dataclass(frozen=True)
class Observed:
    """What one example did at each step (``None``: the step did not run).

    Attributes:
        truth_error: The notebook's own failure when run alone (``None``: it ran).
        convert_exit: Exit code of ``kedro notebook convert``.
        convert_message: Its error message, when it refused.
        verify_mismatches: ``dataset: detail`` for each dataset ``--verify`` found different.
        verify_error: What the pipeline raised under ``--verify``.
        run_exit: Exit code of ``kedro run --pipeline``.
        run_error: The last line of its error.
        compared: Values the harness compared equal (node outputs, loaded inputs, saved files).
        differences: ``where: detail`` for each value of ``kedro run`` unlike the notebook's.
        lost: Names the notebook's final section computed that no dataset carries.
        timed_out: The example ran past its time limit (at the step named).
    """

    truth_error: str | None = None
    convert_exit: int | None = None
    convert_message: str = ""
    verify_mismatches: tuple[str, ...] = ()
    verify_error: str | None = None
    run_exit: int | None = None
    run_error: str = ""
    compared: int = 0
    differences: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    timed_out: str | None = None


def classify(seen: Observed) -> tuple[str, str]:
    """The class of an example and a one-line reason."""
    if seen.timed_out is not None:
        return TIMED_OUT, f"past its time limit during {seen.timed_out}"
    if seen.truth_error is not None:
        return NOT_EXECUTABLE, seen.truth_error
    if seen.convert_exit is None:
        raise ValueError("an executable example was never converted")
    if seen.convert_exit != 0:
        return REFUSED, seen.convert_message or f"exit {seen.convert_exit}, no message"
    if seen.verify_error is not None:
        return FLAGGED, f"the pipeline raised under --verify: {seen.verify_error}"
    if seen.verify_mismatches:
        return FLAGGED, "; ".join(seen.verify_mismatches)
    if seen.run_exit is None:
        raise ValueError("a converted example was never run")
    if seen.run_exit != 0:
        return CRASHED, seen.run_error or f"kedro run exited {seen.run_exit}"
    if seen.differences or seen.lost:
        parts = list(seen.differences)
        if seen.lost:
            parts.append("lost final-section values: " + ", ".join(seen.lost))
        return DIFFERS, "; ".join(parts)
    if seen.compared == 0:
        return REPRODUCED, "nothing to compare"
    return REPRODUCED, f"{seen.compared} values equal"


def rates(classes: list[str]) -> dict[str, tuple[int, float]]:
    """Count and share of each class among the executable examples."""
    executable = [c for c in classes if c != NOT_EXECUTABLE]
    total = len(executable) or 1
    return {c: (executable.count(c), executable.count(c) / total) for c in CLASSES}
