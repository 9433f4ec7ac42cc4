"""The configuration: its check, and the reference tables the docs take from it."""
