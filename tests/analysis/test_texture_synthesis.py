"""Portilla-Simoncelli synthesis: the statistics of the result approach the source's (plenoptic's model)."""
import numpy as np
import pytest

from analysis.bundled import bundled_textures
from analysis.texture_synthesis import synthesize_texture


def _ps_distance(a, b, size):
    import plenoptic as po
    import torch

    model = po.models.PortillaSimoncelli((size, size), n_scales=2, spatial_corr_width=5)
    ta, tb = (torch.as_tensor(np.asarray(x, dtype=np.float32))[None, None] for x in (a, b))
    with torch.no_grad():
        return float(torch.linalg.vector_norm(model(ta) - model(tb)))


@pytest.mark.slow  # ~10 s on a busy 2-core machine (torch/plenoptic imports + 40 iterations)
def test_synthesis_matches_portilla_simoncelli_statistics():
    size = 32
    src = bundled_textures(size=size, names=["brick"]).load_images()[0, 0]
    out = synthesize_texture(src, n_iter=40, seed=0, progress=False)
    assert out.shape == (size, size) and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    # the initial image: seeded Gaussian noise with the source's mean and std
    rng = np.random.default_rng(0)
    noise = np.clip(rng.standard_normal((size, size)) * src.std() + src.mean(), 0, 1)
    d_synth, d_noise = _ps_distance(out, src, size), _ps_distance(noise, src, size)
    assert d_synth < 0.3 * d_noise
    assert not np.allclose(out, src, atol=0.05)  # a new sample, not a copy of the source
    a, b = (synthesize_texture(src, n_iter=3, seed=0, progress=False) for _ in range(2))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, synthesize_texture(src, n_iter=3, seed=1, progress=False))
