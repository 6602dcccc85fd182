"""Supervised training of classifiers: it learns, it resumes exactly, it refuses bad input."""
import pytest
import torch
import torch.nn as nn

from neuromodels.training.supervised import train_classifier


def _data(n=64, seed=0):
    """Two classes of 8x8 images: vertical vs horizontal gratings of random phase."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    phase = torch.rand(n, generator=g) * 6.28
    coords = torch.arange(8.0)
    vert = torch.sin(coords[None, None, :] + phase[:, None, None]).expand(n, 8, 8)
    horiz = torch.sin(coords[None, :, None] + phase[:, None, None]).expand(n, 8, 8)
    x = torch.where(y[:, None, None] == 0, vert, horiz)
    return (0.5 + 0.4 * x)[:, None], y


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))


def test_loss_goes_down_and_training_set_is_learned(tmp_path):
    x, y = _data()
    res = train_classifier(_model(), x, y, steps=150, batch_size=16, lr=0.5, out_dir=tmp_path, flip=False,
                           progress=False)
    losses = [r["loss"] for r in res.history]
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10
    acc = (res.model(x).argmax(1) == y).float().mean()
    assert acc > 0.9
    assert res.flops_per_step > 0 and res.flops_total == res.flops_per_step * 150
    assert res.checkpoint.exists()


class _Interrupt(RuntimeError):
    pass


def test_interrupted_run_resumes_to_the_same_weights(tmp_path):
    x, y = _data()
    full = train_classifier(_model(), x, y, steps=10, batch_size=8, lr=0.1, out_dir=tmp_path / "a",
                            checkpoint_every=4, progress=False)
    model = _model()
    calls = {"n": 0}

    def stop_at_step_7(module, inputs):
        calls["n"] += 1
        if calls["n"] == 7 + 1:  # +1: the FLOP-counting first step runs forward once too
            raise _Interrupt

    handle = model.register_forward_pre_hook(stop_at_step_7)
    with pytest.raises(_Interrupt):
        train_classifier(model, x, y, steps=10, batch_size=8, lr=0.1, out_dir=tmp_path / "b",
                         checkpoint_every=4, progress=False)
    handle.remove()
    resumed = train_classifier(_model(seed=123), x, y, steps=10, batch_size=8, lr=0.1, out_dir=tmp_path / "b",
                               checkpoint_every=4, progress=False)
    assert resumed.history[0]["step"] == 5  # continued after the step-4 checkpoint
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_bad_input_is_refused(tmp_path):
    x, y = _data(8)
    with pytest.raises(ValueError, match="one label each"):
        train_classifier(_model(), x, y[:4], steps=1, out_dir=tmp_path)
    with pytest.raises(ValueError, match="lr > 0"):
        train_classifier(_model(), x, y, steps=1, lr=-1.0, out_dir=tmp_path)
    frozen = _model()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        train_classifier(frozen, x, y, steps=1, out_dir=tmp_path)
