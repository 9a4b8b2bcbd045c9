"""Metrics: accuracy on forget/retain/test splits; evaluation of one model."""
