"""Training: preparation, signature and encoding, model files, metrics, and tuning runs."""
