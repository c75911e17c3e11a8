"""The error every config problem raises: one line naming the key and what is allowed."""


class ConfigError(ValueError):
    """A config that names something that does not exist or cannot be built."""
