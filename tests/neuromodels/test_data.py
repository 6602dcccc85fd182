"""Bundled images, image folders and the seeded, shardable, resumable patch sampler."""
import numpy as np
import pytest
import skimage.color
import skimage.data
import torch

from neuromodels import data


def test_grayscale_matches_skimage_rgb2gray():
    rgb = skimage.data.astronaut()
    ours = data.to_grayscale(rgb)
    ref = skimage.color.rgb2gray(rgb)
    assert ours.shape == (1, *ref.shape)
    np.testing.assert_allclose(ours[0].numpy(), ref, atol=1e-6)


def test_bundled_images_are_the_shipped_arrays():
    cam = data.load_bundled("camera", size=None)
    np.testing.assert_array_equal(cam[0].numpy(), skimage.data.camera().astype(np.float32) / 255)
    import plenoptic.data

    ein = data.load_bundled("einstein", size=None)
    torch.testing.assert_close(ein, plenoptic.data.einstein()[0], rtol=0, atol=0)


def test_bundled_resize_and_range():
    images = data.bundled_images(size=64)
    assert len(images) == len(data.BUNDLED) == 13
    for im in images:
        assert im.ndim == 3 and im.shape[0] == 1
        assert min(im.shape[-2:]) == 64
        assert 0 <= float(im.min()) and float(im.max()) <= 1
    # antialiased resizing preserves the mean luminance (to within interpolation error)
    full = data.load_bundled("camera", size=None)
    small = data.load_bundled("camera", size=64)
    assert abs(float(full.mean()) - float(small.mean())) < 0.01


def test_unknown_bundled_image_lists_the_valid_ones():
    with pytest.raises(ValueError, match="bundled images are: camera"):
        data.load_bundled("lena")


def _images(n=5, seed=0, size=(40, 50)):
    g = torch.Generator().manual_seed(seed)
    return [torch.rand(1, *size, generator=g) for _ in range(n)]


def test_patches_are_windows_of_the_source_at_the_drawn_positions():
    images = _images()
    s = data.PatchSampler(images, patch_size=8, batch_size=6, crops_per_image=2, seed=3, distinct_images=False)
    idx, u = s.global_spec(4)
    batch = s.batch(4)
    assert batch.shape == (6, 2, 1, 8, 8)
    for b in range(6):
        im = images[idx[b]]
        for v in range(2):
            top = int(u[b, v, 0] * (40 - 8 + 1))
            left = int(u[b, v, 1] * (50 - 8 + 1))
            torch.testing.assert_close(batch[b, v], im[:, top : top + 8, left : left + 8], rtol=0, atol=0)


def test_each_image_once_per_epoch_and_distinct_batches():
    images = _images(n=6)
    stream = data.PatchSampler(images, patch_size=8, batch_size=3, seed=1)
    first_epoch = np.concatenate([stream.global_spec(t)[0] for t in range(2)])
    assert sorted(first_epoch.tolist()) == list(range(6))
    distinct = data.PatchSampler(images, patch_size=8, batch_size=4, crops_per_image=3, seed=1)
    for t in range(10):
        idx = distinct.global_spec(t)[0]
        assert len(set(idx.tolist())) == 4
    with pytest.raises(ValueError, match="distinct images needs at least"):
        data.PatchSampler(images, patch_size=8, batch_size=7, crops_per_image=2)


def test_seed_determinism():
    images = _images()
    a = data.PatchSampler(images, 8, 4, seed=0).batch(2)
    b = data.PatchSampler(images, 8, 4, seed=0).batch(2)
    c = data.PatchSampler(images, 8, 4, seed=1).batch(2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_shards_of_all_ranks_make_the_single_process_batch():
    images = _images()
    whole = data.PatchSampler(images, 8, batch_size=6, seed=5).batch(3)
    shards = [data.PatchSampler(images, 8, batch_size=6, seed=5, rank=r, world_size=3).batch(3) for r in range(3)]
    assert torch.equal(torch.cat(shards), whole)
    with pytest.raises(ValueError, match="not divisible"):
        data.PatchSampler(images, 8, batch_size=5, world_size=2)


def test_saved_position_resumes_the_stream():
    images = _images()
    s = data.PatchSampler(images, 8, 4, seed=2)
    it = iter(s)
    for _ in range(3):
        next(it)
    state = s.state_dict()
    expected = next(it)
    fresh = data.PatchSampler(images, 8, 4, seed=2)
    fresh.load_state_dict(state)
    assert fresh.position == 3
    assert torch.equal(next(iter(fresh)), expected)
    with pytest.raises(ValueError, match="seed=2"):
        data.PatchSampler(images, 8, 4, seed=9).load_state_dict(state)


def test_patch_larger_than_image_is_refused():
    with pytest.raises(ValueError, match="smaller than the patch size 64"):
        data.PatchSampler(_images(size=(40, 50)), patch_size=64, batch_size=2)


def test_image_folder_and_workers_give_the_same_batches(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    arrays = []
    for i in range(4):
        a = rng.integers(0, 256, size=(30, 36), dtype=np.uint8)
        (tmp_path / "sub").mkdir(exist_ok=True)
        Image.fromarray(a).save(tmp_path / "sub" / f"im{i}.png")
        arrays.append(a)
    folder = data.ImageFolder(tmp_path)
    assert len(folder) == 4
    np.testing.assert_array_equal(folder[2][0].numpy(), arrays[2].astype(np.float32) / 255)
    s = data.PatchSampler(folder, patch_size=16, batch_size=4, seed=0)
    direct = [s.batch(t) for t in range(2, 4)]
    it = data.batch_iterator(data.PatchSampler(folder, 16, 4, seed=0), start=2, num_workers=1)
    via_workers = [next(it) for _ in range(2)]
    for a, b in zip(direct, via_workers):
        assert torch.equal(a, b)
    with pytest.raises(FileNotFoundError, match="no images"):
        data.ImageFolder(_empty(tmp_path))


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d
