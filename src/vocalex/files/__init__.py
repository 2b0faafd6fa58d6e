"""Audio files: reading (libsndfile, a plain-WAV reader, FFmpeg), writing whole-or-nothing, and separating
files with the engine, one at a time or in worker processes."""
