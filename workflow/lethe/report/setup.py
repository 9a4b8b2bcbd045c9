"""The paper's experimental-setup section, generated from the config that actually ran."""

from __future__ import annotations

import json

from lethe.methods.catalog import METHODS
from lethe.report.latex import escape


def _params(params: dict) -> str:
    if not params:
        return "no hyperparameters"
    return ", ".join(f"{escape(k)}={escape(json.dumps(v))}" for k, v in sorted(params.items()))


def _tuned_values(params: dict) -> str:
    """A search's chosen values, floats to three significant digits."""
    return ", ".join(
        f"{escape(k)}={v:.3g}" if isinstance(v, float) else f"{escape(k)}={escape(json.dumps(v))}"
        for k, v in sorted(params.items())
    )


def _search_result(record: dict) -> str:
    """One search's outcome: its chosen values, or that none of its trials finished."""
    if not record["best"]:
        return rf"every one of {record['trials']} trials was stopped at its time cap, so it ran at the values above"
    bound = "" if record["feasible"] else ", no trial within the time bound"
    shift = "" if record.get("loss_shift") is None else rf", loss shift {record['loss_shift']:.0f}"
    return rf"{_tuned_values(record['best'])} (best of {record['trials']} trials, gap {record['gap']:.1f}\,pp{shift}{bound})"


_WHERE = {"tuned": "shipped with the repository", "search": "run by this workflow"}


def _kinds(kinds: list[str]) -> str:
    return ", ".join(escape(kind.replace("_", " ")) for kind in kinds)


def _names(items: list) -> str:
    return ", ".join(rf"\texttt{{{escape(str(item))}}}" for item in items)


def _studies(studies: dict) -> str:
    """The studies paragraph: which combinations ran (the plan is the union of these cross products)."""
    out = [
        r"\paragraph{Studies.} Not every combination of the lists above ran: each study below is "
        r"the cross product of its own lists, and the experiments are the union of the studies "
        r"(a forget set of random classes stands for all its draws; class-only methods "
        r"skip random-sample forget sets)."
    ]
    out.append(r"\begin{itemize}")
    for name, study in studies.items():
        out.append(
            rf"\item \texttt{{{escape(name)}}}: datasets {_names(study['datasets'])}; "
            rf"architectures {_names(study['archs'])}; seeds {', '.join(str(s) for s in study['seeds'])}; "
            rf"forget sets {_names(study['forget_sets'])}; methods {_names(study['methods'])}."
        )
    out.append(r"\end{itemize}")
    return "\n".join(out)


def setup_section(
    config: dict,
    method_params: dict,
    manifests: list[dict],
    forget_sets: list[dict],
    originals: list[dict],
    tuned: list[dict] = (),
) -> str:
    """LaTeX body (no \\section) describing datasets, models, seeds, forget sets, methods, hardware."""
    out = [r"\paragraph{Datasets.}"]
    out.append(r"\begin{itemize}")
    for m in manifests:
        shape = r"$\times$".join(str(s) for s in m["shape"])
        out.append(
            rf"\item \texttt{{{escape(m['name'])}}}: {m['n_train']} training, {m.get('n_val', 0)} validation "
            rf"(held out of every model's training; methods that monitor themselves use it) and {m['n_test']} test images "
            rf"of shape {shape}, {m['num_classes']} classes; "
            rf"source: {escape(m['source'])}; sha256 \texttt{{{m['sha256'][:12]}}}\ldots"
        )
    out.append(r"\end{itemize}")

    recipe = config["train"]
    archs = ", ".join(rf"\texttt{{{escape(a)}}}" for a in config["archs"])
    out.append(
        rf"\paragraph{{Models and training.}} Architectures: {archs}. "
        rf"Seeds: {', '.join(str(s) for s in config['seeds'])}; each seed trains its own original model and, per forget set, "
        rf"its own retrained model. Training recipe (original and retrain): {_params(recipe)}."
    )
    devices = sorted({o.get("device", "?") for o in originals})
    if originals:
        seconds = [o["train_seconds"] for o in originals]
        out.append(
            rf"Original models were trained on {escape(', '.join(devices))} in "
            rf"{min(seconds):.2f}--{max(seconds):.2f}\,s each."
        )

    if config.get("studies"):
        out.append(_studies(config["studies"]))

    out.append(r"\paragraph{Forget sets.}")
    out.append(r"\begin{itemize}")
    for f in forget_sets:
        if f["classes"] is None:
            what = f"{f['size']} random training samples"
        else:
            what = f"class{'es' if len(f['classes']) > 1 else ''} {', '.join(map(str, f['classes']))} ({f['size']} training samples)"
        out.append(rf"\item \texttt{{{escape(f['dataset'])}}} / \texttt{{{escape(f['id'])}}}: {what}")
    out.append(r"\end{itemize}")

    out.append(r"\paragraph{Methods and hyperparameters.}")
    out.append(r"\begin{itemize}")
    sources = config.get("tuning", {}).get("sources", {})
    for method in config["methods"]:
        tuned_note = ""
        if any(source != "defaults" for source in sources.get(method, {}).values()):
            keys = sorted(set(METHODS[method].search_space) - set(config.get("method_params", {}).get(method) or {}))
            tuned_note = " (" + ", ".join(escape(k) for k in keys) + r" replaced by the search's values: see below)"
        out.append(rf"\item \texttt{{{escape(method)}}}: {_params(method_params[method])}{tuned_note}")
    out.append(r"\end{itemize}")
    out.append(search_spaces(config["methods"], config.get("method_params", {}), config.get("tuning", {}), tuned))
    return "\n".join(out) + "\n"


