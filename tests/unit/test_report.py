"""Aggregation of metrics JSONs, the LaTeX table and number macros, and the paper build."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import pandas as pd
import pytest

from lethe.report.aggregate import GROUP_KEYS, RUN_KEYS, collect, summarise, tidy_rows
from lethe.report.latex import (
    HIDING_COLUMNS,
    best_methods,
    cost_table,
    escape,
    format_value,
    main_table,
    method_order,
    number_macros,
    scenario_tables,
)
from lethe.report.paper import LatexError, build_paper, latex_errors

needs_latexmk = pytest.mark.skipif(shutil.which("latexmk") is None, reason="latexmk is not installed")

# (forget set, its kind, its classes) x method x seed -> the accuracy on the forget set.
ACC_FORGET = {
    ("class3", "original"): [1.0, 0.98],
    ("class3", "retrain"): [0.0, 0.2],
    ("class3", "finetune"): [0.9, 0.8],
    ("class3", "neggrad"): [0.05, 0.05],
    ("class3", "zero_output"): [0.1, 0.15],
    ("random10", "original"): [1.0, 1.0],
    ("random10", "retrain"): [0.97, 0.99],
    ("random10", "neggrad"): [0.95, 0.9],
}
FORGET_SETS = {"class3": ("classes", [3]), "random10": ("random_samples", None)}


def metrics_record(forget_set: str, method: str, seed: int, acc_forget: float) -> dict:
    """A metrics JSON as lethe.stages.evaluate writes it."""
    kind, classes = FORGET_SETS[forget_set]
    unlearned = method != "original"
    return {
        "dataset": "digits",
        "arch": "mlp",
        "seed": seed,
        "forget_set": forget_set,
        "forget_set_name": forget_set,
        "forget_kind": kind,
        "forget_classes": classes,
        "method": method,
        "metrics": {
            "acc_forget": acc_forget,
            "acc_retain": 0.99,
            "acc_test": 0.97,
            "acc_test_retained": 0.975 + 0.01 * seed,
            "acc_test_forgotten": 0.5 if classes is not None else None,
            "unlearn_seconds": (0.1 + seed * 0.1) if unlearned else None,
            "unlearn_steps": 10 if unlearned else None,
            "time_ratio_to_retrain": (1.0 if method == "retrain" else 0.25) if unlearned else None,
        },
        "confusion_test": [[1]],
        "eval_seconds": 0.01,
    }


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [
        metrics_record(forget_set, method, seed, value)
        for (forget_set, method), values in ACC_FORGET.items()
        for seed, value in enumerate(values)
    ]


@pytest.fixture(scope="module")
def metric_files(records, tmp_path_factory):
    folder = tmp_path_factory.mktemp("metrics")
    paths = []
    for record in reversed(records):  # collect must not depend on the order of its inputs
        path = folder / f"{record['forget_set']}-{record['method']}-{record['seed']}.json"
        path.write_text(json.dumps(record))
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def tidy(metric_files) -> pd.DataFrame:
    return collect(metric_files)


@pytest.fixture(scope="module")
def summary(tidy) -> pd.DataFrame:
    return summarise(tidy)


def pick(frame: pd.DataFrame, forget_set: str, method: str, metric: str) -> pd.DataFrame:
    key = "forget_set_name" if "forget_set_name" in frame else "forget_set"
    return frame[(frame[key] == forget_set) & (frame["method"] == method) & (frame["metric"] == metric)]


# --------------------------------------------------------------------------- aggregation


def test_tidy_rows_drop_metrics_that_do_not_apply():
    rows = tidy_rows(metrics_record("random10", "original", 0, 1.0))
    metrics = [row["metric"] for row in rows]
    assert metrics == ["acc_forget", "acc_retain", "acc_test", "acc_test_retained", "eval_seconds"]
    assert all(set(row) == {*RUN_KEYS, "metric", "value"} for row in rows)
    assert rows[0]["n_forget_classes"] == 0 and rows[0]["forget_kind"] == "random_samples"
    assert all(isinstance(row["value"], float) for row in rows)
    unlearned = tidy_rows(metrics_record("class3", "neggrad", 1, 0.05))
    assert {row["metric"] for row in unlearned} >= {"acc_test_forgotten", "unlearn_seconds", "time_ratio_to_retrain"}
    assert unlearned[0]["n_forget_classes"] == 1 and unlearned[0]["seed"] == 1


def test_collect(tidy, records):
    assert list(tidy.columns) == [*RUN_KEYS, "metric", "value"]
    expected_rows = sum(len(tidy_rows(record)) for record in records)
    assert len(tidy) == expected_rows
    assert tidy.equals(tidy.sort_values([*RUN_KEYS, "metric"], kind="stable").reset_index(drop=True))
    assert pick(tidy, "class3", "retrain", "acc_forget")["value"].tolist() == [0.0, 0.2]
    assert pick(tidy, "class3", "original", "unlearn_seconds").empty
    assert pick(tidy, "random10", "retrain", "acc_test_forgotten").empty


def test_summarise_mean_std_n(summary):
    assert list(summary.columns) == [*GROUP_KEYS, "metric", "mean", "std", "n", "ci95"]
    retrain = pick(summary, "class3", "retrain", "acc_forget").iloc[0]
    assert retrain["mean"] == pytest.approx(0.1)
    assert retrain["std"] == pytest.approx(math.sqrt(0.02))  # sample std (ddof 1) of 0.0 and 0.2
    # Student-t 95 % half-width with n = 2: t(0.975, 1) = 12.706, times s / sqrt(2).
    assert retrain["ci95"] == pytest.approx(12.7062047 * math.sqrt(0.02) / math.sqrt(2))
    assert retrain["n"] == 2
    neggrad = pick(summary, "class3", "neggrad", "acc_forget").iloc[0]
    assert (neggrad["mean"], neggrad["std"]) == (pytest.approx(0.05), pytest.approx(0.0))
    seconds = pick(summary, "class3", "finetune", "unlearn_seconds").iloc[0]
    assert seconds["mean"] == pytest.approx(0.15) and seconds["n"] == 2
    assert pick(summary, "class3", "original", "unlearn_seconds").empty  # None metrics are dropped
    assert pick(summary, "random10", "neggrad", "acc_test_forgotten").empty
    assert len(summary[summary["method"] == "original"]["forget_set_name"].unique()) == 2


def test_summarise_single_run_has_zero_std():
    one = summarise(pd.DataFrame(tidy_rows(metrics_record("class3", "retrain", 0, 0.3))))
    row = pick(one, "class3", "retrain", "acc_forget").iloc[0]
    assert (row["mean"], row["std"], row["n"]) == (pytest.approx(0.3), 0.0, 1)


# --------------------------------------------------------------------------- LaTeX table


def table_rows(table: str) -> list[str]:
    """The method rows of a main_table (not rules, headers or scenario labels)."""
    return [
        line for line in table.splitlines() if line.endswith(r"\\") and not line.startswith((r"\multicolumn", "Method"))
    ]


def test_main_table_structure(summary):
    table = main_table(summary)
    lines = table.splitlines()
    assert lines[0].startswith(r"\begin{tabular}") and lines[-1] == r"\end{tabular}"
    assert lines[1] == r"\toprule" and lines[-2] == r"\bottomrule"
    assert table.count(r"\midrule") == 2  # one block per scenario
    assert r"\emph{digits / mlp / class3 (1 class)}" in table
    assert r"\emph{digits / mlp / random10 (random samples)}" in table
    assert "Method & $n$ &" in lines[2]
    # Every row has as many cells as the header.
    assert all(line.count("&") == lines[2].count("&") for line in table_rows(table))


def test_main_table_rows_in_method_order(summary):
    rows = [line.split(" & ")[0] for line in table_rows(main_table(summary))]
    assert rows == ["original", "retrain", "finetune", "neggrad", r"zero\_output", "original", "retrain", "neggrad"]
    assert "zero_output" not in main_table(summary)


def test_main_table_values_and_missing_metrics(summary):
    rows = {(i, line.split(" & ")[0]): line.split(" & ") for i, line in enumerate(table_rows(main_table(summary)))}
    retrain = rows[(1, "retrain")]
    assert retrain[1] == "2"  # n
    # acc_forget in percent, unlearn_seconds in ms: mean ± the t interval's half-width (n = 2: 12.71 s / √2)
    assert retrain[2] == r"10.0 $\pm$ 127.1"
    assert retrain[6] == r"150.0 $\pm$ 635.3"
    original = rows[(0, "original")]
    assert original[6] == "--" and original[7].startswith("--")  # the original did not unlearn
    random_retrain = rows[(6, "retrain")]
    assert random_retrain[5] == "--"  # no forgotten classes for random samples


def test_best_methods_by_goal():
    means = {"original": 1.0, "retrain": 0.10, "a": 0.05, "b": 0.13, "c": 0.90}
    # Closest to retrain (10.0 %): b (3.0 points off) beats a (5.0 points off), not the lowest.
    assert best_methods(means, "retrain", "pct") == {"b"}
    assert best_methods(means, "max", "pct") == {"c"}  # the original's 100 % is a reference
    assert best_methods(means, "min", "pct") == {"a"}
    # Ties at the printed precision (50.01 and 49.99 % both print 50.0) are all bold.
    assert best_methods({"retrain": 0.5, "a": 0.5001, "b": 0.4999, "c": 0.3}, "retrain", "pct") == {"a", "b"}
    # Nothing to rank: one candidate, no retrain for a "retrain" goal, missing values skipped.
    assert best_methods({"retrain": 0.1, "a": 0.2}, "retrain", "pct") == set()
    assert best_methods({"original": 1.0, "a": 0.2, "b": 0.3}, "retrain", "pct") == set()
    assert best_methods({"retrain": 0.1, "a": float("nan"), "b": 0.3, "c": None}, "min", "pct") == set()
    with pytest.raises(ValueError, match="unknown goal 'best'"):
        best_methods(means, "best", "pct")


def bold_cells(table: str) -> dict[tuple[str, int], str]:
    """{(method, column index), cell} of the bold cells, first block only."""
    first_block = table.split(r"\midrule")[1]
    cells = {}
    for line in first_block.splitlines()[1:]:
        parts = line.rstrip(" \\").split(" & ")
        for i, part in enumerate(parts):
            if part.startswith(r"\textbf{"):
                cells[(parts[0], i)] = part
    return cells


def test_main_table_bolds_the_best_cells():
    """Hand-made block: Acc_f closest to retrain, highest Acc_r, lowest time; references never bold."""
    rows = []
    values = {  # method: (acc_forget, acc_retain, unlearn_seconds)
        "original": (1.00, 1.00, None),
        "retrain": (0.00, 0.95, 2.0),
        "finetune": (0.30, 0.97, 1.0),
        "neggrad": (0.02, 0.90, 0.5),
        "zero_output": (0.10, 0.97, 0.001),
    }
    for method, (acc_f, acc_r, seconds) in values.items():
        for metric, value in (("acc_forget", acc_f), ("acc_retain", acc_r), ("unlearn_seconds", seconds)):
            if value is not None:
                rows.append(
                    {
                        "dataset": "digits",
                        "arch": "mlp",
                        "forget_set_name": "class3",
                        "forget_kind": "classes",
                        "n_forget_classes": 1,
                        "method": method,
                        "metric": metric,
                        "mean": value,
                        "std": 0.0,
                        "n": 3,
                        "ci95": 0.0,
                    }
                )
    table = main_table(pd.DataFrame(rows))
    assert bold_cells(table) == {
        ("neggrad", 2): r"\textbf{2.0 $\pm$ 0.0}",  # Acc_f: 2 points from retrain's 0
        ("finetune", 3): r"\textbf{97.0 $\pm$ 0.0}",  # Acc_r: the tie at 97.0 % ...
        (r"zero\_output", 3): r"\textbf{97.0 $\pm$ 0.0}",  # ... bolds both
        (r"zero\_output", 6): r"\textbf{1.0 $\pm$ 0.0}",  # time in ms: the fastest
    }
    # Columns without any value bold nothing (Acc_te,r etc. are "--" here).
    assert table.count(r"\textbf") == 4


def test_hiding_and_cost_tables_bold(summary, tidy):
    # The synthetic summary has accuracies only: the hiding columns are empty, nothing bold.
    assert r"\textbf" not in main_table(summary, columns=HIDING_COLUMNS)
    costs = cost_table(tidy)
    # All three class3 methods take the same time (100 ms and 200 ms over two seeds): a tie, all bold.
    bold_rows = [line.split(" & ")[1] for line in costs.splitlines() if r"\textbf" in line]
    assert bold_rows == ["finetune", "neggrad", r"zero\_output"]


def test_scenario_tables_one_float_per_scenario(summary):
    tables = scenario_tables(summary, caption="All.", label="tab:x")
    assert tables.count(r"\begin{table}") == tables.count(r"\end{table}") == 2  # class3 and random10
    assert r"\label{tab:x}" in tables and r"\label{tab:x-2}" in tables
    assert r"\caption{digits / mlp / class3 (1 class). All.}" in tables
    # Each float holds exactly its scenario's block of main_table.
    first, second = tables.split(r"\end{table}")[:2]
    assert first.count(r"\midrule") == 1 and "random10" not in first
    assert r"\emph{digits / mlp / random10 (random samples)}" in second
    assert scenario_tables(summary.iloc[:0]) == "% no results\n"


def test_format_value_and_order():
    assert format_value(0.5, 0.01, "pct") == r"50.0 $\pm$ 1.0"
    assert format_value(0.0123, 0.001, "ms") == r"12.3 $\pm$ 1.0"
    assert format_value(0.25, 0.0, "ratio") == "0.25"
    assert format_value(float("nan"), 0.0, "pct") == "--"
    assert format_value(None, None, "pct") == "--"
    ordered = ["original", "retrain", "neggrad", "zero_output", "mine"]
    assert method_order(["zero_output", "neggrad", "original", "retrain", "mine"]) == ordered


# --------------------------------------------------------------------------- numbers


def test_number_macros(summary):
    text = number_macros(summary, {"seeds": [0, 1]})
    assert text.startswith("% Generated")
    assert r"\newcommand{\lethenum}[1]" in text
    assert r"\expandafter\def\csname lethe@digits/mlp/class3/retrain/acc_forget\endcsname{10.0}" in text
    assert r"\expandafter\def\csname lethe@digits/mlp/class3/retrain/acc_forget/std\endcsname{14.1}" in text
    assert r"\expandafter\def\csname lethe@digits/mlp/class3/retrain/acc_forget/n\endcsname{2}" in text
    assert r"\expandafter\def\csname lethe@digits/mlp/class3/neggrad/time_ratio_to_retrain\endcsname{0.25}" in text
    for macro in (
        r"\newcommand{\NumSeeds}{2}",
        r"\newcommand{\NumRuns}{2}",
        r"\newcommand{\IfRan}[3]",
        r"\expandafter\def\csname lethe@ran@zero_output\endcsname{}",
    ):
        assert macro in text, macro
    assert text.count(r"\makeatletter") == text.count(r"\makeatother")


def test_escape():
    assert escape("zero_output") == r"zero\_output"
    assert escape(r"a\b") == r"a\textbackslash{}b"
    assert escape("&%$#_{}~^") == r"\&\%\$\#\_\{\}\textasciitilde{}\textasciicircum{}"
    assert escape("plain text 1.5") == "plain text 1.5"
    assert escape(3) == "3"


# --------------------------------------------------------------------------- paper


def test_latex_errors_picks_bang_and_file_line_lines():
    log = "\n".join(
        [
            "This is pdfTeX, Version 3.141592653",
            "(./main.tex",
            "./main.tex:7: Undefined control sequence.",
            r"l.7 \oops",
            "",
            "more",
            "! Emergency stop.",
            "<*> main.tex",
            "No pages of output.",
        ]
    )
    errors = latex_errors(log)
    assert "./main.tex:7: Undefined control sequence." in errors
    assert r"l.7 \oops" in errors
    assert "! Emergency stop." in errors
    assert "This is pdfTeX" not in errors


def test_latex_errors_without_errors_gives_the_tail():
    log = "\n".join(f"line {i}" for i in range(100))
    errors = latex_errors(log)
    assert errors.splitlines() == [f"line {i}" for i in range(60, 100)]


MINIMAL_DOCUMENT = r"""\documentclass{article}
\usepackage{booktabs}
\usepackage{graphicx}
\usepackage{adjustbox}
\input{generated/numbers.tex}
\begin{document}
Original \lethenum{digits/mlp/class3/original/acc_forget}\,\%, retrained \lethenum{digits/mlp/class3/retrain/acc_forget}\,\%
over \NumSeeds{} seeds; \IfRan{zero_output}{zero\_output ran}{zero\_output did not run}.
\begin{table}[h]
\resizebox{\linewidth}{!}{\input{generated/table.tex}}
\end{table}
\input{generated/tables.tex}
See Table~\ref{tab:main-2}.
\end{document}
"""


@pytest.mark.latex
@needs_latexmk
def test_generated_latex_compiles(summary, tmp_path):
    source, generated = tmp_path / "paper", tmp_path / "generated"
    source.mkdir()
    generated.mkdir()
    (source / "main.tex").write_text(MINIMAL_DOCUMENT)
    table = main_table(summary)
    assert r"\textbf{" in table  # the bold cells compile too
    (generated / "table.tex").write_text(table)
    (generated / "tables.tex").write_text(scenario_tables(summary))
    (generated / "numbers.tex").write_text(number_macros(summary, {"seeds": [0, 1]}))
    (generated / "stale.tex").write_text("not declared")
    declared = [generated / n for n in ("table.tex", "tables.tex", "numbers.tex")]
    pdf = build_paper(source, declared, tmp_path / "build", tmp_path / "out" / "paper.pdf")
    assert sorted(p.name for p in (tmp_path / "build" / "generated").iterdir()) == sorted(p.name for p in declared)
    assert pdf == tmp_path / "out" / "paper.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in source.iterdir()) == ["main.tex"]  # nothing written into the sources
    if shutil.which("pdftotext"):  # the macros resolved to the summary's numbers
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "Original 99.0" in text and "retrained 10.0" in text and "over 2 seeds" in text
        assert "zero output ran" in text.replace("_", " ")


@pytest.mark.latex
@needs_latexmk
def test_build_paper_failure_reports_latex_error_and_leaves_no_pdf(tmp_path):
    source, generated = tmp_path / "paper", tmp_path / "generated"
    source.mkdir()
    generated.mkdir()
    (source / "main.tex").write_text(
        "\\documentclass{article}\n\\begin{document}\nHello \\undefinedlethemacro\n\\end{document}\n"
    )
    out = tmp_path / "out" / "paper.pdf"
    with pytest.raises(LatexError) as info:
        build_paper(source, [], tmp_path / "build", out)
    message = str(info.value)
    assert "Undefined control sequence" in message
    assert r"\undefinedlethemacro" in message
    assert not out.exists()
    assert not (out.parent.exists() and any(out.parent.iterdir()))


def test_build_paper_without_latexmk(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(LatexError, match="latexmk is not installed"):
        build_paper(tmp_path, [], tmp_path / "build", tmp_path / "paper.pdf")


def test_verdicts_without_power_get_a_dagger_and_no_bold():
    """An attack whose pooled held-out interval contains chance (has_power False) never decides bold."""
    rows = []
    values = {  # method: (mia_efficacy, has_power)
        "original": (0.05, True),
        "retrain": (0.90, True),
        "finetune": (0.89, False),  # closest to retrain, but the attack on it has no power
        "neggrad": (0.70, True),
        "zero_output": (0.50, True),
    }
    for method, (value, power) in values.items():
        for metric, v, p in (("acc_forget", 0.1, float("nan")), ("mia_efficacy", value, power)):
            rows.append(
                {
                    "dataset": "digits",
                    "arch": "mlp",
                    "forget_set_name": "class3",
                    "forget_kind": "classes",
                    "n_forget_classes": 1,
                    "method": method,
                    "metric": metric,
                    "mean": v,
                    "std": 0.0,
                    "n": 3,
                    "ci95": 0.01,
                    "has_power": p,
                }
            )
    summary = pd.DataFrame(rows)
    columns = [("acc_forget", "Acc", "pct"), ("mia_efficacy", "MIA", "pct")]
    table = main_table(summary, columns=columns)
    assert {k: v for k, v in bold_cells(table).items() if k[1] == 3} == {("neggrad", 3): r"\textbf{70.0 $\pm$ 1.0}"}
    finetune = next(line for line in table_rows(table) if line.startswith("finetune"))
    assert finetune.split(" & ")[3].startswith(r"89.0 $\pm$ 1.0$^\dagger$")
    # Read back from a CSV, the flags are strings: the same table.
    summary["has_power"] = summary["has_power"].map(lambda v: "" if v != v else str(v))
    assert main_table(summary, columns=columns) == table


def test_relearn_runs_that_hit_the_cap_are_shown_as_lower_bounds():
    rows = []
    values = {  # method: (relearn_epochs mean, fraction of runs that relearned)
        "original": (1.0, 1.0),
        "retrain": (20.0, 1.0),
        "finetune": (50.0, 0.0),  # every run hit the cap of 50
        "neggrad": (30.0, 2 / 3),  # one of three did
        "zero_output": (1.0, 1.0),
    }
    for method, (epochs, reached) in values.items():
        for metric, v in (("acc_forget", 0.1), ("relearn_epochs", epochs), ("relearn_reached", reached)):
            rows.append(
                {
                    "dataset": "digits",
                    "arch": "mlp",
                    "forget_set_name": "class3",
                    "forget_kind": "classes",
                    "n_forget_classes": 1,
                    "method": method,
                    "metric": metric,
                    "mean": v,
                    "std": 0.0,
                    "n": 3,
                    "ci95": 0.5,
                }
            )
    table = main_table(pd.DataFrame(rows), columns=[("acc_forget", "Acc", "pct"), ("relearn_epochs", "R", "num")])
    cells = {line.split(" & ")[0]: line.rstrip(" \\").split(" & ")[3] for line in table_rows(table)}
    assert cells["finetune"] == "$>$50"
    assert cells["neggrad"] == r"$\geq$30.0 (67\,\% reached)"
    # Censored cells are no candidates for bold: zero_output is the only one left, and one candidate bolds nothing.
    assert {k for k, v in bold_cells(table).items() if k[1] == 3} == set()
