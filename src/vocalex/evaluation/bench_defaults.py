"""Defaults of ``vocalex bench``, importable without numpy (the CLI's parser shows them)."""

DEFAULT_SONG = "demo_lets_go_fishin_30s.ogg"  # in vocalex/engine/assets
STREAM_BLOCK = 256  # host samples per process() call, a common live buffer size
