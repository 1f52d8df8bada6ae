"""Monitoring: drift and live performance per deployment, retraining and reproduction."""
