# advkd: every table and figure of the paper, cached run by run. See README.md.
from snakemake.utils import min_version

min_version("9.0")


# The paper config is the default only: a --configfile replaces it instead of being merged into it
# (else every key a demo or user config leaves out would silently come from the paper). Decided
# here rather than by --replace-workflow-config, which cluster jobs would not inherit.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        get_report_targets(),
    localrule: True
