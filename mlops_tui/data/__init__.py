"""Data: reading user files, the dataset registry (content-addressed versions), profiles."""
