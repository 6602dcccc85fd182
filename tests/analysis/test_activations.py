"""Activation extraction: values against direct forward passes, Brain-Score screen placement."""
import numpy as np
import pytest
import torch
from PIL import Image

from analysis.activations import extract, layer_names, place_on_screen
from analysis.stimuli import StimulusSet


class TinyNet(torch.nn.Module):
    """conv (2 channels, 3x3) -> relu -> pool -> flatten -> linear (4)."""

    def __init__(self, size=16, in_channels=1):
        super().__init__()
        torch.manual_seed(0)
        self.features = torch.nn.Sequential(torch.nn.Conv2d(in_channels, 2, 3), torch.nn.ReLU())
        self.pool = torch.nn.AvgPool2d(2)
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * ((size - 2) // 2) ** 2, 4))
        self.in_channels = in_channels

    def forward(self, x):
        return self.head(self.pool(self.features(x)))


class Screen(torch.nn.Module):
    """Exposes its input as a hookable layer."""

    def __init__(self, visual_degrees, image_size=None):
        super().__init__()
        self.eye = torch.nn.Identity()
        self.visual_degrees = visual_degrees
        if image_size is not None:
            self.image_size = image_size

    def forward(self, x):
        return self.eye(x)


def _stimuli(rng, n=5, size=16, degrees=4.0):
    return StimulusSet.from_images(rng.random((n, size, size)), visual_degrees=degrees,
                                   texture_type=["texture", "noise"] * (n // 2) + ["texture"] * (n % 2))


def test_values_and_coords_match_a_direct_forward_pass():
    rng = np.random.default_rng(0)
    stim = _stimuli(rng, n=7)
    net = TinyNet()
    acts = extract(net, stim, ["features.1", "head"], batch_size=3, progress=False)
    with torch.no_grad():
        x = torch.as_tensor(stim.images)
        conv = net.features(x).numpy()
        head = net(x).numpy()
    a = acts["features.1"]
    assert a.dims == ("presentation", "neuroid") and a.shape == (7, 2 * 14 * 14)
    c, y, xx = a["channel"].values, a["channel_y"].values, a["channel_x"].values
    np.testing.assert_allclose(a.values, conv[:, c, y, xx], atol=1e-6)
    np.testing.assert_allclose(acts["head"].values, head, atol=1e-6)
    assert (acts["head"]["channel_x"].values == 0).all() and (acts["head"]["channel"].values == np.arange(4)).all()
    assert set(a["layer"].values) == {"features.1"}
    assert list(a["stimulus_id"].values) == list(stim.stimulus_ids)
    assert list(a["texture_type"].values) == list(stim.table["texture_type"])
    assert a.attrs["simulated"] == 0 and a.attrs["source"] == "TinyNet"


def _pil_canvas(img, source_deg, target_deg, gray=128):
    """Brain-Score's ImageConverter.apply_ratio (PIL) on a uint8 grayscale image."""
    im = Image.fromarray(img)
    ratio = target_deg / source_deg
    size = np.array(im.size)
    target = (ratio * size).round().astype(int)
    if ratio >= 1:
        bg = Image.new("L", tuple(target), gray)
        bg.paste(im, tuple(((target - size) / 2).round().astype(int)))
        return np.asarray(bg)
    left, upper = ((size - target) / 2).round().astype(int)
    return np.asarray(im.crop((left, upper, left + target[0], upper + target[1])))


@pytest.mark.parametrize("size,source_deg,target_deg", [(16, 4, 8), (15, 3, 8), (16, 8, 4), (17, 10, 3)])
def test_screen_placement_equals_brainscore_canvas(size, source_deg, target_deg):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(size, size), dtype=np.uint8)
    ref = _pil_canvas(img, source_deg, target_deg)
    ours = place_on_screen(torch.as_tensor(img / 255.0)[None, None], source_deg, target_deg,
                           image_size=ref.shape[0], background=128 / 255)
    np.testing.assert_allclose(ours[0, 0].numpy() * 255, ref, atol=1e-9)


def test_small_stimulus_fills_the_central_fraction_of_the_model_field():
    # a 4 deg white stimulus on an 8 deg model: the central half of the width is white, the rest gray
    stim = StimulusSet.from_images(np.ones((2, 32, 32)), visual_degrees=4.0)
    seen = extract(Screen(visual_degrees=8.0), stim, ["eye"], progress=False)["eye"]
    img = seen.values[0].reshape(32, 32)
    assert np.allclose(img[:7, :], 0.5) and np.allclose(img[:, -7:], 0.5)
    np.testing.assert_allclose(img[10:22, 10:22], 1.0, atol=1e-6)
    assert ((img > 0.75).sum()) == pytest.approx(16 * 16, abs=2 * 16)  # (1/2)² of the pixels
    # resized to the model's own input size
    seen = extract(Screen(visual_degrees=8.0, image_size=20), stim, ["eye"], progress=False)["eye"]
    assert seen.sizes["neuroid"] == 400


def test_feature_budget_random_subset_is_fixed_and_seeded():
    rng = np.random.default_rng(2)
    stim = _stimuli(rng, n=6)
    net = TinyNet()
    full = extract(net, stim, ["features.1"], progress=False)["features.1"]
    sub = extract(net, stim, ["features.1"], batch_size=2, max_features=50, seed=3, progress=False)["features.1"]
    assert sub.sizes["neuroid"] == 50
    ref = full.sel(neuroid=full["neuroid_id"].isin(sub["neuroid_id"].values))
    ref = ref.isel(neuroid=np.argsort(ref["neuroid_id"].values))
    mine = sub.isel(neuroid=np.argsort(sub["neuroid_id"].values))
    np.testing.assert_allclose(mine.values, ref.values, atol=1e-7)  # same units in every batch
    other = extract(net, stim, ["features.1"], max_features=50, seed=4, progress=False)["features.1"]
    assert set(other["neuroid_id"].values) != set(sub["neuroid_id"].values)


def test_feature_budget_spatial_pooling_averages_blocks():
    rng = np.random.default_rng(3)
    stim = _stimuli(rng, n=3, size=10)  # conv output 2 x 8 x 8 = 128 features
    net = TinyNet(size=10)
    full = extract(net, stim, ["features.1"], progress=False)["features.1"].values.reshape(3, 2, 8, 8)
    pooled = extract(net, stim, ["features.1"], max_features=32, reduction="pool", progress=False)["features.1"]
    assert pooled.sizes["neuroid"] == 32 and pooled["channel_x"].max() == 3
    blocks = full.reshape(3, 2, 4, 2, 4, 2).mean(axis=(3, 5))  # 2x2 block means
    c, y, x = pooled["channel"].values, pooled["channel_y"].values, pooled["channel_x"].values
    np.testing.assert_allclose(pooled.values, blocks[:, c, y, x], atol=1e-6)


def test_eval_mode_no_grad_and_training_flag_restored():
    rng = np.random.default_rng(4)
    stim = _stimuli(rng, n=4)
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.Dropout(0.5), torch.nn.ReLU())
    net.train()
    a = extract(net, stim, ["2"], progress=False)["2"].values
    b = extract(net, stim, ["2"], progress=False)["2"].values
    np.testing.assert_array_equal(a, b)  # dropout off
    assert net.training
    net.eval()
    with torch.no_grad():
        ref = net(torch.as_tensor(stim.images)).reshape(4, -1).numpy()
    np.testing.assert_allclose(a, ref, atol=1e-6)


def test_gray_stimuli_are_repeated_for_rgb_models():
    rng = np.random.default_rng(5)
    stim = _stimuli(rng, n=3)
    net = TinyNet(in_channels=3)
    acts = extract(net, stim, ["features.0"], progress=False)["features.0"]
    with torch.no_grad():
        ref = net.features[0](torch.as_tensor(stim.images).expand(-1, 3, -1, -1)).reshape(3, -1).numpy()
    np.testing.assert_allclose(acts.values, ref, atol=1e-6)


class Eye(torch.nn.Module):
    """Passes its input on; declares the channels it asks for."""

    def __init__(self, in_channels):
        super().__init__()
        self.eye = torch.nn.Identity()
        self.in_channels = in_channels

    def forward(self, x):
        return self.eye(x)


def test_rgb_stimuli_reach_rgb_models_and_luminance_reaches_gray_models():
    from skimage.color import rgb2gray

    rgb = np.random.default_rng(8).random((3, 8, 8, 3))
    stim = StimulusSet.from_images(list(rgb))
    assert stim.is_rgb
    seen_rgb = extract(Eye(3), stim, ["eye"], progress=False)["eye"]
    np.testing.assert_allclose(seen_rgb.values.reshape(3, 3, 8, 8), np.moveaxis(rgb, -1, 1), atol=1e-6)
    seen_gray = extract(Eye(1), stim, ["eye"], progress=False)["eye"]
    np.testing.assert_allclose(seen_gray.values.reshape(3, 8, 8), rgb2gray(rgb), atol=1e-6)


def test_torchvision_models_get_rgb_with_imagenet_normalization():
    from neuromodels.baselines import TorchvisionModel

    model = TorchvisionModel(torch.nn.Sequential(torch.nn.Identity()), ["0"], visual_degrees=4.0)
    rgb = np.random.default_rng(12).random((2, 8, 8, 3))
    seen = extract(model, StimulusSet.from_images(list(rgb)), ["backbone.0"], progress=False)["backbone.0"]
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])  # torchvision's
    np.testing.assert_allclose(seen.values.reshape(2, 3, 8, 8),
                               np.moveaxis((rgb - mean) / std, -1, 1), atol=1e-5)


