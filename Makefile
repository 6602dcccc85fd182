# Set-up and everyday commands. On a fresh clone `make demo` and `make test` do all the set-up.
PYTHON ?= python3
VENV ?= .venv
BS_VENV ?= .venv-brainscore
PY := $(VENV)/bin/python
BS_PY := $(BS_VENV)/bin/python
TORCH_PIN := torch==2.14.1 torchvision==0.29.1
OUT ?= results/quickstart
export MPLBACKEND ?= Agg

.PHONY: venv demo test test-fast bench brainscore-env test-brainscore notebooks clean

# The venv is (re)built when missing or when setup.cfg changes. torch/torchvision are
# installed first, pinned, so that no other requirement pulls a different multi-GB build.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

venv: $(VENV)/.installed

## the main job: the quick reproduction suite on bundled data -> $(OUT)/report.md
demo: venv
	$(PY) -m experiments run quickstart --quick --out $(OUT)

## the tests (main environment, then the Brain-Score environment)
test: venv
	$(PY) -m pytest -q
	$(MAKE) test-brainscore

test-fast: venv
	$(PY) -m pytest -q -x -m "not slow"

bench: venv
	$(PY) -m benchmarks

# Brain-Score pins numpy<2, xarray<2022.6, scikit-learn<1.6: it lives in its own venv. The toolkit goes in
# without its own dependencies (they conflict); what its model code needs (plenoptic for the steerable
# pyramid, h5netcdf to read assemblies) is added under Brain-Score's pins, frozen as constraints.
# `neuromodels.brainscore test-images` writes the three images Brain-Score's generic plugin tests read
# (absent from the 2.4.2 wheel).
$(BS_VENV)/.installed: setup.cfg
	test -x $(BS_PY) || $(PYTHON) -m venv $(BS_VENV)
	$(BS_PY) -m pip install --quiet --upgrade pip
	$(BS_PY) -m pip install --quiet "brainscore-vision[test]==2.4.2" $(TORCH_PIN)
	$(BS_PY) -m pip freeze | grep -i -E '^(numpy|xarray|scikit-learn|pandas|scipy|matplotlib|torch|torchvision)==' > $(BS_VENV)/constraints.txt
	$(BS_PY) -m pip install --quiet -c $(BS_VENV)/constraints.txt plenoptic h5netcdf pyyaml tqdm
	$(BS_PY) -m pip install --quiet --no-deps -e .
	$(BS_PY) -m neuromodels.brainscore test-images
	touch $@

brainscore-env: $(BS_VENV)/.installed

## Brain-Score's own plugin tests on exported models, conversions, a local benchmark (needs both venvs)
test-brainscore: brainscore-env venv
	BS_INSTALL_DEPENDENCIES=no $(BS_PY) -m pytest -q -c tests/brainscore/pytest.ini tests/brainscore

## Jupyter on the notebooks (installs the `notebooks` extra)
notebooks: venv
	$(PY) -m pip install --quiet -e ".[dev,notebooks]"
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) $(BS_VENV) results .pytest_cache