def search_spaces(methods: list[str], overrides: dict, tuning: dict | None = None, tuned: list[dict] = ()) -> str:
    """Each method's search space (the catalogue's) and where the values that ran came from: the
    paper's defaults, a search (shipped with the repository or run by this workflow: per dataset,
    architecture and forget-set kind, its trials, chosen values and gap), or this config's
    ``method_params`` for the keys it sets (which win over a search's)."""
    tuning = tuning or {}
    sources = tuning.get("sources", {})
    by_method: dict[str, list[dict]] = {}
    for record in tuned:
        by_method.setdefault(record["method"], []).append(record)
    rows = []
    for method in methods:
        space = METHODS[method].search_space
        if not space:
            continue
        searched = "; ".join(rf"{escape(key)} {escape(dim.describe())}" for key, dim in space.items())
        chosen = sorted(set(space) & set(overrides.get(method) or {}))
        by_kind = sources.get(method, {})  # {forget-set kind: source}
        hand = ", ".join(rf"\texttt{{{escape(k)}}}" for k in chosen)
        untuned = [kind for kind, source in by_kind.items() if source == "defaults"]
        if len(untuned) == len(by_kind):
            if not chosen:
                text = "These ran at the paper's defaults."
            else:
                text = f"Picked by hand in this configuration: {hand}"
                text += "." if set(chosen) == set(space) else "; the rest ran at the paper's defaults."
        else:
            groups: dict[str, list[str]] = {}
            for kind, source in by_kind.items():
                if source != "defaults":
                    groups.setdefault(source, []).append(kind)
            mixed = len(groups) > 1 or bool(untuned)
            text = "Tuned by a search " + "; by a search ".join(
                _WHERE[source] + (f" for {_kinds(kinds)} forgetting" if mixed else "")
                for source, kinds in groups.items()
            )
            if untuned:
                text += f"; {'hand-picked and ' if chosen else ''}the paper's defaults for {_kinds(untuned)} forgetting"
            text += f" ({hand} fixed by hand)." if chosen else "."
            searches = [
                rf"{escape(r['dataset'])}/{escape(r['arch'])}, {escape(r['kind'].replace('_', ' '))} forgetting: "
                + _search_result(r)
                for r in by_method.get(method, [])
            ]
            if searches:
                text += " " + "; ".join(searches) + "."
        rows.append(rf"\item \texttt{{{escape(method)}}}: {searched}. {text}")
    if not rows:
        return ""
    if any(s != "defaults" for by_kind in sources.values() for s in by_kind.values()):
        intro = (
            r"\paragraph{Search spaces and tuned values.} The ranges a hyperparameter search covers for each "
            r"method (log: searched on a log scale). A search (Optuna's TPE sampler, seeded) runs per dataset, "
            r"architecture and forget-set kind on a seed and forget-set draw that no reported run uses, and "
            r"minimises SalUn's average gap to the retrained model on the training data and the validation "
            r"split, never the test set (for random-sample forgetting averaged with a fifth term, the forget-loss "
            r"shift: how far the mean loss on the forget set stays from the retrained model's, as a share of "
            r"the original's distance, 0--100); a trial slower than "
            rf"{100 * float(tuning.get('time_fraction', 0.2)):g}\,\% of retraining counts as infeasible."
        )
    else:
        intro = (
            r"\paragraph{Search spaces.} The ranges a hyperparameter search covers for each method (log: "
            r"searched on a log scale). No search produced the values above: they are the papers' defaults "
            r"or picked by hand in this configuration, as said per method."
        )
    return "\n".join([intro, r"\begin{itemize}", *rows, r"\end{itemize}"])


