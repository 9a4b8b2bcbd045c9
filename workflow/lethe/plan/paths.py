"""Where a run's files live, and the names the plan gives its models.

Data, models and metrics are shared by every config: their paths name the dataset,
architecture, seed, forget set and method, never the config. Tables and the paper are per
config (its ``name``). Torch-free.
"""

ORIGINAL = "original"  # evaluated like a method, but it is the model before unlearning

# Where a run's files live (data, models and metrics are shared by every config).
MODELS = "results/models/{dataset}/{arch}/seed{seed}"
METRICS = "results/metrics/{dataset}/{arch}/seed{seed}/{forget_set}/{evaluated}.json"
REFERENCES = "results/reference/{dataset}/{arch}/seed{seed}"  # rule train_reference (lethe.populations.reference)
POPULATIONS = "results/population/{dataset}/{arch}/seed{seed}/{forget_set}"  # rule population (lethe.populations.runs)
SHADOWS = "results/shadow/{dataset}/{arch}/seed{seed}"  # rule train_shadow (lethe.populations.shadow)
# Populations drawn for every scenario that has any: retrain's (what every population is compared with)
# and retrain_twin's (the null: retrain against retrain).
POPULATION_BASELINES = ("retrain", "retrain_twin")
