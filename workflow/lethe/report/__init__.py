"""Aggregation of metrics into tidy tables, LaTeX tables, number macros, the paper build."""
