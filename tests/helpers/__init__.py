"""Shared code of the tests, imported as ``from helpers.X import ...`` (pyproject puts tests/ on sys.path).

settings        the training recipe and method settings the tests are calibrated with
forgetting      forgetting_failures: the class-forgetting check of the method tests
methods         unlearn_each (methods applied with the tests' settings), method_code (a method's code inputs)
relabel_checks  thresholds and checks shared by the relabelling and distillation tests
moved           how far a model moved the forget samples towards unseen data (random-sample forgetting)
digits_sizes    the prepared digits dataset's split sizes
idx_files       IDX files written for the dataset tests
plan_config     a config like config/config.yaml after the schema's defaults (the plan tests')
imagefolders    image folders written for the image-folder tests
repository_copy a scratch copy of the working tree, for tests that run the workflow

Fixtures stay in tests/conftest.py.
"""
