"""The one exception type for bad input: its message names the file, record and value."""


class InputError(Exception):
    """Raised for malformed or inconsistent user input; the message is meant for the user."""

    def __init__(self, path, message):
        self.path = str(path)
        super().__init__(f"{path}: {message}")
