"""Training images and patch samplers: bundled images, image folders, seeded patch batches.

Images are grayscale float tensors (1, H, W) in [0, 1] (RGB converted to luminance
with the BT.709 weights of ``skimage.color.rgb2gray``), optionally resized so that
the short side has ``size`` pixels (antialiased bilinear).

Sources
-------
- :func:`bundled_images`: images shipped inside installed wheels, nothing is
  downloaded — natural images from ``skimage.data`` (camera, astronaut, coffee,
  chelsea, moon, rocket) and ``plenoptic.data`` (einstein, curie, parrot), and the
  textures brick, grass, gravel (skimage) and reptile_skin (plenoptic).
- :class:`ImageFolder`: every image file below a folder (e.g. an ImageNet copy
  located through its data manifest), read lazily.

Sampling
--------
:class:`PatchSampler` draws square patches with a counter-based scheme: the
content of global batch ``t`` is a pure function of ``(seed, t)``. Image order
follows a fresh permutation per epoch (each image once per epoch, like
``DistributedSampler``), crop positions come from a generator seeded by
``(seed, t)``, and with ``world_size`` processes rank ``r`` takes rows
``r·b .. (r+1)·b`` of the global batch (``b`` = batch / world_size). The sampler's
position is therefore just the next step, which checkpoints save and resumes
restore exactly; the same global batch is seen whatever the number of processes.
With ``crops_per_image > 1`` (texture training) each batch entry holds several
independent crops of one image and the images of a batch are distinct.

Examples
--------
>>> images = bundled_images(["camera", "einstein"], size=64)
>>> sampler = PatchSampler(images, patch_size=16, batch_size=4, seed=0)
>>> sampler.batch(0).shape
torch.Size([4, 1, 1, 16, 16])
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from neurocommon.images import IMAGE_SUFFIXES, image_files, rgb_to_luminance

__all__ = [
    "BUNDLED_NATURAL",
    "BUNDLED_TEXTURES",
    "BUNDLED",
    "to_grayscale",
    "load_bundled",
    "bundled_images",
    "ImageFolder",
    "PatchSampler",
    "batch_iterator",
]

BUNDLED_NATURAL = ("camera", "astronaut", "coffee", "chelsea", "moon", "rocket", "einstein", "curie", "parrot")
BUNDLED_TEXTURES = ("brick", "grass", "gravel", "reptile_skin")
BUNDLED = BUNDLED_NATURAL + BUNDLED_TEXTURES
_PLENOPTIC = {"einstein", "curie", "parrot", "reptile_skin"}


def to_grayscale(array, size: int | None = None) -> torch.Tensor:
    """Convert an image (H, W), (H, W, 3|4), (1|3, H, W) or (1, 1, H, W) to a (1, H, W) float tensor in [0, 1].

    Integer images are divided by their dtype's maximum; RGB becomes luminance
    ``0.2125 R + 0.7154 G + 0.0721 B`` (:func:`neurocommon.images.rgb_to_luminance`). With ``size``, the short side is resized to
    ``size`` pixels (antialiased bilinear).
    """
    x = torch.from_numpy(np.array(array)) if not isinstance(array, torch.Tensor) else array
    if not torch.is_floating_point(x):
        x = x.to(torch.float32) / float(torch.iinfo(x.dtype).max)
    x = x.to(torch.float32)
    while x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 3 and x.shape[-1] in (3, 4) and x.shape[0] not in (1, 3):
        x = x[..., :3].permute(2, 0, 1)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[0] not in (1, 3):
        raise ValueError(f"expected a grayscale or RGB image; got an array of shape {tuple(np.shape(array))}")
    if x.shape[0] == 3:
        x = rgb_to_luminance(x)
    if size is not None:
        h, w = x.shape[-2:]
        scale = size / min(h, w)
        new = (max(size, round(h * scale)), max(size, round(w * scale)))
        x = F.interpolate(x[None], size=new, mode="bilinear", antialias=True, align_corners=False)[0]
    return x.clamp_(0, 1).contiguous()


def load_bundled(name: str, size: int | None = None) -> torch.Tensor:
    """One bundled image as a (1, H, W) float tensor in [0, 1] (see :data:`BUNDLED`).

    Raises
    ------
    ValueError
        If ``name`` is not a bundled image; the message lists them.
    """
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled image {name!r}; bundled images are: {', '.join(BUNDLED)}")
    if name in _PLENOPTIC:
        import plenoptic.data

        array = getattr(plenoptic.data, name)()
    else:
        import skimage.data

        array = getattr(skimage.data, name)()
    return to_grayscale(array, size)


def bundled_images(names: Sequence[str] | None = None, size: int | None = 256) -> list[torch.Tensor]:
    """Bundled images (default: all of :data:`BUNDLED`), each (1, H, W) in [0, 1]."""
    return [load_bundled(n, size) for n in (names or BUNDLED)]


class ImageFolder:
    """Every image file below ``root`` (sorted paths), loaded lazily as (1, H, W) in [0, 1].

    Files are checked when the folder is indexed: each must open as an image
    (``PIL.Image.open`` reads its header), so a folder with a non-image or damaged
    file is refused at once, naming the files, instead of hours into training. A file
    whose header is fine but whose pixel data is damaged (a truncated JPEG) is found
    only when it is decoded: it is then skipped with a warning naming it, counted in
    :attr:`skipped`, and the next readable image of the folder is used in its place
    (deterministically, so a resumed run sees the same batches).

    Parameters
    ----------
    root
        Folder searched recursively for image files
        (:data:`neurocommon.images.IMAGE_SUFFIXES`, any letter case).
    size
        Resize the short side to this many pixels (``None``: keep).
    check
        Open every file's header when indexing (default); ``False`` skips it for very
        large folders (damaged files are then skipped at first read).

    Attributes
    ----------
    skipped
        Paths found unreadable at first read (skipped), in the order found.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or holds no image.
    NotADirectoryError
        If ``root`` is a file.
    ValueError
        If files with an image suffix do not open as images (the message lists them).
    """

    def __init__(self, root: str | Path, size: int | None = None, check: bool = True):
        self.root = Path(root)
        if self.root.is_file():
            raise NotADirectoryError(f"image folder {str(self.root)!r} is a file; give the folder that holds the images")
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {str(self.root)!r} does not exist")
        self.paths = image_files(self.root, recursive=True)
        if not self.paths:
            raise FileNotFoundError(
                f"no images ({', '.join(IMAGE_SUFFIXES)}) found below {str(self.root)!r}"
            )
        self.size = size
        self.skipped: list[Path] = []
        if check:
            bad = [(p, why) for p in self.paths if (why := _unreadable_header(p))]
            if bad:
                listing = "; ".join(f"{p} ({why})" for p, why in bad[:10])
                more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
                raise ValueError(
                    f"{len(bad)} of {len(self.paths)} files below {str(self.root)!r} are not readable images: "
                    f"{listing}{more}. Remove or replace them."
                )

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, path: Path) -> torch.Tensor:
        from PIL import Image

        with Image.open(path) as im:
            array = np.asarray(im.convert("RGB") if im.mode not in ("L", "RGB") else im)
        return to_grayscale(array, self.size)

    def __getitem__(self, i: int) -> torch.Tensor:
        import logging

        n = len(self.paths)
        for k in range(n):
            path = self.paths[(i + k) % n]
            try:
                return self._read(path)
            except (OSError, SyntaxError, ValueError) as err:  # PIL: truncated or damaged pixel data
                if path not in self.skipped:
                    self.skipped.append(path)
                    logging.getLogger("neuromodels.data").warning(
                        "skipping unreadable image %s (%s: %s); %d skipped so far; using the next image instead",
                        path, type(err).__name__, err, len(self.skipped))
        raise ValueError(f"no image below {str(self.root)!r} can be read (tried all {n})")


def _unreadable_header(path: Path) -> str | None:
    """Why ``path`` does not open as an image (``None``: it opens)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.size  # noqa: B018 - the header is parsed on open
    except UnidentifiedImageError:
        return "not an image file"
    except (OSError, SyntaxError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    return None


def _crop(image: torch.Tensor, u: np.ndarray, p: int, where: str = "") -> torch.Tensor:
    """Crops of side ``p`` at relative positions ``u`` (V, 2) in [0, 1): (V, C, p, p)."""
    h, w = image.shape[-2:]
    if h < p or w < p:
        raise ValueError(f"image {where}of size {h}x{w} is smaller than the patch size {p}")
    tops = np.minimum((u[:, 0] * (h - p + 1)).astype(np.int64), h - p)
    lefts = np.minimum((u[:, 1] * (w - p + 1)).astype(np.int64), w - p)
    return torch.stack([image[:, t : t + p, l : l + p] for t, l in zip(tops, lefts)])


class PatchSampler:
    """Seeded, resumable, shardable sampler of patch batches.

    Parameters
    ----------
    images
        Sequence of (C, H, W) tensors (a list, or an :class:`ImageFolder`).
    patch_size
        Side of the square patches (pixels).
    batch_size
        Global batch (images per step over all processes); divisible by ``world_size``.
    crops_per_image
        Independent crops of the same image per batch entry (V).
    seed
        Seed of image order and crop positions.
    rank, world_size
        This process's shard of every global batch.
    distinct_images
        Never repeat an image within a batch (default: when ``crops_per_image > 1``);
        needs ``batch_size <= len(images)``; ``len(images) mod batch_size`` images per
        epoch are then left out (a different random set every epoch).

    Attributes
    ----------
    position
        Next step to be drawn by iteration; saved by :meth:`state_dict`.
    """

    def __init__(
        self,
        images: Sequence[torch.Tensor],
        patch_size: int,
        batch_size: int,
        crops_per_image: int = 1,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        distinct_images: bool | None = None,
    ):
        if len(images) == 0:
            raise ValueError("PatchSampler needs at least one image")
        if batch_size % world_size:
            raise ValueError(
                f"the global batch {batch_size} is not divisible by the {world_size} processes; "
                f"choose data.batch_size as a multiple of {world_size}"
            )
        self.images = images
        self.n = len(images)
        self.patch_size = int(patch_size)
        self.batch_size = int(batch_size)
        self.local_batch = batch_size // world_size
        self.crops_per_image = int(crops_per_image)
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.distinct = crops_per_image > 1 if distinct_images is None else bool(distinct_images)
        if self.distinct and batch_size > self.n:
            raise ValueError(
                f"a batch of {batch_size} distinct images needs at least that many images; the source has "
                f"{self.n}. Lower data.batch_size or add images."
            )
        self.position = 0
        self._perm_cache: dict[int, np.ndarray] = {}
        if isinstance(images, (list, tuple)):
            for i, im in enumerate(images):
                if im.shape[-1] < patch_size or im.shape[-2] < patch_size:
                    raise ValueError(
                        f"image {i} of size {tuple(im.shape[-2:])} is smaller than the patch size {patch_size}"
                    )

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perm_cache:
            if len(self._perm_cache) > 8:
                self._perm_cache.clear()
            self._perm_cache[epoch] = np.random.default_rng([self.seed, 1, epoch]).permutation(self.n)
        return self._perm_cache[epoch]

    def global_spec(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Image indices (B,) and relative crop positions (B, V, 2) of global batch ``step``."""
        b = self.batch_size
        if self.distinct:
            per_epoch = self.n // b
            epoch, k = divmod(step, per_epoch)
            idx = self._perm(epoch)[k * b : (k + 1) * b]
        else:
            pos = step * b + np.arange(b)
            epochs, within = np.divmod(pos, self.n)
            idx = np.array([self._perm(int(e))[int(i)] for e, i in zip(epochs, within)], dtype=np.int64)
        u = np.random.default_rng([self.seed, 2, step]).random((b, self.crops_per_image, 2))
        return idx, u

    def local_spec(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """This process's rows of :meth:`global_spec`."""
        idx, u = self.global_spec(step)
        sl = slice(self.rank * self.local_batch, (self.rank + 1) * self.local_batch)
        return idx[sl], u[sl]

    def crops(self, idx: np.ndarray, u: np.ndarray) -> torch.Tensor:
        """Patches for a spec: (len(idx), V, C, p, p)."""
        return torch.stack([_crop(self.images[int(i)], uu, self.patch_size, f"{int(i)} ") for i, uu in zip(idx, u)])

    def batch(self, step: int) -> torch.Tensor:
        """This process's patches of global batch ``step``: (local batch, V, C, p, p)."""
        return self.crops(*self.local_spec(step))

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            out = self.batch(self.position)
            self.position += 1
            yield out

    def state_dict(self) -> dict:
        """Position and identity of the stream (restored by :meth:`load_state_dict`)."""
        return {"position": self.position, "seed": self.seed, "batch_size": self.batch_size, "n_images": self.n}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position.

        Raises
        ------
        ValueError
            If the saved stream had another seed, global batch or number of images.
        """
        for key in ("seed", "batch_size", "n_images"):
            mine = {"seed": self.seed, "batch_size": self.batch_size, "n_images": self.n}[key]
            if state.get(key, mine) != mine:
                raise ValueError(
                    f"the saved data position belongs to a stream with {key}={state[key]}, this one has {mine}; "
                    "resume with the same data configuration"
                )
        self.position = int(state["position"])


class _SpecDataset(torch.utils.data.Dataset):
    def __init__(self, sampler: PatchSampler):
        self.sampler = sampler

    def __len__(self):  # pragma: no cover - indexed by spec, not by position
        return 2**62

    def __getitem__(self, spec):
        i, u = spec
        return _crop(self.sampler.images[int(i)], u, self.sampler.patch_size, f"{int(i)} ")


class _StepSpecs(torch.utils.data.Sampler):
    def __init__(self, sampler: PatchSampler, start: int):
        self.sampler, self.start = sampler, start

    def __iter__(self):
        step = self.start
        while True:
            idx, u = self.sampler.local_spec(step)
            yield list(zip(idx.tolist(), u))
            step += 1


def batch_iterator(sampler: PatchSampler, start: int, num_workers: int = 0, pin_memory: bool = False):
    """Batches ``start, start+1, ...`` of ``sampler`` (this process's shard), in order.

    With ``num_workers > 0`` the crops are read by DataLoader workers (for image
    folders on disk); the batches are identical to ``sampler.batch(step)``.
    """
    sampler.position = start
    if num_workers == 0:
        for batch in sampler:
            yield batch.pin_memory() if pin_memory else batch
        return
    loader = torch.utils.data.DataLoader(
        _SpecDataset(sampler),
        batch_sampler=_StepSpecs(sampler, start),
        num_workers=num_workers,
        pin_memory=pin_memory,
        persistent_workers=False,
    )
    for batch in loader:
        sampler.position += 1
        yield batch
