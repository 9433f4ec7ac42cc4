# gpgcn: genomic prediction of Arabidopsis flowering time with a GCN, against GBLUP.
# The pipeline's shape is `ls rules/`: data -> kinship -> split -> train (strategies) / models (per trait) -> report.
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from gpgcn.config.check import config_errors

min_version("9.0")


# The defaults, wherever the working directory is; --configfile overrides them key by key.
configfile: f"{workflow.basedir}/config.yaml"


# A short message naming each wrong key first; then Snakemake's validation fills in defaults.
with open(f"{workflow.basedir}/config.schema.yaml") as schema:
    problems = config_errors(config, yaml.safe_load(schema))
if problems:
    raise WorkflowError("invalid configuration:\n  " + "\n  ".join(problems))
validate(config, "config.schema.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/kinship.smk"
include: "rules/split.smk"
include: "rules/train.smk"
include: "rules/models.smk"
include: "rules/report.smk"


rule all:
    input:
        "results/summary/accuracy.tsv",
        "results/plots/accuracy_by_trait.png",
        expand("results/predictions/{trait}.tsv", trait=TRAITS),
        "results/plots/predicted_vs_observed.png",
        "results/plots/learning_curves.png",
        "results/summary/data.tsv",
        # The strategies' timings, where `strategies:` asks for any (config/demo.yaml does).
        (
            ["results/summary/timings.tsv", "results/plots/speedup.png"]
            if STRATEGY_RUNS
            else []
        ),
