"""The configuration: its check, its defaults and the reference tables the docs take from it."""
