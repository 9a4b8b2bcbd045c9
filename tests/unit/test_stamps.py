"""Rules' code inputs derived from the source (lethe.engine.stamps) and the run lock (lethe.engine.run_lock)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from lethe.engine.run_lock import claim
from lethe.engine.stamps import RUNNER, closure, code_inputs, code_stamp

WORKFLOW = Path(__file__).resolve().parents[2] / "workflow"


def write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_closure_follows_every_kind_of_import(tmp_path: Path):
    root = write_package(
        tmp_path,
        {
            "lethe/__init__.py": "",
            "lethe/a.py": "from lethe.sub import b\nimport numpy\n",
            "lethe/sub/__init__.py": "",
            "lethe/sub/b.py": "from . import c\nfrom .d import thing\n",
            "lethe/sub/c.py": "def f():\n    import lethe.late  # only when called: still a dependency\n",
            "lethe/sub/d.py": "thing = 1\n",
            "lethe/late.py": "",
            "lethe/unused.py": "",
        },
    )
    names = {p.relative_to(root).as_posix() for p in closure(root, ["lethe.a"])}
    assert names == {
        "lethe/__init__.py",
        "lethe/a.py",
        "lethe/sub/__init__.py",
        "lethe/sub/b.py",
        "lethe/sub/c.py",
        "lethe/sub/d.py",
        "lethe/late.py",
    }


def test_code_inputs_are_relative_and_include_what_the_issue_found_missing():
    """Every training run's batch order (data/tensors.py) and checkpoint format (models/checkpoint.py)."""
    train = code_inputs(WORKFLOW, "train_original", start=WORKFLOW.parent)
    unlearn = code_inputs(WORKFLOW, "unlearn", ("lethe.methods.neggrad",), start=WORKFLOW.parent)
    assert "workflow/lethe/data/tensors.py" in train and "workflow/lethe/models/checkpoint.py" in train
    assert "workflow/lethe/methods/neggrad.py" in unlearn and "workflow/lethe/methods/scrub.py" not in unlearn
    assert "workflow/lethe/methodkit/sharding.py" not in train  # SISA's training is its own rule's
    assert not any(Path(p).is_absolute() for p in train + unlearn)


def test_a_code_stamp_is_rewritten_only_when_a_listed_file_changed(tmp_path: Path):
    """One stamp per stage (and extra modules): each module with its sha256; an unchanged
    closure leaves the file and its time alone, an edit names the edited file."""
    root = write_package(
        tmp_path / "workflow",
        {
            "lethe/__init__.py": "",
            "lethe/engine/__init__.py": "",
            "lethe/engine/job.py": "",
            "lethe/stages/__init__.py": "",
            "lethe/stages/run_a.py": "from lethe.a import b\n",
            "lethe/a.py": "from lethe import b\n",
            "lethe/b.py": "x = 1\n",
            "lethe/m.py": "",
        },
    )
    path, changed = code_stamp(root, "run_a", ("lethe.m",), start=tmp_path)
    assert path == "results/code/run_a+m.json" and changed is None
    listed = json.loads((tmp_path / path).read_text())["code"]
    assert set(listed) == {
        "workflow/lethe/stages/__init__.py",
        "workflow/lethe/stages/run_a.py",
        "workflow/lethe/__init__.py",
        "workflow/lethe/a.py",
        "workflow/lethe/b.py",
        "workflow/lethe/m.py",
        "workflow/lethe/engine/__init__.py",
        "workflow/lethe/engine/job.py",
    }
    assert RUNNER == "lethe.engine.job"
    before = (tmp_path / path).stat().st_mtime_ns
    assert code_stamp(root, "run_a", ("lethe.m",), start=tmp_path) == (path, [])
    assert (tmp_path / path).stat().st_mtime_ns == before
    (root / "lethe/b.py").write_text("x = 2\n")
    assert code_stamp(root, "run_a", ("lethe.m",), start=tmp_path) == (path, ["workflow/lethe/b.py"])
    assert json.loads((tmp_path / path).read_text())["code"]["workflow/lethe/b.py"] != listed["workflow/lethe/b.py"]


def test_a_stage_does_not_load_other_stages():
    """A rule's stage loads its own stage module only (the package's __init__ imports nothing)."""
    code = (
        "import sys; sys.path.insert(0, 'workflow'); import lethe.stages.make_forget_set; "
        "print(sorted(m for m in sys.modules if m.startswith('lethe.stages.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=WORKFLOW.parent, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['lethe.stages.make_forget_set']"


def test_claim_removes_stale_locks_only_when_no_live_run_holds_the_directory(tmp_path: Path):
    locks = tmp_path / ".snakemake" / "locks"
    # A live run (another process) holds the lock and has written its Snakemake locks: they are kept.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; sys.path.insert(0, sys.argv[1]); from lethe.engine.run_lock import claim; "
            "claim(sys.argv[2]); print('held', flush=True); time.sleep(60)",
            str(WORKFLOW),
            str(tmp_path / ".snakemake"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        locks.mkdir(parents=True)
        (locks / "0.input.lock").write_text("results/x\n")
        note = claim(tmp_path / ".snakemake", hold=False)
        assert note.startswith(f"another Snakemake run of this workflow (pid {holder.pid})")
        assert (locks / "0.input.lock").exists()
    finally:
        holder.kill()
        holder.wait()
    # Its process gone (however it died), the locks are stale and go.
    note = claim(tmp_path / ".snakemake", hold=False)
    assert note.startswith("removed stale Snakemake locks") and not locks.exists()
    assert claim(tmp_path / ".snakemake", hold=False) is None
