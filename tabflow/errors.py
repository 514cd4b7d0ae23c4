"""Domain errors: the CLI prints their message (what is wrong, what to do) and exits 2, without a traceback."""


class TabflowError(Exception):
    """A user-facing problem: bad input, bad config, a registry in an unexpected state."""


class ConfigError(TabflowError):
    """The configuration (flags, YAML, environment) is invalid."""


class DataError(TabflowError):
    """The table cannot be used as given."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's first line, for a one-line message; its type when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
