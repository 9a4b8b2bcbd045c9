"""Image folders for the image-folder tests: every image is one uniform colour that encodes its
class and index, so a label and a position can be checked from the pixels after resizing."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

CLASSES = ("tulip", "daisy", "rose")  # sorted: daisy 0, rose 1, tulip 2
SORTED = sorted(CLASSES)
N_TRAIN, N_TEST = 12, 4


def value(cls: str, index: int) -> int:
    """The grey level of image ``index`` of class ``cls``: class in the tens, index in the ones."""
    return 40 * SORTED.index(cls) + index + 10


def write_image(path: Path, level: int, mode: str = "RGB", size=(12, 10)) -> None:
    """A uniform image of grey ``level``, ``size`` (width, height), in ``mode`` (RGB, L, RGBA, P)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "P":
        image = Image.new("RGB", size, (level,) * 3).convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = Image.new(mode, size, {"L": level, "RGBA": (level, level, level, 128)}.get(mode, (level,) * 3))
    image.save(path)


def make_split_folder(root: Path, n_train: int = N_TRAIN, n_test: int = N_TEST) -> Path:
    """ROOT/train/CLASS and ROOT/test/CLASS, RGB and greyscale PNGs, some extras to be skipped."""
    for part, n in (("train", n_train), ("test", n_test)):
        for cls in CLASSES:
            for i in range(n):
                mode = "L" if i % 2 else "RGB"
                ext = ".PNG" if i == 1 else ".png"
                write_image(root / part / cls / f"img{i:02d}{ext}", value(cls, i), mode)
    (root / "train" / "daisy" / "notes.txt").write_text("not an image")
    (root / "train" / "daisy" / ".hidden.png").write_bytes(b"not even a PNG")  # hidden: skipped
    (root / "README").write_text("files beside the class folders are ignored")
    return root
