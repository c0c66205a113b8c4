"""Training: the loop, checkpoints, distributed training, augmentation."""
