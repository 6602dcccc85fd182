"""Simulated V1/V2 recordings with a known ground truth.

A :class:`SimulatedPopulation` is an image-computable model of a recorded
population, built so that analyses can be checked against what was planted:

* **V1-like units** — one oriented linear filter each (a Gabor with random
  orientation, spatial frequency, receptive-field position, phase and envelope),
  followed by *half-squaring* (simple cells, ``relu(L)²``) or *energy* (complex
  cells, ``L₀² + L₁²`` of a quadrature pair), receptive fields spread uniformly over
  the (periodic) image plane. Averaged over positions, a complex cell's energy
  depends only on the image's amplitude spectrum (Parseval; for simple cells
  approximately so), so V1-like units respond about equally to a
  naturalistic texture and to its spectrally matched noise: modulation index ≈ 0,
  as Freeman et al. (2013) found for V1.
* **V2-like units** — a second linear–nonlinear stage over V1-like energy maps
  (4 orientations × 3 octave-spaced scales, divided by the image's mean energy:
  gain control), pooled by a Gaussian receptive field about twice V1's size:
  (i) a *first-order* term, the rectified mixed-sign weighted sum of pooled
  energies (preferred orientation excitatory, orthogonal suppressive), and
  (ii) a *second-order* term, the pooled co-activation Σ_ab W_ab ⟨E_a E_b⟩ of
  channels across neighbouring scales and orientations (plus small mixed-sign
  weights on all other pairs), divided by what the pooled energies alone predict,
  Σ_ab |W_ab| ⟨E_a⟩⟨E_b⟩. Naturalistic textures have sparse energy that co-occurs
  across scales and orientations (edges, contours, contrast fluctuations);
  phase-randomised noise with the same spectrum does not, so the second-order
  term — and the V2-like units — respond more to textures than to matched noise
  (positive modulation index, Freeman et al. 2013).

Rates are in spikes/s: each unit's noise-free rate is ``baseline + gain · drive``
with the gain set on a fixed calibration set of 1/f (pink) noise images so that
the mean evoked rate equals a log-normally drawn target (median 20 spikes/s).
Trial responses are spike counts in a counting window (default 0.15 s, the
50–200 ms window of FreemanZiemba2013) with Poisson-like variability:
``count = F · Poisson(rate · T / F)`` has mean ``rate · T`` and variance
``F · rate · T`` (Fano factor ``F = noise``), reported as ``count / T``.

Only numpy and scipy are needed (importable in the Brain-Score environment). The
units themselves (filters, energy bank, drives) are built in
:mod:`analysis._ground_truth_units`; this module calibrates them to rates, adds trial
noise and returns recordings as assemblies.

Examples
--------
>>> from analysis.texture_stimuli import texture_stimulus_set
>>> from analysis.simulate import simulate_recordings
>>> stimuli = texture_stimulus_set(samples_per_family=2, size=32)
>>> rec = simulate_recordings(stimuli, n_units={"V1": 4, "V2": 4}, n_repetitions=3,
...                           image_size=32)
>>> rec.sizes["presentation"], rec.sizes["neuroid"], rec.attrs["simulated"]
(48, 8, 1)
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from analysis._ground_truth_units import energy_bank, pink_noise, unit_drives, v1_units, v2_units
from analysis.assemblies import make_assembly
from analysis.images import resize_square
from analysis.stimuli import StimulusSet

__all__ = ["SimulatedPopulation", "simulate_recordings", "REGIONS"]

#: Regions a population can hold.
REGIONS = ("V1", "V2")

_N_CALIBRATION = 24


class SimulatedPopulation:
    """A simulated V1/V2 population: image-computable ground-truth rates plus trial noise.

    Parameters
    ----------
    n_units : mapping {"V1": int, "V2": int}
        Number of units per region (either may be 0 or absent).
    image_size : int
        Images are centre-cropped and resampled to ``image_size`` × ``image_size``
        pixels before filtering.
    visual_degrees : float
        Field of view of the population's input (degrees of visual angle); the
        image plane spans ``[-visual_degrees/2, visual_degrees/2]``.
    seed : int
        Seeds every unit parameter (the same seed gives the same population).
    complex_fraction : float
        Fraction of V1-like units that are complex (energy) rather than simple.
    v1_sf_range : (float, float)
        Range of V1 preferred spatial frequencies (cycles/degree; log-uniform;
        De Valois et al. 1982: 0.5–8 c/deg). The upper end is capped at a quarter of
        the sampling rate.
    median_rate : float
        Median over units of the mean evoked rate on the calibration set (spikes/s).
    baseline_rate : float
        Median spontaneous rate (spikes/s); each unit draws its own, log-normally.
    counting_window : float
        Counting window T in seconds (FreemanZiemba2013: 50–200 ms → 0.15 s).

    Attributes
    ----------
    units : pandas.DataFrame
        One row per unit: ``neuroid_id``, ``region``, ``unit_type``
        (simple/complex/v2), ``orientation`` (deg), ``sf`` (c/deg), ``rf_x``, ``rf_y``,
        ``rf_sigma`` (deg), ``second_order_weight`` (V2), ``baseline`` and ``gain``.

    Examples
    --------
    >>> import numpy as np
    >>> pop = SimulatedPopulation({"V1": 3, "V2": 2}, image_size=32, seed=0)
    >>> pop.rates(np.full((5, 1, 32, 32), 0.5)).shape
    (5, 5)
    """

    def __init__(
        self,
        n_units: Mapping[str, int] | None = None,
        image_size: int = 64,
        visual_degrees: float = 4.0,
        seed: int = 0,
        complex_fraction: float = 0.5,
        v1_sf_range: tuple[float, float] = (1.0, 4.0),
        median_rate: float = 20.0,
        baseline_rate: float = 3.0,
        counting_window: float = 0.15,
    ) -> None:
        import pandas as pd

        n_units = {"V1": 40, "V2": 40} if n_units is None else dict(n_units)
        unknown = set(n_units) - set(REGIONS)
        if unknown:
            raise ValueError(f"n_units keys must be among {REGIONS}; got {sorted(unknown)}")
        for region, n in n_units.items():
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
                raise ValueError(f"n_units[{region!r}] must be a non-negative integer; got {n!r}")
        if sum(n_units.values()) == 0:
            raise ValueError(f"the population needs at least one unit; got n_units={n_units}")
        if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) \
                or image_size < 16:
            raise ValueError(f"image_size must be an integer >= 16 pixels; got {image_size!r}")
        for name, value in (("visual_degrees", visual_degrees), ("median_rate", median_rate),
                            ("counting_window", counting_window)):
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number; got {value!r}")
        if not 0 <= complex_fraction <= 1:
            raise ValueError(f"complex_fraction must lie in [0, 1]; got {complex_fraction}")
        if not (baseline_rate >= 0):
            raise ValueError(f"baseline_rate must be >= 0 spikes/s; got {baseline_rate}")
        lo, hi = map(float, v1_sf_range)
        if not 0 < lo <= hi:
            raise ValueError(f"v1_sf_range must be (low, high) c/deg with 0 < low <= high; got {v1_sf_range}")

        self.n_units = {r: int(n_units.get(r, 0)) for r in REGIONS}
        self.image_size = int(image_size)
        self.visual_degrees = float(visual_degrees)
        self.seed = int(seed)
        self.complex_fraction = float(complex_fraction)
        self.median_rate = float(median_rate)
        self.baseline_rate = float(baseline_rate)
        self.counting_window = float(counting_window)
        px_per_deg = self.image_size / self.visual_degrees
        self._sf_cap = px_per_deg / 4  # a quarter of the sampling rate (4 px per cycle)
        self.v1_sf_range = (min(lo, self._sf_cap), min(hi, self._sf_cap))

        rng = np.random.default_rng(self.seed)
        n = self.image_size
        half = self.visual_degrees / 2
        coords = (np.arange(n) + 0.5) / px_per_deg - half
        self._xx, self._yy = np.meshgrid(coords, coords, indexing="xy")
        self._v1, v1_rows = v1_units(rng, self.n_units["V1"], self._xx, self._yy, self.visual_degrees,
                                     self.v1_sf_range, self.complex_fraction)
        self._bank = energy_bank(self.image_size, self.visual_degrees, self._sf_cap)
        self._v2, v2_rows = v2_units(rng, self.n_units["V2"], self._xx, self._yy, self.visual_degrees,
                                     self._bank)
        self.units = pd.DataFrame(v1_rows + v2_rows)
        self._calibrate(rng)

    # ---------------------------------------------------------------- calibration and rates
    def _calibrate(self, rng) -> None:
        """Set baselines and gains from the drives to a fixed set of pink-noise images."""
        calib = pink_noise(rng, _N_CALIBRATION, self.image_size)
        d = self._drives(calib)
        self._norms = np.maximum(d.mean(axis=0), 1e-12)
        n = d.shape[1]
        target = self.median_rate * np.exp(0.5 * rng.standard_normal(n))
        self._gain = target  # mean evoked rate on the calibration set = target
        self._baseline = self.baseline_rate * np.exp(0.5 * rng.standard_normal(n))
        self.units["baseline"] = self._baseline
        self.units["gain"] = self._gain

    def _drives(self, images: np.ndarray, batch_size: int = 16, progress: bool = False) -> np.ndarray:
        """Uncalibrated drives (n_images, n_units, 2) for images (n, H, W): see
        :func:`analysis._ground_truth_units.unit_drives`."""
        return unit_drives(images, self._v1, self._v2, self._bank, batch_size, progress)

    def _prepare(self, images, visual_degrees: float | None) -> np.ndarray:
        if isinstance(images, StimulusSet):
            visual_degrees = images.visual_degrees if visual_degrees is None else visual_degrees
            images = images.load_images(color="gray")
        if type(images).__module__.startswith("torch"):
            images = images.detach().cpu().numpy()
        arr = np.asarray(images, dtype=np.float64)
        if arr.ndim == 4:
            if arr.shape[1] != 1:
                raise ValueError(f"images must be grayscale (n, 1, H, W); got shape {arr.shape}")
            arr = arr[:, 0]
        if arr.ndim != 3:
            raise ValueError(f"images must have shape (n, 1, H, W) or (n, H, W); got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("images hold NaN or inf values")
        n = self.image_size
        if visual_degrees is None or np.isclose(visual_degrees, self.visual_degrees):
            side = n
        else:
            side = int(round(n * visual_degrees / self.visual_degrees))
            if side < 4:
                raise ValueError(
                    f"images of {visual_degrees} deg would cover {side} px of the population's "
                    f"{self.visual_degrees} deg field; too small"
                )
        out = np.empty((len(arr), n, n))
        for i, img in enumerate(arr):
            img = img if img.shape == (side, side) else resize_square(img, side)
            if side == n:
                out[i] = img
            elif side < n:  # paste at the centre of a mean-gray canvas (Brain-Score placement)
                out[i] = 0.5
                o = (n - side) // 2
                out[i, o : o + side, o : o + side] = img
            else:  # larger than the field of view: the central part falls on the population
                o = (side - n) // 2
                out[i] = img[o : o + n, o : o + n]
        return out

    def rates(self, images, visual_degrees: float | None = None, progress: bool = False) -> np.ndarray:
        """Noise-free (ground-truth) rates in spikes/s.

        Parameters
        ----------
        images : StimulusSet or array (n, 1, H, W) / (n, H, W), values in [0, 1]
            Any size: each image is centre-cropped and resampled to ``image_size``.
        visual_degrees : float, optional
            Width of the images in degrees (default: the stimulus set's, or the
            population's field of view for arrays). Smaller images are pasted at the
            centre of a gray canvas; larger ones are centre-cropped.
        progress : bool
            Show a progress bar over batches of 16 images.

        Returns
        -------
        numpy.ndarray, (n_images, n_units), spikes/s, in ``units`` order.
        """
        x = self._prepare(images, visual_degrees)
        d = self._drives(x, progress=progress) / self._norms
        n1 = self.n_units["V1"]
        drive = d[..., 0].copy()
        if self.n_units["V2"]:
            beta = self._v2["beta"]
            drive[:, n1:] = (1 - beta) * d[:, n1:, 0] + beta * d[:, n1:, 1]
        return self._baseline + self._gain * drive

    def record(self, stimulus_set: StimulusSet, n_repetitions: int = 20, noise: float = 1.0,
               seed: int = 0, progress: bool = False):
        """Simulate a recording session: every stimulus shown ``n_repetitions`` times.

        Parameters
        ----------
        stimulus_set : StimulusSet
        n_repetitions : int
        noise : float
            Fano factor F of the spike counts (1: Poisson; 0: no trial noise).
        seed : int
            Seeds the trial noise (independent of the population's seed).
        progress : bool
            Show a progress bar while computing the rates.

        Returns
        -------
        xarray.DataArray
            (presentation, neuroid) in spikes/s, one presentation per (stimulus,
            repetition) in stimulus-major order; presentation coords ``stimulus_id``,
            ``repetition`` and every stimulus-table column; neuroid coords
            ``neuroid_id``, ``region`` and the ground-truth unit parameters; attrs
            ``simulated=1``, ``source``, the generating parameters.
        """
        if not isinstance(stimulus_set, StimulusSet):
            raise TypeError(f"record takes a StimulusSet; got {type(stimulus_set).__name__}")
        if isinstance(n_repetitions, bool) or not isinstance(n_repetitions, (int, np.integer)) \
                or n_repetitions < 1:
            raise ValueError(f"n_repetitions must be a positive integer; got {n_repetitions!r}")
        if not (np.isfinite(noise) and noise >= 0):
            raise ValueError(f"noise (Fano factor) must be a number >= 0; got {noise!r}")
        rates = self.rates(stimulus_set, progress=progress)
        n_stim, n_units = rates.shape
        mean = np.repeat(rates, n_repetitions, axis=0)
        rng = np.random.default_rng(seed)
        if noise > 0:
            t = self.counting_window
            counts = noise * rng.poisson(mean * t / noise)
            values = counts / t
        else:
            values = mean.copy()
        table = stimulus_set.table
        pres = {c: np.repeat(table[c].to_numpy(), n_repetitions) for c in table.columns
                if c != "stimulus_id"}
        pres["repetition"] = np.tile(np.arange(n_repetitions), n_stim)
        units = self.units
        neuroid = {c: units[c].to_numpy() for c in units.columns if c != "neuroid_id"}
        attrs = {
            "simulated": 1,
            "source": f"simulated:SimulatedPopulation(V1={self.n_units['V1']},"
                      f"V2={self.n_units['V2']},seed={self.seed})",
            "units": "spikes/s",
            "stimulus_set": stimulus_set.name,
            "n_repetitions": int(n_repetitions),
            "noise_fano_factor": float(noise),
            "noise_seed": int(seed),
            "counting_window_s": self.counting_window,
            **self.parameters(),
        }
        return make_assembly(
            values, stimulus_id=np.repeat(stimulus_set.stimulus_ids, n_repetitions),
            neuroid_id=units["neuroid_id"].to_numpy(), presentation_coords=pres,
            neuroid_coords=neuroid, attrs=attrs,
        )

    def parameters(self) -> dict:
        """The generating parameters (stored in the attrs of every recording)."""
        return {
            "population_seed": self.seed,
            "n_units_V1": self.n_units["V1"],
            "n_units_V2": self.n_units["V2"],
            "image_size": self.image_size,
            "visual_degrees": self.visual_degrees,
            "complex_fraction": self.complex_fraction,
            "v1_sf_range": list(self.v1_sf_range),
            "median_rate": self.median_rate,
            "baseline_rate": self.baseline_rate,
        }

    def __repr__(self) -> str:
        return (f"SimulatedPopulation(n_units={self.n_units}, image_size={self.image_size}, "
                f"visual_degrees={self.visual_degrees}, seed={self.seed})")


def simulate_recordings(
    stimulus_set: StimulusSet,
    n_units: Mapping[str, int] | None = None,
    n_repetitions: int = 20,
    noise: float = 1.0,
    seed: int = 0,
    image_size: int = 64,
    progress: bool = False,
    **population_kwargs,
):
    """Build a :class:`SimulatedPopulation` and record it on ``stimulus_set``.

    ``seed`` seeds the population; the trial noise uses ``seed + 1``. ``noise`` is the
    Fano factor of the spike counts (1: Poisson). Other keyword arguments go to
    :class:`SimulatedPopulation`. Returns the recording assembly (see
    :meth:`SimulatedPopulation.record`), labelled ``simulated=1``.

    Examples
    --------
    >>> from analysis.texture_stimuli import texture_stimulus_set
    >>> s = texture_stimulus_set(samples_per_family=1, size=32, progress=False)
    >>> simulate_recordings(s, {"V1": 2, "V2": 2}, n_repetitions=2, image_size=32).shape
    (16, 4)
    """
    pop = SimulatedPopulation(n_units, image_size=image_size, seed=seed, **population_kwargs)
    return pop.record(stimulus_set, n_repetitions=n_repetitions, noise=noise, seed=seed + 1,
                      progress=progress)
