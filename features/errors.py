"""The churnlens error hierarchy.

Every error a user can cause carries a message that says what is wrong and how to fix
it, plus the HTTP status the API should answer with. The CLI prints the message and exits
non-zero; the API turns it into a 4xx. Nothing catches these to print and `exit` deep in
library code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class ChurnlensError(Exception):
    """Base class for errors a user can act on."""

    http_status: int = 400
    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ChurnlensError):
    """A setting or configuration file is invalid."""

    exit_code = 2


class SourceNotFoundError(ChurnlensError):
    """A source directory, file or database is missing."""

    http_status = 404
    exit_code = 2


@dataclass(frozen=True)
class Violation:
    """One broken rule of the source-data contract, with enough context to fix it."""

    table: str
    column: str | None
    problem: str
    fix: str
    examples: list[str] = field(default_factory=list)
    count: int = 0

    def render(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        head = f"{where}: {self.problem}"
        if self.count:
            head += f" ({self.count} row{'s' if self.count != 1 else ''})"
        lines = [head]
        lines += [f"    e.g. {example}" for example in self.examples]
        lines.append(f"    fix: {self.fix}")
        return "\n".join(lines)


class DataContractError(ChurnlensError):
    """Source tables break the data contract; nothing was written."""

    exit_code = 3

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        n = len(violations)
        body = "\n".join(v.render() for v in violations)
        super().__init__(
            f"The source data breaks the data contract ({n} problem{'s' if n != 1 else ''}); "
            f"nothing was written.\n{body}"
        )

    def __reduce__(self) -> tuple[type[DataContractError], tuple[list[Violation]]]:
        # rebuilt from its violations, so it reaches a caller intact from a Dask worker
        return (DataContractError, (self.violations,))


class DiskFullError(ChurnlensError):
    """A write ran out of disk space (or quota); what it was writing was left as it was."""

    http_status = 507  # Insufficient Storage
