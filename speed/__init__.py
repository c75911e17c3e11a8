"""advkd's speed benchmarks: `python -m speed` (see speed/README.md).

Every figure is a ratio of two workloads timed side by side, interleaved, in the same process on
the same machine, so machine noise largely cancels; nothing here is a pass/fail test.
"""
