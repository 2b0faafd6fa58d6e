"""vocalex.live: live audio (PortAudio/JACK devices, latency plan, the live engine, loopback, file source)."""
