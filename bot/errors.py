"""The one error hierarchy; each edge (CLI, chat adapters, HTTP) translates it into its own terms."""

from __future__ import annotations


class BotError(Exception):
    """Base of every error the bot raises on purpose. `str(err)` is a one-line message for users."""


class InputError(BotError):
    """A document, feed or request that cannot be read: names what is wrong with it."""


class ConfigError(BotError):
    """Configuration that does not validate: names the field and where it came from."""


class SourceError(BotError):
    """A source could not be fetched or parsed this time; the scheduler backs off and retries."""

    def __init__(self, message: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class StoreError(BotError):
    """The database is unreachable or refused an operation."""


class DeliveryError(BotError):
    """A message could not be delivered. `permanent` errors are recorded and not retried."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class QueryError(BotError):
    """A command the engine cannot answer; carries suggestions for the user."""

    def __init__(self, message: str, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions
