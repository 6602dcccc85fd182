"""Tests of the Parthasarathy & Simoncelli (2020) texture model."""
import pytest
import torch
from skimage import data

from neuromodels import build_model
from neuromodels.frontends import SteerableV1
from neuromodels.losses import build_loss


def test_structure_fixed_v1_and_one_learned_stage():
    model = build_model("texture_model", n_scales=2, channels=8)
    assert isinstance(model.frontend, SteerableV1)
    assert not any(p.requires_grad for p in model.frontend.parameters())
    assert len(model.stages) == 1 and model.stages[0].conv.in_channels == model.frontend.out_channels
    assert model.layers == ["frontend", "stages.0"] and model.stage_names == ["stages.0"]
    x = torch.rand(3, 1, 32, 32)
    fmap = model(x)
    z = model.embedding(fmap, "stages.0")
    assert z.shape == (3, 8)
    assert torch.allclose(z, fmap.mean((2, 3)))  # the texture vector is the spatial average
    assert (fmap >= 0).all()  # half-wave rectified, average pooled


def _crops(image, n, size, seed):
    g = torch.Generator().manual_seed(seed)
    h, w = image.shape
    ys = torch.randint(0, h - size, (n,), generator=g)
    xs = torch.randint(0, w - size, (n,), generator=g)
    return torch.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)])[:, None]


def test_training_lowers_the_gaussian_information_loss():
    textures = [torch.from_numpy(getattr(data, name)()[:128, :128].astype("float32") / 255)
                for name in ("brick", "grass", "gravel")]
    crops = torch.stack([_crops(t, 6, 32, i) for i, t in enumerate(textures)])  # (3 images, 6 crops, 1, 32, 32)
    torch.manual_seed(0)
    model = build_model("texture_model", n_scales=2, channels=4)
    loss_fn = build_loss("gaussian_information", variant="pooled")
    opt = torch.optim.Adam(model.stages.parameters(), lr=3e-2)
    with torch.no_grad():
        v1 = model.frontend(crops.flatten(0, 1))  # fixed: computed once

    def loss():
        z = model.embedding(model.stages[0](v1), 0).reshape(3, 6, -1)
        return loss_fn(z)

    with torch.no_grad():
        start = float(loss())
    for _ in range(30):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        end = float(loss())
    assert torch.isfinite(value.detach())
    assert end < start - 0.5  # nats


# -- V1 populations, training families held out from evaluation ----------------------

def test_v2_reads_simple_and_complex_cells_by_default():
    model = build_model("texture_model", n_scales=2, n_orientations=4, channels=8)
    assert model.frontend.cells == "both"
    assert model.stages[0].conv.in_channels == 5 * 2 * 4  # 4 simple phases + 1 complex per band
    complex_only = build_model("texture_model", n_scales=2, n_orientations=4, channels=8, v1_cells="complex")
    assert complex_only.stages[0].conv.in_channels == 2 * 4


def test_training_families_exclude_the_evaluation_families():
    import yaml
    from pathlib import Path

    import neuromodels
    from neuromodels.texture_families import HELD_OUT_FAMILIES, default_train_families, texture_family_images

    assert set(HELD_OUT_FAMILIES) == {"brick", "grass", "gravel", "reptile_skin"}
    configs = Path(neuromodels.__file__).parent / "configs"
    for name in ("texture_model_quick.yaml", "texture_model.yaml"):
        data_cfg = yaml.safe_load((configs / name).read_text())["data"]
        assert data_cfg["source"] == "texture_families"
        families = data_cfg["images"]
        assert len(families) >= 18 and not {f.rpartition("_")[0] for f in families} & set(HELD_OUT_FAMILIES)
    assert set(default_train_families()) == set(
        yaml.safe_load((configs / "texture_model_quick.yaml").read_text())["data"]["images"])
    with pytest.raises(ValueError, match="held-out evaluation texture"):
        texture_family_images(["brick_0"])
    with pytest.raises(ValueError, match="unknown texture family"):
        texture_family_images(["camera"])


def test_homogeneous_crops_avoid_a_non_stationary_region():
    g = torch.Generator().manual_seed(0)
    image = torch.zeros(1, 128, 128)
    image[:, :, :64] = 0.5 + 0.1 * torch.randn(1, 128, 64, generator=g)  # stationary noise
    image[:, :, 64:] = torch.linspace(0, 1, 64)  # a luminance ramp: not homogeneous
    from neuromodels.texture_families import homogeneous_crops

    corners = homogeneous_crops(image, 32, 3)
    assert all(left + 32 <= 64 for _, left in corners), corners
    assert all(abs(a[0] - b[0]) >= 32 or abs(a[1] - b[1]) >= 32 for i, a in enumerate(corners) for b in corners[i + 1:])


def test_families_are_synthesized_once_and_cached_atomically(tmp_path, monkeypatch):
    import neuromodels.texture_families as tf

    calls = []

    def fake_synthesis(target, n_iter, seed, model):  # PS itself is plenoptic's (tested there)
        calls.append(seed)
        return target.flip(-1)

    monkeypatch.setattr(tf, "synthesize_texture", fake_synthesis)
    monkeypatch.setattr(tf, "portilla_simoncelli_model", lambda size: None)
    first = tf.texture_family_images(["camera_0", "moon_1"], size=32, n_iter=3, cache=tmp_path)  # made at 64 px
    assert len(calls) == 2 and calls[0] != calls[1]
    again = tf.texture_family_images(["camera_0", "moon_1"], size=32, n_iter=3, cache=tmp_path)
    assert len(calls) == 2  # read from the cache
    assert tf.texture_family_images(["camera_0"], size=96, n_iter=3, cache=tmp_path)[0].shape == (1, 96, 96)
    assert len(calls) == 2  # sizes below 128 share the 64-px syntheses
    assert all(torch.allclose(a, b, atol=1 / 65535) for a, b in zip(first, again))
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["camera_0.png", "moon_1.png"]  # no temporary files left
    assert first[0].shape == (1, 32, 32) and 0 <= float(first[0].min()) <= float(first[0].max()) <= 1


def test_portilla_simoncelli_synthesis_matches_the_target_statistics_better_than_its_start():
    from neuromodels.texture_families import portilla_simoncelli_model, synthesize_texture

    target = torch.from_numpy(data.brick()[:32, :32].astype("float32") / 255)[None]
    model = portilla_simoncelli_model(32)
    out = synthesize_texture(target, n_iter=40, seed=0, model=model)
    g = torch.Generator().manual_seed(0)
    start = (torch.randn(1, 1, 32, 32, generator=g) * target.std() + target.mean()).clamp(0, 1)
    stats = lambda x: model(x.reshape(1, 1, 32, 32))  # noqa: E731
    assert out.shape == (1, 32, 32)
    assert float((stats(out) - stats(target)).norm()) < 0.5 * float((stats(start) - stats(target)).norm())


def test_synthesis_does_not_depend_on_the_thread_count():
    """One seed, one texture: the synthesis pins one thread (1 and 2 threads used to differ)."""
    import torch

    from neuromodels.data import load_bundled
    from neuromodels.texture_families import synthesize_texture

    target = load_bundled("camera", size=128)[:, :32, :32]
    before = torch.get_num_threads()
    out = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        try:
            out.append(synthesize_texture(target, n_iter=10, seed=3))
        finally:
            torch.set_num_threads(before)
    assert torch.equal(out[0], out[1])
    assert torch.get_num_threads() == before
