"""Datasets, in-memory tensor splits and forget sets."""
