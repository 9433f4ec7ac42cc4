"""The one exception type for bad input: its message names the file, record and value."""


class InputError(Exception):
    """Raised for malformed or inconsistent user input; the message is meant for the user."""

    def __init__(self, path, message):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class ConfigError(Exception):
    """A configuration no job could run, found while the workflow plans its jobs; the message names
    the key and the value."""
