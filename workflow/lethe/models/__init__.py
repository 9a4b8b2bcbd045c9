"""Architectures (``registry``: builders) and checkpoints (``checkpoint``: safetensors).

Kept import-free so that ``lethe.models.catalog`` can be read without torch.
"""
