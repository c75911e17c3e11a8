"""advkd: knowledge distillation and adversarial robustness experiments.

The library is independent of Snakemake; the workflow's scripts are thin wrappers around it.
"""

__version__ = "0.1.0"
