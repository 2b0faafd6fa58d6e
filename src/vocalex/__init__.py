"""vocalex: real-time singing-voice separation.

Rooms (see ARCHITECTURE.md): ``base`` (errors, SIGTERM, machine, audio suffixes), ``engine`` (the runtime),
``files`` (audio files), ``live`` (audio devices), ``data`` (song collections), ``export`` (torch -> ONNX),
``training``, ``evaluation``, and ``cli`` (the ``vocalex`` command).
Importing this package imports nothing else: ``vocalex --help`` stays fast.
"""
