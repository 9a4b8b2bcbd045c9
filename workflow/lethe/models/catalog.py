"""Architecture names, torch-free for the Snakefile; tests check they match the registry."""

ARCHITECTURE_NAMES = ("mlp", "cnn", "resnet18", "allcnn")
