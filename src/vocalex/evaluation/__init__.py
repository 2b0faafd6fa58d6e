"""vocalex.evaluation: metrics, baselines, `vocalex eval`, `vocalex bench`, `vocalex plot`."""
