"""Displacement fields (two documented scalings) and the warp, against closed forms and statistics."""
import pytest
import torch

from neurocommon.deformations import displacement_field, warp


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("amplitude, cell", [(0.5, 8.0), (2.0, 5.0), (3.0, 16.0)])
def test_expected_mode_mean_squared_magnitude_is_amplitude_squared(amplitude, cell):
    f = displacement_field(512, 40, 56, amplitude, cell, gen(1), torch.float64)
    per_field = f.pow(2).sum(1).mean((1, 2))  # each field's own mean |u|^2 varies ...
    assert float(per_field.std()) > 0.05 * amplitude**2
    # ... its expectation is amplitude^2 (standard error of the mean well under 3%)
    assert float(per_field.mean()) == pytest.approx(amplitude**2, rel=3 * float(per_field.std() / per_field.mean()) / 512**0.5 + 0.01)


@pytest.mark.parametrize("shape", [(32, 32), (17, 45)])
def test_per_image_mode_has_zero_mean_and_exact_component_rms(shape):
    h, w = shape
    f = displacement_field(6, h, w, 1.5, 8.0, gen(2), torch.float64, normalize="per_image")
    torch.testing.assert_close(f.mean((2, 3)), torch.zeros(6, 2, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(f.pow(2).mean((2, 3)).sqrt(), torch.full((6, 2), 1.5, dtype=torch.float64))


@pytest.mark.parametrize("normalize", ["expected", "per_image"])
@pytest.mark.parametrize("cell", [4.0, 8.0])
def test_fields_are_smooth_at_the_cell_scale(normalize, cell):
    n = 64
    f = displacement_field(64, n, n, 1.0, cell, gen(3), torch.float64, normalize=normalize)
    f = f - f.mean((2, 3), keepdim=True)
    window = torch.hann_window(n, periodic=False, dtype=torch.float64)
    power = torch.fft.fft2(f * (window[:, None] * window[None, :])).abs().pow(2).mean((0, 1))
    freq = torch.fft.fftfreq(n, dtype=torch.float64)
    radius = torch.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
    assert float(power[radius > 1 / cell].sum() / power.sum()) < 0.01
    assert float((radius > 1 / cell).double().mean()) > 0.7  # where white noise would put most power


def test_same_generator_same_field_and_dtype_device_follow_the_request():
    a = displacement_field(2, 16, 16, 1.0, 4.0, gen(5), torch.float32)
    b = displacement_field(2, 16, 16, 1.0, 4.0, gen(5), torch.float32)
    assert torch.equal(a, b) and a.dtype == torch.float32 and a.device.type == "cpu"
    assert not torch.equal(a, displacement_field(2, 16, 16, 1.0, 4.0, gen(6)))
    with pytest.raises(ValueError, match="normalize must be one of"):
        displacement_field(1, 8, 8, 1.0, 4.0, normalize="rms")


def test_zero_field_is_the_identity_and_a_shift_moves_a_ramp():
    x = torch.rand(3, 2, 24, 24, generator=gen(7), dtype=torch.float64)
    for mode in ("reflection", "border", "zeros"):
        torch.testing.assert_close(warp(x, torch.zeros(3, 2, 24, 24, dtype=torch.float64), padding_mode=mode), x)
    ramp = torch.arange(32.0, dtype=torch.float64).expand(1, 1, 32, 32).contiguous()
    shift = torch.zeros(1, 2, 32, 32, dtype=torch.float64)
    shift[:, 0] = 2.5
    torch.testing.assert_close(warp(ramp, shift)[..., :29], ramp[..., :29] + 2.5)


def test_padding_modes_beyond_the_right_border():
    ramp = torch.arange(8.0, dtype=torch.float64).expand(1, 1, 4, 8).contiguous()
    shift = torch.zeros(1, 2, 4, 8, dtype=torch.float64)
    shift[:, 0] = 2.0
    row = {m: warp(ramp, shift, padding_mode=m)[0, 0, 0, -2:].tolist() for m in ("border", "reflection", "zeros")}
    assert row["border"] == [7.0, 7.0]  # 8 and 9 clamp to the last pixel
    assert row["reflection"] == [6.0, 5.0]  # mirrored about the last pixel's centre: 8 -> 6, 9 -> 5
    assert row["zeros"] == [0.0, 0.0]
