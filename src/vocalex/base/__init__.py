"""The ground floor: what every room may use and that uses nothing of vocalex: errors and exit codes,
SIGTERM, the machine description, the audio suffix list."""