def _files(tmp_path, rng, n, size=16):
    paths = []
    for i in range(n):
        img = (rng.random((size, size, 3)) * 255).astype(np.uint8)
        if i % 2:  # a set on disk may mix gray and RGB files
            img = img[..., 0]
        Image.fromarray(img).save(tmp_path / f"s{i}.png")
        paths.append(str(tmp_path / f"s{i}.png"))
    import pandas as pd

    return StimulusSet(pd.DataFrame({"stimulus_id": [f"s{i}" for i in range(n)], "path": paths,
                                     "label": np.arange(n) % 3}), visual_degrees=4.0)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_images_streamed_from_files_equal_the_in_memory_path(tmp_path, num_workers):
    on_disk = _files(tmp_path, np.random.default_rng(9), n=7)
    in_memory = StimulusSet(on_disk.table.drop(columns="path"), on_disk.load_images(), 4.0)
    net = TinyNet(in_channels=3)
    a = extract(net, on_disk, ["features.0", "head"], batch_size=3, num_workers=num_workers,
                progress=False)
    b = extract(net, in_memory, ["features.0", "head"], batch_size=7, progress=False)
    for layer in a:
        np.testing.assert_allclose(a[layer].values, b[layer].values, atol=1e-6)
        assert list(a[layer]["label"].values) == list(np.arange(7) % 3)


