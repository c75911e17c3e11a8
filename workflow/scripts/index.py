"""Rule index: reports/<name>/index.md linking every table, figure and claim, with provenance."""

import datetime
from pathlib import Path

from advkd.io import atomic_path
from advkd.joblog import job_log
from advkd.workflow import code_version

sm = snakemake  # noqa: F821 (injected by Snakemake)


def index_lines() -> list[str]:
    lines = [
        f"# advkd report: {sm.params.name}",
        "",
        f"- config: `{sm.params.configfiles}`",
        f"- code: {code_version(sm.scriptdir)}",
        f"- produced: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}",
        "",
    ]
    curve_names = {Path(png).name for png in sm.input.curves}
    for md in sorted(sm.input.tables):
        stem = Path(md).stem
        lines += [
            Path(md).read_text(),
            f"Files: [{stem}.csv]({stem}.csv), [{stem}.md]({stem}.md), [{stem}.tex]({stem}.tex)",
            "",
        ]
        if f"{stem}_curves.png" in curve_names:
            lines += [f"![Training curves, {stem}]({stem}_curves.png)", ""]
    for md in sm.input.claims:
        lines += [Path(md).read_text(), "Files: [claims.md](claims.md), [claims.csv](claims.csv)", ""]
    if sm.input.records:
        lines += ["RobustBench-style records of every attacked run: [robustbench.json](robustbench.json)", ""]
    for png in sm.input.figures:
        name, stem = Path(png).name, Path(png).stem
        lines += [f"![Figure 1]({name})", "", f"Files: [{name}]({name}), [{stem}.pdf]({stem}.pdf)", ""]
    return lines


with job_log(sm.log[0]), atomic_path(sm.output[0]) as tmp:
    tmp.write_text("\n".join(index_lines()))
