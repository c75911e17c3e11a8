import subprocess
import sys


def modules_loaded_by(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())


def test_the_library_never_imports_snakemake():
    loaded = modules_loaded_by(
        "import advkd.data, advkd.models, advkd.losses, advkd.attacks, advkd.train, advkd.evaluate"
    )
    assert "snakemake" not in loaded and "torch" in loaded


def test_the_run_registry_imports_no_torch():
    """The Snakefile imports advkd.runs and advkd.config at DAG time, once per cluster job: it must stay light."""
    loaded = modules_loaded_by("import advkd.runs, advkd.config")
    assert "torch" not in loaded and "snakemake" not in loaded
