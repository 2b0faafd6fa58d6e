"""vocalex.cli: the ``vocalex`` command. Every ``*_cli`` module of the project lives here; they parse and call."""

from .main import entry, main

__all__ = ["entry", "main"]
