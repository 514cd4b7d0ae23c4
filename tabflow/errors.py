"""Domain errors: the CLI prints their message (what is wrong, what to do) and exits 2, without a traceback."""


class TabflowError(Exception):
    """A user-facing problem: bad input, bad config, a registry in an unexpected state."""


class ConfigError(TabflowError):
    """The configuration (flags, YAML, environment) is invalid."""


class DataError(TabflowError):
    """The table cannot be used as given."""