def setup_summary(config: dict, manifests: list[dict], forget_sets: list[dict], summary=None) -> str:
    """The main text's setup in a page: data, models, scenarios, methods by family, runs, measures.

    Every fact comes from the config that ran, the data manifests, the forget sets and the summary
    (the population and reference-model sizes); the full setup is :func:`setup_section`'s appendix.
    """
    from lethe.methods.catalog import FAMILIES
    from lethe.metrics.catalog import GAPS, METRICS

    def size(metric: str) -> list[int]:
        if summary is None or summary.empty:
            return []
        values = summary.loc[summary["metric"] == metric, "mean"].dropna()
        return sorted({int(v) for v in values if v > 0})

    data = "; ".join(
        rf"\texttt{{{escape(m['name'])}}} ({m['n_train']} training, {m.get('n_val', 0)} validation and "
        rf"{m['n_test']} test images, {m['num_classes']} classes)"
        for m in manifests
    )
    archs = ", ".join(rf"\texttt{{{escape(a)}}}" for a in config["archs"])
    seen, scenarios = set(), []
    for f in forget_sets:
        name = f.get("name", f["id"])
        if (f["dataset"], name) in seen:
            continue
        seen.add((f["dataset"], name))
        spec = f.get("spec", {})
        if f["classes"] is None:
            what = f"{f['size']} random training images" + (", drawn per seed" if spec.get("per_seed") else "")
        elif spec.get("kind") == "random_classes":
            what = (
                f"{len(f['classes'])} classes drawn at random, {spec.get('draws', 1)} draws (about {f['size']} images)"
            )
        else:
            n = len(f["classes"])
            what = f"class{'es' if n > 1 else ''} {', '.join(map(str, f['classes']))} ({f['size']} training images)"
        scenarios.append(rf"\texttt{{{escape(name)}}}: {what}")
    families = []
    for family, heading in FAMILIES.items():
        members = [m for m in config["methods"] if METHODS[m].family == family]
        if members:
            families.append(rf"{escape(heading.lower())} ({_names(members)})")
    sources = config.get("tuning", {}).get("sources", {})
    searched = sorted(m for m, by_kind in sources.items() if any(s != "defaults" for s in by_kind.values()))
    population, references = size("population_models"), size("lira_models")
    gap = ", ".join(METRICS[k].latex for k in GAPS["avg_gap"])
    out = [
        rf"\paragraph{{Data and models.}} {data}; architecture{'s' if len(config['archs']) > 1 else ''} {archs}, "
        rf"trained with {_params(config['train'])}. "
        + (
            rf"Each of the {len(config['seeds'])} seeds ({', '.join(map(str, config['seeds']))}) trains"
            if len(config["seeds"]) > 1
            else rf"The one seed ({config['seeds'][0]}) trains"
        )
        + r" its own original and, per forget set, its own retrained model.",
        r"\paragraph{Scenarios.} " + "; ".join(scenarios) + ".",
        rf"\paragraph{{Methods.}} {len(config['methods'])} methods, each run on every seed and scenario it applies to: "
        + "; ".join(families)
        + ". "
        + (
            rf"{len(searched)} of them ran at values a seeded search found on a seed and draw no reported run "
            r"uses, the others at their papers' defaults or values picked by hand (Appendix~\ref{sec:setup-full})."
            if searched
            else r"All ran at their papers' defaults or values picked by hand (Appendix~\ref{sec:setup-full})."
        ),
        rf"\paragraph{{Measures.}} Forgetting and retention: {METRICS['acc_forget'].latex}, {METRICS['acc_retain'].latex}, "
        rf"{METRICS['acc_test_retained'].latex} (test accuracy on the retained classes, the whole test set for a random "
        rf"sample). Closeness to retraining: SalUn's average gap (over {gap}), against the floor that two "
        r"independent retrainings (retrain\_twin) differ by. Hiding: a few-shot linear probe of the penultimate "
        rf"features on the forgotten classes ({METRICS['probe_fewshot_acc_forgotten'].latex}). "
        + (
            rf"Populations: each method run $N = {'/'.join(map(str, population))}$ times against as many retrained "
            rf"models, scored by the NeurIPS 2023 challenge's forgetting quality {METRICS['fq_F'].latex} and the "
            r"per-example attack U-LiRA; two independent retrained populations give the null. "
            if population
            else r"No populations of unlearning runs in this configuration. "
        )
        + (
            rf"LiRA calibrates membership per sample on {'/'.join(map(str, references))} reference models. "
            if references
            else ""
        )
        + r"Every interval is a 95\,\% interval: Student $t$ over the $n$ runs (seeds $\times$ draws) where "
        r"$n \geq 2$, the run's own (Wilson's for an accuracy, a bootstrap over the models for a population metric) "
        r"where $n = 1$.",
    ]
    return "\n\n".join(out) + "\n"
