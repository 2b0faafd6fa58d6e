"""vocalex.cli: the ``vocalex`` command. Every ``*_cli`` module of the project lives here; they parse and call.

``entry`` is the console script. Nothing is imported here at package import, so ``python -m vocalex.cli.main``
runs that module once (no double import through the package).
"""


def entry() -> None:
    from .main import entry as _entry

    _entry()


def main(argv=None) -> int:
    from .main import main as _main

    return _main(argv)


__all__ = ["entry", "main"]
