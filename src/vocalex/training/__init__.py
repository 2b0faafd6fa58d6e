"""vocalex.training: the U-Net, data loaders and the training loop (needs torch)."""
