"""``python -m vocalex ...``: the same as the ``vocalex`` command."""

from vocalex.cli.main import entry

entry()