def test_features_written_to_disk_batch_by_batch_equal_those_in_memory(tmp_path):
    from analysis.assemblies import load

    rng = np.random.default_rng(10)
    stim = _stimuli(rng, n=7)
    net = TinyNet()
    mem = extract(net, stim, ["features.0", "head"], batch_size=3, max_features=50, progress=False)
    paths = extract(net, stim, ["features.0", "head"], batch_size=3, max_features=50,
                    out_dir=tmp_path / "acts", progress=False)
    assert sorted(p.name for p in (tmp_path / "acts").iterdir()) == ["features.0.nc", "head.nc"]
    for layer, path in paths.items():
        disk = load(path)
        np.testing.assert_allclose(disk.values, mem[layer].values, atol=1e-7)
        for coord in ("stimulus_id", "texture_type", "neuroid_id", "channel", "channel_x", "layer"):
            assert list(disk[coord].values) == list(mem[layer][coord].values)
        assert disk.attrs == mem[layer].attrs


def test_a_failed_extraction_leaves_no_file(tmp_path):
    class Breaks(TinyNet):
        calls = 0

        def forward(self, x):
            Breaks.calls += 1
            if Breaks.calls > 1:
                raise KeyError("stop")
            return super().forward(x)

    with pytest.raises(KeyError):
        extract(Breaks(), _stimuli(np.random.default_rng(11), n=6), ["head"], batch_size=2,
                out_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_errors_name_the_problem():
    rng = np.random.default_rng(6)
    stim = _stimuli(rng, n=2)
    net = TinyNet()
    with pytest.raises(ValueError, match=r"unknown layer name\(s\) \['conv9'\].*features\.0"):
        extract(net, stim, ["conv9"], progress=False)
    assert "features.1" in layer_names(net)
    wrong = _stimuli(rng, n=2, size=20)  # the linear head expects 16x16 inputs
    with pytest.raises(ValueError, match=r"input of shape \(2, 1, 20, 20\)"):
        extract(net, wrong, ["head"], progress=False)
    two = TinyNet()
    two.in_channels = 2
    with pytest.raises(ValueError, match="2-channel input"):
        extract(two, stim, ["head"], progress=False)
    with pytest.raises(ValueError, match="reduction"):
        extract(net, stim, ["head"], max_features=2, reduction="pca", progress=False)
    with pytest.raises(TypeError, match="StimulusSet"):
        extract(net, stim.images, ["head"], progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_the_model_device():
    rng = np.random.default_rng(7)
    stim = _stimuli(rng, n=3)
    net = TinyNet()
    cpu = extract(net, stim, ["head"], progress=False)["head"].values
    gpu = extract(net.cuda(), stim, ["head"], progress=False)["head"].values
    np.testing.assert_allclose(gpu, cpu, atol=1e-5)
