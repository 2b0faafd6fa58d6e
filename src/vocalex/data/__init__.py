"""vocalex.data: reading song collections (MUSDB18, MUSDB18-HQ, DSD100, stem folders) and their splits."""
