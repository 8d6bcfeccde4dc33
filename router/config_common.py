"""What every configuration section shares: the one error type, the frozen
section model and the check of names (chains, pools, partners, ...)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from router.errors import RouterError


class ConfigError(RouterError, ValueError):
    """The configuration is unusable. ``problems`` are ``(setting, what is wrong)``
    pairs, e.g. ``("auth.token_secrte", "unknown setting (check the spelling)")``;
    neither ever contains a configured value."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = tuple(problems)
        text = "; ".join(f"{where}: {what}" if where else what for where, what in self.problems)
        super().__init__(text, problems=self.problems)


NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}\Z")


def check_name(value: str, what: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{what} {value!r} must be 1-63 of [a-z0-9._-], starting alphanumeric")
    return value


class Section(BaseModel):
    """A config section: frozen, and an unknown key is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")
