"""Search spaces of hyperparameters (torch-free: the method catalogue declares one per method).

A :class:`Dimension` is one hyperparameter's range, read by the tuning stage
(:mod:`lethe.tuning.search`, which hands it to Optuna) and printed in the paper's setup section.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dimension:
    """One hyperparameter's range: ``kind`` "float" (``log`` for a log scale), "int" or "choice"."""

    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "choice"):
            raise ValueError(f"a search dimension's kind is float, int or choice, not {self.kind!r}")
        if self.kind == "choice":
            if not self.choices:
                raise ValueError("a choice dimension needs choices")
        elif self.low is None or self.high is None or not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"bad range [{self.low}, {self.high}]{' on a log scale' if self.log else ''}")

    def suggest(self, trial, name: str):
        if self.kind == "float":
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_categorical(name, list(self.choices))

    def describe(self) -> str:
        """For the paper's setup section and the YAML record."""
        if self.kind == "choice":
            return "{" + ", ".join(str(c) for c in self.choices) + "}"
        scale = ", log" if self.log else ""
        return (
            f"[{self.low:g}, {self.high:g}{scale}]"
            if self.kind == "float"
            else f"{{{int(self.low)}..{int(self.high)}}}{scale}"
        )


def log_float(low: float, high: float) -> Dimension:
    return Dimension("float", low, high, log=True)


def uniform(low: float, high: float) -> Dimension:
    return Dimension("float", low, high)


def integer(low: int, high: int) -> Dimension:
    return Dimension("int", low, high)


def choice(*options) -> Dimension:
    return Dimension("choice", choices=tuple(options))


def check_space(method: str, space: dict[str, Dimension], defaults: dict) -> None:
    """Every searched name is one of the method's hyperparameters."""
    unknown = sorted(set(space) - set(defaults))
    if unknown:
        raise ValueError(f"search space of {method!r}: {unknown} are not its hyperparameters ({sorted(defaults)})")
