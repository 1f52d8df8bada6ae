"""Serving: batch scoring of deployments, its I/O, the drift measured while scoring, dead-job sweeps."""
