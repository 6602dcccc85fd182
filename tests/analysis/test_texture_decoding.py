"""Tests of analysis.texture_decoding: planted family information, chance levels, input errors, chunking."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.assemblies import make_assembly
from analysis.texture_decoding import family_decoding


# --------------------------------------------------------------------------------------
# helpers: FreemanZiemba2013-layout assemblies with planted responses
# --------------------------------------------------------------------------------------


def _layout(n_families, n_samples, n_reps):
    rows = []
    for f in range(n_families):
        for kind in ("texture", "noise"):
            for j in range(n_samples):
                for r in range(n_reps):
                    rows.append((f"f{f}", kind, j, r))
    fam, kind, sample, rep = map(np.array, zip(*rows))
    sid = np.array([f"{a}-{b}-{c:02d}" for a, b, c in zip(fam, kind, sample)])
    return sid, fam, kind, sample, rep


def _assembly(rates, sid, fam, kind, sample, rep, region=None, **attrs):
    ncoords = {} if region is None else {"region": region}
    return make_assembly(
        rates, stimulus_id=sid,
        presentation_coords={"texture_family": fam, "texture_type": kind, "sample": sample,
                             "repetition": rep},
        neuroid_coords=ncoords, attrs={"simulated": 1, "source": "planted", **attrs})


def _noinfo_population(n_units=20, n_families=5, n_samples=5, n_reps=6, seed=0):
    """Poisson trials at one constant rate per unit: no stimulus information at all."""
    rng = np.random.default_rng(seed)
    sid, fam, kind, sample, rep = _layout(n_families, n_samples, n_reps)
    lam = rng.uniform(5, 20, n_units)
    counts = rng.poisson(lam, size=(len(sid), n_units)).astype(float)
    return _assembly(counts, sid, fam, kind, sample, rep)


# --------------------------------------------------------------------------------------
# family vs sample decoding
# --------------------------------------------------------------------------------------


def test_simulated_v2_decodes_family_better_than_v1(simulated_recording):
    res = family_decoding(simulated_recording, population_sizes=[4, 30], n_draws=5, progress=False)
    assert set(res["kind"]) == {"family", "sample"}
    full = res[res["population_size"] == 30].set_index(["population", "kind"])
    acc = full["accuracy"]
    assert acc["V2", "family"] > acc["V1", "family"] + 0.1
    # V2 family decoding is far above chance (1/4): outside the binomial 99.9% interval
    n = int(full.loc[("V2", "family"), "n_test"])
    assert full.loc[("V2", "family"), "n_correct"] > stats.binom.interval(0.999, n, 0.25)[1]
    # Ziemba et al. 2016: relative to sample identity, V2 represents family better than V1
    assert acc["V2", "family"] / acc["V2", "sample"] > acc["V1", "family"] / acc["V1", "sample"]
    assert acc["V1", "sample"] > acc["V2", "sample"]
    # bigger populations decode better (mean over random subpopulations)
    fam = res[res["kind"] == "family"].groupby(["population", "population_size"])["accuracy"].mean()
    assert fam["V2", 30] > fam["V2", 4]


def test_population_without_family_information_decodes_at_chance():
    rec = _noinfo_population()
    res = family_decoding(rec, population_sizes=[20], n_draws=1, progress=False)
    for kind, n_classes in (("family", 5), ("sample", 5)):
        row = res[res["kind"] == kind].iloc[0]
        assert row["chance"] == pytest.approx(1 / n_classes)
        lo, hi = stats.binom.interval(0.99, row["n_test"], 1 / n_classes)
        assert lo <= row["n_correct"] <= hi, (kind, row["n_correct"], lo, hi)
    # draws of subpopulations: the mean over draws is also inside the single-draw interval
    res = family_decoding(rec, population_sizes=[5], n_draws=10, kinds=("family",), progress=False)
    lo, hi = stats.binom.interval(0.99, res["n_test"].iloc[0], 0.2)
    assert lo <= res["n_correct"].mean() <= hi


def test_family_decoding_input_errors():
    rec = _noinfo_population(n_reps=2)
    with pytest.raises(ValueError, match="repetitions|presentation"):
        family_decoding(rec, kinds=("sample",), progress=False)
    det = rec.isel(presentation=np.flatnonzero(rec["repetition"].values == 0))
    res = family_decoding(det, population_sizes=[20], n_draws=1, progress=False)
    assert set(res["kind"]) == {"family"}  # deterministic responses: no sample decoding
    with pytest.raises(ValueError, match="'sample'"):
        family_decoding(rec.drop_vars("sample"), progress=False)


def test_results_do_not_depend_on_the_memory_chunking_of_draws(simulated_recording):
    rec = simulated_recording.isel(neuroid=list(range(4)) + list(range(30, 34)))
    a = family_decoding(rec, population_sizes=[3], n_draws=4, progress=False)
    b = family_decoding(rec, population_sizes=[3], n_draws=4, max_batch_bytes=1, progress=False)
    pd.testing.assert_frame_equal(a, b)
