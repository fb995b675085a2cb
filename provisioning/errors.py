"""The errors the service layer raises; entry points translate them (CLI exit codes, UI)."""

from __future__ import annotations

from dataclasses import dataclass


class ProvisioningError(Exception):
    """Base of every error the provisioning layer raises on purpose."""

    exit_code = 1


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a piece of input was refused, and where it is."""

    field: str
    reason: str
    file: str | None = None
    line: int | None = None
    value: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        shown = f" (got {self.value!r})" if self.value is not None else ""
        return f"{where}{self.field}: {self.reason}{shown}"


class InvalidInput(ProvisioningError):
    """The input was refused; nothing was changed. Carries every reason at once."""

    exit_code = 2

    def __init__(self, errors: list[FieldError] | FieldError, summary: str | None = None) -> None:
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        self.summary = summary or f"{len(self.errors)} error(s); nothing was changed"
        super().__init__(self.summary + "\n" + "\n".join(str(e) for e in self.errors))


class NotFound(ProvisioningError):
    """A named record does not exist (a wrong id typed by a person: their input)."""

    exit_code = 2


class Conflict(ProvisioningError):
    """Someone else changed the record first, or the workflow forbids the step now."""

    exit_code = 1


class Forbidden(ProvisioningError):
    """The acting person's role does not allow the action; nothing was changed."""

    exit_code = 1


class SignInRefused(ProvisioningError):
    """Wrong e-mail or password, a disabled account, or too many attempts: one message for
    all, so a guesser learns nothing about which accounts exist."""

    exit_code = 2
