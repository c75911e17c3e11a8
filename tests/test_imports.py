import subprocess
import sys


def modules_loaded_by(statement: str) -> set[str]:
    code = f"{statement}; import sys; print(' '.join(sys.modules))"
    return set(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split())


def test_the_library_never_imports_snakemake():
    loaded = modules_loaded_by("import advkd.data, advkd.models, advkd.losses, advkd.attacks, advkd.train, advkd.evaluate")
    assert "snakemake" not in loaded and "torch" in loaded
