"""Shared test data: the stimulus sets, simulated populations and recordings several test files use,
and factories of planted data (a linearly predicted recording, random rotations) for tests that draw their own.

Each is built once per session (they take a second or more) and handed to every test as a
deep copy, so a test that changes its copy cannot change what another test sees. All are
simulated or generated from images bundled with installed packages (offline).
"""
import copy

import numpy as np
import pytest

IMAGE_SIZE = 32  # pixels


@pytest.fixture(scope="session")
def _texture_stimuli_once():
    from analysis.texture_stimuli import texture_stimulus_set

    return texture_stimulus_set(samples_per_family=8, size=IMAGE_SIZE, seed=0, progress=False)


@pytest.fixture
def texture_stimuli(_texture_stimuli_once):
    """FreemanZiemba2013 layout from the bundled textures: 4 families × {texture, noise} × 8 samples, 32 px."""
    return copy.deepcopy(_texture_stimuli_once)


@pytest.fixture(scope="session")
def _small_texture_stimuli_once():
    from analysis.texture_stimuli import texture_stimulus_set

    return texture_stimulus_set(samples_per_family=3, size=IMAGE_SIZE, seed=0, progress=False)


@pytest.fixture
def small_texture_stimuli(_small_texture_stimuli_once):
    """The same layout with 3 samples per family and type (24 images, 32 px)."""
    return copy.deepcopy(_small_texture_stimuli_once)


@pytest.fixture(scope="session")
def _simulated_recording_once(_texture_stimuli_once):
    from analysis.simulate import simulate_recordings

    return simulate_recordings(_texture_stimuli_once, n_units={"V1": 30, "V2": 30}, n_repetitions=10,
                               image_size=IMAGE_SIZE, seed=0)


@pytest.fixture
def simulated_recording(_simulated_recording_once):
    """Simulated V1/V2 recording (analysis.simulate) on ``texture_stimuli``: 30 + 30 units, 10 repetitions.

    Planted ground truth: V1-like units see the power spectrum, which a texture shares with its
    spectrally matched noise; V2-like units add a second-order term that naturalistic textures
    drive more than noise. Poisson-like trial noise; ``attrs["simulated"] == 1``.
    """
    return _simulated_recording_once.copy(deep=True)


@pytest.fixture(scope="session")
def _v1v2_population_once():
    from analysis.simulate import SimulatedPopulation

    return SimulatedPopulation({"V1": 30, "V2": 30}, image_size=IMAGE_SIZE, seed=0)


@pytest.fixture
def v1v2_population(_v1v2_population_once):
    """The simulated ground-truth population behind ``simulated_recording``'s layout (30 V1-like, 30 V2-like units)."""
    return copy.deepcopy(_v1v2_population_once)


@pytest.fixture
def repeated_recording():
    """Factory of small recordings with repetitions: ``repeated_recording(n_stim=4, n_rep=3, n_neur=5, seed=0)``.

    Uniform random rates; ``stimulus_id`` s0…, ``repetition``, ``texture_family`` alternating
    brick/grass, ``region`` V1 for the first two neuroids and V2 for the rest; labelled simulated.
    """
    from analysis.assemblies import make_assembly

    def make(n_stim=4, n_rep=3, n_neur=5, seed=0):
        rng = np.random.default_rng(seed)
        stim = [f"s{i}" for i in range(n_stim)]
        return make_assembly(
            rng.random((n_stim * n_rep, n_neur)),
            stimulus_id=np.repeat(stim, n_rep),
            neuroid_id=[f"unit_{j}" for j in range(n_neur)],
            presentation_coords={"repetition": np.tile(np.arange(n_rep), n_stim),
                                 "texture_family": np.repeat(["brick", "grass"] * (n_stim // 2), n_rep)},
            neuroid_coords={"region": ["V1"] * 2 + ["V2"] * (n_neur - 2)},
            attrs={"source": "test", "simulated": 1},
        )

    return make


@pytest.fixture
def planted_linear_recording():
    """Factory of a model layer and a recording it linearly predicts (predictivity, ceilings, layer mapping).

    ``planted_linear_recording(rng, n_stim=60, n_rep=6, n_neur=12, p=80, noise=1.5, shuffle=True)``
    → ``(source, target)``. Planted: rates = X W / √p of the source features X (Gaussian X, W),
    Gaussian trial noise of s.d. ``noise``, ``n_rep`` repetitions; stimulus ids in random order,
    ``texture_type`` alternating texture/noise, target presentations shuffled unless ``shuffle=False``;
    region V1, labelled simulated. Draws from ``rng`` in a fixed order, so a seed gives one data set.
    """
    from analysis.assemblies import make_assembly

    def make(rng, n_stim=60, n_rep=6, n_neur=12, p=80, noise=1.5, shuffle=True):
        X = rng.normal(size=(n_stim, p))
        rates = X @ rng.normal(size=(p, n_neur)) / np.sqrt(p)
        ids = np.array([f"im{i:03d}" for i in rng.permutation(n_stim)])
        ttype = np.array(["texture", "noise"])[np.arange(n_stim) % 2]
        source = make_assembly(X.astype(np.float32), stimulus_id=ids, presentation_coords={"texture_type": ttype})
        Y = np.repeat(rates, n_rep, 0) + noise * rng.normal(size=(n_stim * n_rep, n_neur))
        sid, reps, tt = np.repeat(ids, n_rep), np.tile(np.arange(n_rep), n_stim), np.repeat(ttype, n_rep)
        order = rng.permutation(len(sid)) if shuffle else np.arange(len(sid))
        target = make_assembly(Y[order], stimulus_id=sid[order],
                               presentation_coords={"repetition": reps[order], "texture_type": tt[order]},
                               neuroid_coords={"region": ["V1"] * n_neur}, attrs={"simulated": 1})
        return source, target

    return make


@pytest.fixture
def random_orthogonal():
    """Factory of random rotations for invariance tests: ``random_orthogonal(rng, p)`` → (p, p) orthogonal matrix.

    QR of a Gaussian matrix with the signs of R's diagonal moved into Q (Haar-distributed; Mezzadri 2007).
    """
    def make(rng, p):
        q, r = np.linalg.qr(rng.normal(size=(p, p)))
        return q * np.sign(np.diag(r))

    return make
