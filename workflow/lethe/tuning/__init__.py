"""Hyperparameters: the search spaces' vocabulary (:mod:`.space`), the search that rule tune
runs (:mod:`.search`), tuned values as files, shipped or searched (:mod:`.values`), and which
source each method's values come from (:mod:`.settings`)."""
