"""Tests of the Parthasarathy & Simoncelli (2020) texture model."""
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
