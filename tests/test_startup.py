"""Start-up cost: importing the packages and the command lines that build no model import neither torch nor matplotlib.

Each check runs in a fresh interpreter: ``python -X importtime`` lists every module a
command imported (the measurement behind ``benchmarks/bench_startup.py``). The
reproduction listing reads each module's registration from its source; the last
tests check that reading against importing the modules, and on planted sources.
"""
import importlib
import pkgutil
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("torch", "matplotlib")


def _imported(args: list[str]) -> set[str]:
    """Top-level names of every module imported by ``python -X importtime ARGS``."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name.split(".")[0])
    assert "encodings" in names or "json" in names or "argparse" in names, "no import-time lines were read"
    return names


@pytest.mark.parametrize("args", [
    ["-c", "import neurocommon; from neurocommon import files, images, progress, deformations, lazy"],
    ["-c", "import neuromodels, analysis, neuromodels.training, neuromodels.brainscore"],
    ["-c", "import experiments.reproductions as r; [r.get_reproduction(n).presets for n in r.list_reproductions()]"],
    ["-m", "experiments", "list"],
    ["-m", "neuromodels.brainscore", "--help"],
    ["-m", "neuromodels.training", "--help"],
    ["-m", "analysis.datasets", "list"],
], ids=["neurocommon", "packages", "registry", "experiments-list", "brainscore-help", "training-help", "datasets-list"])
def test_light_commands_import_neither_torch_nor_matplotlib(args):
    heavy = set(HEAVY) & _imported(args)
    assert not heavy, f"`python {' '.join(args)}` imports {sorted(heavy)}"


def test_the_lazy_names_are_the_modules_own():
    import neuromodels
    import neuromodels.training as training
    from neuromodels.losses import register_loss
    from neuromodels.registry import build_model
    from neuromodels.training.loop import Trainer, seed_of

    assert neuromodels.build_model is build_model and neuromodels.register_loss is register_loss
    assert training.Trainer is Trainer and training.seed_of is seed_of
    for package in (neuromodels, training):
        for name in package.__all__:
            assert getattr(package, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        neuromodels.nope


def test_registrations_read_from_source_equal_the_imported_ones():
    import experiments.reproductions as reproductions

    seen = 0
    for info in pkgutil.iter_modules(reproductions.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"experiments.reproductions.{info.name}")  # its decorators run
        for d in reproductions.declared_reproductions(module.__file__):
            rep = reproductions.get_reproduction(d["name"])
            assert rep.run.__module__ == module.__name__ and rep.run is getattr(module, d["function"])
            assert (d["title"], d["trains"], d["doc"]) == (rep.title, rep.trains, rep.doc)
            seen += 1
    assert seen == len(reproductions.list_reproductions())


def test_source_reading_on_planted_modules(tmp_path):
    from experiments.reproductions import declared_reproductions

    def planted(body: str):
        path = tmp_path / "planted.py"
        path.write_text(textwrap.dedent(body))
        return declared_reproductions(path)

    literal = planted('''
        """A planted reproduction.

        More text."""
        from . import register_reproduction
        TITLE = "Planted (2024)"

        @register_reproduction("planted", title=TITLE, trains={"m": "train.checkpoint"})
        def run(run, cfg, device):
            pass
        ''')
    assert literal == [{"name": "planted", "title": "Planted (2024)", "trains": {"m": "train.checkpoint"},
                        "function": "run", "doc": "A planted reproduction.\n\nMore text."}]
    assert planted("from . import register_reproduction\n") == []  # no registration: nothing to import
    # anything that needs running code to be read sends the caller to import the module
    assert planted("import os\n@register_reproduction('x', title=os.sep)\ndef run(r, c, d): pass\n") is None
    assert planted("def run(r, c, d): pass\nregister_reproduction('x', title='t')(run)\n") is None
    assert planted("@register_reproduction('x', title='t', other=1)\ndef run(r, c, d): pass\n") is None
