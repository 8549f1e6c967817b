"""A model's weights from its config.json: tensor shapes, checkpoint formats, per-GPU shares."""
