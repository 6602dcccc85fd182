"""``python -m neuromodels.brainscore``: export a trained model as a Brain-Score plugin.

Commands
--------
``export MODEL (--checkpoint CKPT | --weights NAME) --identifier ID --out DIR [--zip] [--force]``
    ``[--region-layer-map FILE.json | --recordings FILE.nc [FILE.nc ...] --stimuli DIR_OR_CSV]``
    ``[--weights-file PATH] [--weights-url URL] [--image-size N] [--visual-degrees D]``
    ``[--toolkit-requirement SPEC] [--bibtex FILE]``
``--weights NAME`` exports shipped pretrained weights (``neuromodels.weights``: ``QUICK``,
    ``CPU``, ``DEFAULT`` or ``LCLV2Weights.QUICK``) like a checkpoint: their SHA-256 is
    checked, the input size defaults to ``data.image_size`` of the training config that
    made them, and ``export.json`` records the entry (name, hash, config, command, seed).
``zip DIR [--out FILE.zip]``
    the upload zip of an exported folder;
``test-images``
    write the three images Brain-Score's generic plugin tests read (Brain-Score env).

With ``--recordings`` the layer of each region is chosen by the toolkit's own
predictivity (``analysis.layer_mapping.score_layers``, nested cross-validation, no
selection on held-out stimuli) of the model's activations (``analysis.activations.extract``,
stimuli placed on the model's field of view as Brain-Score does) on the given
recordings. These two imports of ``analysis`` happen inside :func:`select_region_layers`
only: the one place where ``neuromodels`` uses ``analysis`` (the packages otherwise
never import each other), because choosing layers needs both a model and data.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..command_line import add_debug_flag, run_command

# the exporter, the model registry and torch are imported inside the functions that use
# them: `--help` and usage errors answer in a fraction of a second


def _stimulus_table(path: Path):
    """A stimulus table (stimulus_id, metadata, path) from a CSV file or a folder of images."""
    import pandas as pd

    from neurocommon.images import image_files

    from .export import PluginExportError

    if path.is_dir():
        files = image_files(path)  # the toolkit's one image-suffix list
        if not files:
            raise PluginExportError(f"no image files in {path}")
        return pd.DataFrame({"stimulus_id": [p.stem for p in files], "path": [str(p) for p in files]})
    if path.suffix.lower() == ".csv":
        table = pd.read_csv(path)
        if not {"stimulus_id", "path"} <= set(table.columns):
            raise PluginExportError(f"{path} needs columns 'stimulus_id' and 'path'; got {list(table.columns)}")
        table["path"] = [str((path.parent / p) if not Path(p).is_absolute() else Path(p)) for p in table["path"]]
        return table
    raise PluginExportError(f"--stimuli must be a folder of images or a CSV file; got {path}")


def select_region_layers(model, recordings, stimulus_table, stimulus_degrees: float, *,
                         regression: str = "ridge", stratify_on: str | None = None,
                         image_size: int | None = None, max_features: int | None = 10000) -> tuple[dict, list]:
    """Choose the layer of each recorded region by the toolkit's cross-validated predictivity.

    Parameters
    ----------
    model : torch.nn.Module
        The toolkit model (eval mode).
    recordings : list of xarray.DataArray
        Recording assemblies with a ``region`` neuroid coord (repetitions allowed).
    stimulus_table : pandas.DataFrame
        ``stimulus_id`` + ``path`` (+ metadata) of the recorded stimuli.
    stimulus_degrees : float
        Size of the stimulus images in degrees of visual angle.
    regression, stratify_on, max_features
        Passed to ``score_layers`` / ``extract``.
    image_size : int, optional
        Input size of the model (pixels spanning ``model.visual_degrees``).

    Returns
    -------
    (dict, list)
        Region -> best layer, and the per-(region, layer) score rows.
    """
    # the one allowed use of ``analysis`` from ``neuromodels`` (see the module docstring)
    from analysis.activations import extract
    from analysis.layer_mapping import score_layers
    from analysis.stimuli import StimulusSet

    from .export import REGIONS, PluginExportError

    stimuli = StimulusSet(stimulus_table, visual_degrees=float(stimulus_degrees), name="region-layer-selection")
    acts = extract(model, stimuli, list(model.layers), max_features=max_features, image_size=image_size,
                   progress=False)
    mapping, rows = {}, []
    for rec in recordings:
        result = score_layers(acts, rec, regression=regression, stratify_on=stratify_on, progress=False)
        for region, layer in result.best_layers.items():
            if region not in REGIONS:
                raise PluginExportError(f"recordings name region {region!r}; Brain-Score regions are {list(REGIONS)}")
            if region in mapping and mapping[region] != layer:
                raise PluginExportError(f"two recordings of {region} choose different layers; pass one")
            mapping[region] = layer
        rows += result.table.to_dict("records")
    return mapping, rows


def read_region_layer_map(path) -> dict:
    """Read a ``{region: layer}`` JSON file; a clear error names the file and what is wrong."""
    from .export import PluginExportError

    path = Path(path)
    if not path.is_file():
        raise PluginExportError(f"--region-layer-map {path} does not exist; give a JSON file such as "
                                '{"V1": "stage1", "V2": "stage2"}')
    try:
        mapping = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise PluginExportError(f"--region-layer-map {path} is not valid JSON ({err}); expected an object such "
                                'as {"V1": "stage1", "V2": "stage2"}') from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise PluginExportError(f"--region-layer-map {path} must hold one JSON object region -> layer name "
                                f'(e.g. {{"V1": "stage1"}}); got {mapping!r}')
    return mapping


def weights_checkpoint(model: str, weights: str):
    """The verified file of shipped weights ``weights`` of ``model``, their entry and their training input size.

    Parameters
    ----------
    model : str
        Registry name (``lcl_v2``, ``texture_model``).
    weights : str
        An entry of the model's weights enum (``neuromodels.weights``): ``"QUICK"``,
        ``"DEFAULT"`` or ``"LCLV2Weights.QUICK"``.

    Returns
    -------
    (pathlib.Path, str, neuromodels.weights.Weights, int or None)
        The file (its SHA-256 checked), the entry's name (``"LCLV2Weights.QUICK"``), the entry, and
        ``data.image_size`` of the training config that made the weights (pixels
        spanning ``model.visual_degrees``; ``None`` when the config does not say).

    Raises
    ------
    PluginExportError
        If the model has no such entry (the message lists its entries), or the file
        is missing or its hash differs.
    """
    from ..training.config import load_config
    from ..weights import WeightsEnum, WeightsHashError, resolve_weights
    from .export import PluginExportError

    try:
        entry = resolve_weights(model, weights)
        path = entry.verify()
    except (ValueError, TypeError, FileNotFoundError, WeightsHashError) as err:
        raise PluginExportError(f"--weights {weights}: {err}") from None
    # the entry's own name (DEFAULT is an alias: iterating an enum gives the canonical member)
    name = next((f"{cls.__name__}.{m.name}" for cls in WeightsEnum.__subclasses__() for m in cls
                 if m.value is entry), str(weights))
    config = Path(__file__).resolve().parents[1] / "configs" / entry.train_config
    image_size = load_config(config).data.image_size if config.is_file() else None
    return path, name, entry, image_size


def _export(args) -> int:
    from .export import PluginExportError, export_plugin, read_checkpoint, rebuild_model

    mapping, source, notes = None, "default", None
    if (args.checkpoint is None) == (args.weights is None):
        raise PluginExportError("give either --checkpoint (a trainer checkpoint) or --weights (shipped pretrained "
                                "weights, e.g. --weights QUICK), not both and not neither")
    shipped = None
    if args.weights is not None:
        args.checkpoint, name, entry, trained_size = weights_checkpoint(args.model, args.weights)
        args.image_size = args.image_size or trained_size
        shipped = {"entry": name, "file": entry.file, "sha256": entry.sha256, "config": entry.config,
                   "train_config": entry.train_config, "command": entry.command, "seed": entry.seed}
    if args.region_layer_map and args.recordings:
        raise PluginExportError("give either --region-layer-map or --recordings, not both")
    if args.region_layer_map:
        mapping = read_region_layer_map(args.region_layer_map)
        source = f"given ({args.region_layer_map})"
    elif args.recordings:
        if not args.stimuli:
            raise PluginExportError("--recordings needs --stimuli (a folder of images or a CSV with stimulus_id, path)")
        from analysis.assemblies import load  # part of the predictivity-based selection, see the module docstring

        from .export import resolve_image_size

        ckpt = read_checkpoint(args.checkpoint)
        model = rebuild_model(ckpt["model_name"], ckpt["model_config"], ckpt["model"])
        recordings = [load(p) for p in args.recordings]
        mapping, notes = select_region_layers(
            model, recordings, _stimulus_table(Path(args.stimuli)), args.stimulus_degrees,
            regression=args.regression, stratify_on=args.stratify_on,
            image_size=resolve_image_size(ckpt, model, args.image_size, args.checkpoint),
        )
        source = f"predictivity ({args.regression}) on {[str(p) for p in args.recordings]}"
    bibtex = Path(args.bibtex).read_text() if args.bibtex else ""
    result = export_plugin(
        args.model, args.checkpoint, args.identifier, args.out,
        region_layer_map=mapping, region_layer_source=source, weights_file=args.weights_file,
        weights_url=args.weights_url, image_size=args.image_size, visual_degrees=args.visual_degrees,
        toolkit_requirement=args.toolkit_requirement, bibtex=bibtex, make_zip=args.zip, force=args.force,
    )
    if notes or shipped:
        manifest = result.folder / "export.json"
        data = json.loads(manifest.read_text())
        if notes:
            data["region_layer_scores"] = notes
        if shipped:
            data["pretrained_weights"] = shipped
        from neurocommon.files import atomic_write_text

        atomic_write_text(manifest, json.dumps(data, indent=2, default=float) + "\n")
    print(f"plugin folder: {result.folder}")
    print(f"weights file (host it; not part of the upload): {result.weights_file} sha256 {result.weights_sha256}")
    print(f"region layer map ({source}): {result.region_layer_map}")
    if result.zip_path:
        print(f"upload zip: {result.zip_path} ({result.zip_path.stat().st_size / 1e3:.1f} kB)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neuromodels.brainscore", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write a Brain-Score plugin folder for a trained checkpoint")
    ex.add_argument("model", help="registry name of the model (neuromodels.list_models())")
    ex.add_argument("--checkpoint", help="trainer checkpoint (.pt)")
    ex.add_argument("--weights", help="shipped pretrained weights instead of a checkpoint: an entry of the model's "
                                      "weights enum (QUICK, CPU, DEFAULT; neuromodels.weights)")
    ex.add_argument("--identifier", required=True, help="Brain-Score model identifier")
    ex.add_argument("--out", required=True, help="plugin folder to create (its name is the package name)")
    ex.add_argument("--zip", action="store_true", help="also write <out>.zip for upload")
    ex.add_argument("--force", action="store_true", help="replace a folder written by a previous export")
    ex.add_argument("--region-layer-map", help="JSON file {region: layer} for V1, V2, V4, IT")
    ex.add_argument("--recordings", nargs="+", help="recording assemblies (.nc) to choose layers by predictivity")
    ex.add_argument("--stimuli", help="images of the recordings: a folder (<stimulus_id>.png) or a CSV")
    ex.add_argument("--stimulus-degrees", type=float, default=4.0, help="stimulus size in degrees (default 4)")
    ex.add_argument("--regression", default="ridge", help="regression for layer selection (ridge, pls, linear)")
    ex.add_argument("--stratify-on", default=None, help="presentation coord to stratify the splits on")
    ex.add_argument("--weights-file", help="where to write the weights file (default <out>.weights.pt)")
    ex.add_argument("--weights-url", help="URL where the weights file will be hosted")
    ex.add_argument("--image-size", type=int, help="input pixels spanning the model's visual degrees")
    ex.add_argument("--visual-degrees", type=float, help="override model.visual_degrees")
    ex.add_argument("--toolkit-requirement", help="pip requirement for the toolkit instead of vendoring it")
    ex.add_argument("--bibtex", help="file with the model's BibTeX entry")
    zp = sub.add_parser("zip", help="write the upload zip of an exported plugin folder")
    zp.add_argument("folder")
    zp.add_argument("--out", help="zip path (default <folder>.zip)")
    zp.add_argument("--force", action="store_true", help="replace an existing zip")
    ti = sub.add_parser("test-images", help="write the generic-test images into brainscore_vision (Brain-Score env)")
    for p in (ex, zp, ti):
        add_debug_flag(p)
    args = parser.parse_args(argv)

    from .export import PluginExportError, zip_plugin

    def body() -> int:
        if args.command == "export":
            return _export(args)
        if args.command == "zip":
            print(zip_plugin(args.folder, args.out, force=args.force))
            return 0
        from .testing import ensure_generic_test_images

        for path in ensure_generic_test_images():
            print(path)
        return 0

    return run_command(body, debug=args.debug, expected=(PluginExportError, FileNotFoundError, ImportError))


if __name__ == "__main__":
    sys.exit(main())
