"""The Brain-Score plugin exporter in the main environment (no brainscore needed).

Checks the folder layout, the literal registry line Brain-Score scans for, that the
generated ``model.py`` rebuilds the exact weights and preprocesses images as the
model was trained (luminance, size, [0, 1]), the refusal to put weights inside the
plugin, and the upload zip against the Brain-Score website's own structure rules.
The Brain-Score side (its generic plugin tests, look_at, benchmarks) is tested in
tests/brainscore/ in the Brain-Score environment (``make test-brainscore``).
"""
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import neurocommon
import neuromodels
from neurocommon.images import LUMINANCE_WEIGHTS
from neuromodels.brainscore import (
    MAX_UPLOAD_BYTES,
    PluginExportError,
    check_plugin_folder,
    export_plugin,
    registry_line,
    zip_plugin,
)

LCL_CONFIG = {"channels": [4, 8]}
IMAGE_SIZE = 32


def _checkpoint(path: Path, name: str, config: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = neuromodels.build_model(name, **config)
    for p in model.parameters():  # random, non-default weights
        torch.nn.init.normal_(p, std=0.3)
    torch.save({"model": model.state_dict(), "model_name": name, "model_config": config, "step": 7}, path)
    return model.eval()


def _import_plugin_model(folder: Path):
    spec = importlib.util.spec_from_file_location(f"_plugin_{folder.name}_model", folder / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lcl_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("bs_export")
    model = _checkpoint(root / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    result = export_plugin("lcl_v2", root / "ckpt.pt", "lcl_v2_tiny.test", root / "lcl_v2_tiny",
                           region_layer_map={"V1": "stages.0"}, image_size=IMAGE_SIZE, make_zip=True)
    return result, model


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def test_folder_layout_and_vendored_toolkit(lcl_export):
    result, _ = lcl_export
    files = _files(result.folder)
    top = {f for f in files if not f.startswith("vendor/")}
    assert top == {"__init__.py", "model.py", "test.py", "metadata.yaml", "requirements.txt", "export.json",
                   "region_layer_map/lcl_v2_tiny.test.json"}
    assert {f.split("/")[1] for f in files if f.startswith("vendor/")} == {"neuromodels", "neurocommon"}
    for package in (neuromodels, neurocommon):  # the model code and the low-level helpers it imports
        src, name = Path(package.__file__).parent, package.__name__
        vendored = {f[len(f"vendor/{name}/"):] for f in files if f.startswith(f"vendor/{name}/")}
        expected = {p.relative_to(src).as_posix() for p in src.rglob("*.py")
                    if "__pycache__" not in p.parts and "brainscore" not in p.relative_to(src).parts}
        assert expected <= vendored and not any(v.startswith("brainscore/") for v in vendored)
        for rel in expected & {"__init__.py", "lcl.py", "registry.py", "images.py"}:
            assert (result.folder / "vendor" / name / rel).read_bytes() == (src / rel).read_bytes()
    assert not _files(result.folder) & {f for f in files if Path(f).suffix in {".pt", ".pth", ".ckpt"}}


def test_registry_line_is_literal_and_parsed_like_brainscore(lcl_export):
    result, _ = lcl_export
    source = (result.folder / "__init__.py").read_text()
    compile(source, "__init__.py", "exec")
    lines = [line for line in source.splitlines() if "model_registry[" in line]
    assert lines == [registry_line("lcl_v2_tiny.test")]
    line = lines[0]
    assert line.startswith("model_registry['lcl_v2_tiny.test'] = lambda: ModelCommitment(identifier='lcl_v2_tiny.test', ")
    # brainscore_core.plugin_management: ImportPlugin.locate_plugin and get_plugin_ids
    assert "model_registry['lcl_v2_tiny.test']" in line.replace('"', "'")
    found = re.search(r"model_registry\[.*\]", line).group(0)[len("model_registry") + 2:-2]
    assert found == "lcl_v2_tiny.test"


def test_region_layer_map_fills_missing_regions_with_deepest_layer(lcl_export):
    result, _ = lcl_export
    mapping = json.loads((result.folder / "region_layer_map/lcl_v2_tiny.test.json").read_text())
    assert mapping == {"V1": "stages.0", "V2": "stages.1", "V4": "stages.1", "IT": "stages.1"}
    manifest = json.loads((result.folder / "export.json").read_text())
    assert set(manifest["region_layer_notes"]) == {"V2", "V4", "IT"}
    assert manifest["region_layer_source"] == "given"


def test_weights_live_outside_and_match_the_checkpoint(lcl_export):
    result, model = lcl_export
    assert result.folder.resolve() not in result.weights_file.resolve().parents
    assert hashlib.sha256(result.weights_file.read_bytes()).hexdigest() == result.weights_sha256
    m = _import_plugin_model(result.folder)
    assert m.WEIGHTS_SHA256 == result.weights_sha256 and m.WEIGHTS_PATH == str(result.weights_file.resolve())
    rebuilt = m.build_model()
    assert not rebuilt.training and not any(p.requires_grad for p in rebuilt.parameters())
    ref = model.state_dict()
    assert set(rebuilt.state_dict()) == set(ref)
    assert all(torch.equal(v, ref[k]) for k, v in rebuilt.state_dict().items())


def test_corrupted_weights_are_refused(lcl_export, tmp_path, monkeypatch):
    result, _ = lcl_export
    m = _import_plugin_model(result.folder)
    bad = tmp_path / "bad.pt"
    data = bytearray(result.weights_file.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(m, "WEIGHTS_PATH", str(bad))
    with pytest.raises(ValueError, match="SHA-256"):
        m.weights_file()


def test_preprocessing_matches_training_input(lcl_export, tmp_path):
    """RGB files -> [0, 1] floats at the model size; the model's luminance (BT.709) = the toolkit's input."""
    result, model = lcl_export
    m = _import_plugin_model(result.folder)
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    x = m.preprocess([str(tmp_path / "a.png")])
    assert x.shape == (1, 3, IMAGE_SIZE, IMAGE_SIZE) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], rgb.transpose(2, 0, 1) / np.float32(255))
    # the trained model sees luminance; feed the toolkit model a hand-made luminance image
    lum = np.tensordot(np.asarray(LUMINANCE_WEIGHTS, dtype=np.float64), rgb.transpose(2, 0, 1) / 255.0, axes=1)
    with torch.no_grad():
        direct = model(torch.tensor(lum[None, None], dtype=torch.float32))
        via_plugin = m.build_model()(torch.from_numpy(x))
    torch.testing.assert_close(via_plugin, direct, rtol=1e-5, atol=1e-6)
    # a larger image is resized like PIL's antialiased bilinear resize (independent implementation)
    big = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    Image.fromarray(big).save(tmp_path / "b.png")
    pil = np.asarray(Image.fromarray(big).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR), dtype=np.float32) / 255
    np.testing.assert_allclose(m.preprocess([str(tmp_path / "b.png")])[0], pil.transpose(2, 0, 1), atol=2.5 / 255)
    # grayscale files become three equal channels
    Image.fromarray(big[..., 0]).save(tmp_path / "g.png")
    g = m.preprocess([str(tmp_path / "g.png")])[0]
    np.testing.assert_array_equal(g[0], g[1]) and np.testing.assert_array_equal(g[1], g[2])


def test_expected_features_and_fingerprint_from_the_toolkit(lcl_export):
    result, model = lcl_export
    m = _import_plugin_model(result.folder)
    x = torch.from_numpy(m.reference_image(IMAGE_SIZE).astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        outs = model.stage_outputs(x)
    for layer, out in zip(["stages.0", "stages.1"], outs):
        assert m.EXPECTED_FEATURES[layer] == out[0].numel()
        flat = out[0].double().flatten().numpy()
        assert m.REFERENCE_FINGERPRINT[layer][0] == pytest.approx(flat.sum(), rel=1e-6)
        assert m.REFERENCE_FINGERPRINT[layer][1] == pytest.approx((flat ** 2).sum(), rel=1e-6)
        np.testing.assert_allclose(m.REFERENCE_FINGERPRINT[layer][2:], flat[m.REFERENCE_INDICES[layer]], rtol=1e-6)
    assert m.VISUAL_DEGREES == model.visual_degrees == 8.0 and m.IN_CHANNELS == 1


def test_requirements_list_what_the_plugin_imports(lcl_export):
    result, _ = lcl_export
    reqs = [line for line in (result.folder / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert {"torch", "numpy", "pillow"} <= set(reqs)
    assert "plenoptic" not in reqs  # LCL-V2 never loads the steerable pyramid
    assert not any(r.lower().startswith(("xarray", "brainscore", "scikit-learn", "pandas")) for r in reqs)
    assert not any(r.lower().startswith(("neuromodels", "neurocommon")) for r in reqs)  # vendored, not installed


def _website_accepts(path: Path) -> tuple[bool, str]:
    """The Brain-Score website's zip checks (brain-score.web, benchmarks/views/user.py), re-implemented."""
    with zipfile.ZipFile(path) as archive:
        names = [i.filename for i in archive.infolist()]
    plugins = {n.split("/")[1].lower() for n in names if n.endswith("/") and n.count("/") == 2}
    kinds = plugins & {"models", "benchmarks", "data", "metrics"}
    if not kinds:
        return False, "no plugin folder"
    for kind in kinds:
        instances = [n.split("/")[2] for n in names if n.endswith("/") and n.count("/") == 3 and n.split("/")[1] == kind]
        if not instances:
            return False, f"{kind} empty"
        for inst in instances:
            files = {n.split("/")[-1] for n in names if len(n.split("/")) > 1 and n.split("/")[-2] == inst}
            if not {"__init__.py", "test.py"} <= files:
                return False, f"{inst} lacks __init__.py/test.py"
    return True, ""


def test_zip_layout_contents_and_size(lcl_export):
    result, _ = lcl_export
    assert result.zip_path == result.folder.with_name("lcl_v2_tiny.zip")
    assert 0 < result.zip_path.stat().st_size < MAX_UPLOAD_BYTES
    assert _website_accepts(result.zip_path) == (True, "")
    prefix = "lcl_v2_tiny_submission/models/lcl_v2_tiny/"
    with zipfile.ZipFile(result.zip_path) as zf:
        names = zf.namelist()
        assert names[:3] == ["lcl_v2_tiny_submission/", "lcl_v2_tiny_submission/models/", prefix]
        files = {n[len(prefix):] for n in names if not n.endswith("/")}
        assert files == _files(result.folder)
        for rel in files:
            assert zf.read(prefix + rel) == (result.folder / rel).read_bytes()
    assert not any(Path(n).suffix in {".pt", ".pyc"} for n in names)


def test_refuses_weights_inside_the_plugin_folder(tmp_path):
    out = tmp_path / "plugin"
    out.mkdir()
    _checkpoint(out / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    with pytest.raises(PluginExportError, match="inside the plugin folder"):
        export_plugin("lcl_v2", out / "ckpt.pt", "x", out, image_size=IMAGE_SIZE)
    _checkpoint(tmp_path / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    fresh = tmp_path / "fresh"
    with pytest.raises(PluginExportError, match="inside the plugin folder"):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", "x", fresh, weights_file=fresh / "w.pt", image_size=IMAGE_SIZE)
    assert not fresh.exists()


def test_folder_check_refuses_weight_files_and_large_files(lcl_export, tmp_path):
    result, _ = lcl_export
    copy = tmp_path / "copy"
    shutil.copytree(result.folder, copy)
    assert check_plugin_folder(copy) == sum((copy / f).stat().st_size for f in _files(copy))
    (copy / "extra.ckpt").write_bytes(b"\0" * 10)
    with pytest.raises(PluginExportError, match="never go into a plugin"):
        check_plugin_folder(copy)
    with pytest.raises(PluginExportError, match="never go into a plugin"):
        zip_plugin(copy, tmp_path / "copy.zip")
    assert not (tmp_path / "copy.zip").exists()
    (copy / "extra.ckpt").unlink()
    (copy / "big.py").write_bytes(b"#" * (2 * 1024 * 1024))
    with pytest.raises(PluginExportError, match="larger than"):
        check_plugin_folder(copy)


@pytest.mark.parametrize("identifier, folder, message", [
    ("bad'id", "ok", "identifier"),
    ("ok", "my-plugin", "Python identifier"),
])
def test_bad_names_are_refused(tmp_path, identifier, folder, message):
    _checkpoint(tmp_path / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    with pytest.raises(PluginExportError, match=message):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", identifier, tmp_path / folder, image_size=IMAGE_SIZE)


def test_bad_checkpoints_and_maps_are_refused(tmp_path):
    _checkpoint(tmp_path / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    with pytest.raises(PluginExportError, match="holds model 'lcl_v2'"):
        export_plugin("texture_model", tmp_path / "ckpt.pt", "x", tmp_path / "p", image_size=IMAGE_SIZE)
    torch.save({"model": {}}, tmp_path / "bare.pt")
    with pytest.raises(PluginExportError, match="model_name"):
        export_plugin("lcl_v2", tmp_path / "bare.pt", "x", tmp_path / "p", image_size=IMAGE_SIZE)
    with pytest.raises(PluginExportError, match="layers the model does not have"):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", "x", tmp_path / "p", image_size=IMAGE_SIZE,
                      region_layer_map={"V1": "features.3"})
    with pytest.raises(PluginExportError, match="unknown regions"):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", "x", tmp_path / "p", image_size=IMAGE_SIZE,
                      region_layer_map={"MT": "stages.0"})
    with pytest.raises(PluginExportError, match="image_size"):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", "x", tmp_path / "p")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(PluginExportError, match="not empty"):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", "x", tmp_path / "foreign", image_size=IMAGE_SIZE)
    with pytest.raises(PluginExportError, match="not written by this exporter"):
        export_plugin("lcl_v2", tmp_path / "ckpt.pt", "x", tmp_path / "foreign", image_size=IMAGE_SIZE, force=True)
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def test_image_size_from_the_run_folder_config(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    _checkpoint(run / "checkpoints" / "ckpt-00000005.pt", "lcl_v2", LCL_CONFIG)
    (run / "config.yaml").write_text("model: lcl_v2\ndata:\n  image_size: 48\n")
    from neuromodels.brainscore.export import read_checkpoint, resolve_image_size

    ckpt = read_checkpoint(run)
    assert ckpt["step"] == 7
    assert resolve_image_size(ckpt, None, None, run / "checkpoints" / "ckpt-00000005.pt") == 48
    assert resolve_image_size(ckpt, None, None, run) == 48
    assert resolve_image_size(ckpt, None, 20, run) == 20


@pytest.mark.slow
def test_texture_model_export_needs_plenoptic(tmp_path):
    config = {"n_scales": 2, "channels": 4}
    model = _checkpoint(tmp_path / "ckpt.pt", "texture_model", config)
    result = export_plugin("texture_model", tmp_path / "ckpt.pt", "texture_tiny.test", tmp_path / "texture_tiny",
                           image_size=IMAGE_SIZE)
    reqs = (result.folder / "requirements.txt").read_text().splitlines()
    assert "plenoptic" in reqs  # imported lazily by the steerable pyramid, needed at run time
    # V1 as declared with the model (@register_model region_layers), the rest its deepest layer
    assert neuromodels.registry.model_info("texture_model").region_layers["V1"] == "frontend"
    assert result.region_layer_map == {"V1": "frontend", "V2": "stages.0", "V4": "stages.0", "IT": "stages.0"}
    m = _import_plugin_model(result.folder)
    assert m.LAYERS == ["frontend", "stages.0"] == model.layers
    x = torch.from_numpy(m.reference_image(IMAGE_SIZE).astype(np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        torch.testing.assert_close(m.build_model()(x), model(x))


@pytest.mark.slow
def test_cli_exports_and_zips(tmp_path):
    _checkpoint(tmp_path / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    (tmp_path / "map.json").write_text(json.dumps({"V1": "stages.0", "V2": "stages.1"}))
    cmd = [sys.executable, "-m", "neuromodels.brainscore", "export", "lcl_v2", "--checkpoint", str(tmp_path / "ckpt.pt"),
           "--identifier", "cli_tiny", "--out", str(tmp_path / "cli_tiny"), "--zip", "--image-size", "32",
           "--region-layer-map", str(tmp_path / "map.json"), "--weights-url", "https://example.org/cli_tiny.pt"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "cli_tiny/region_layer_map/cli_tiny.json").read_text()) == {
        "V1": "stages.0", "V2": "stages.1", "V4": "stages.1", "IT": "stages.1"}
    assert _website_accepts(tmp_path / "cli_tiny.zip")[0]
    m = _import_plugin_model(tmp_path / "cli_tiny")
    assert m.WEIGHTS_URL == "https://example.org/cli_tiny.pt"
    bad = subprocess.run(cmd[:-2] + ["--weights-url", "ftp://nope"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "http" in bad.stderr


@pytest.mark.slow
# few tiny stimuli: a constant neuroid over a test split gives a NaN r that score_layers skips, saying so
@pytest.mark.filterwarnings("ignore:score_layers, layer .* held-out r is NaN:RuntimeWarning")
def test_cli_chooses_layers_by_the_toolkits_predictivity(tmp_path):
    """--recordings: the map is score_layers' nested-CV choice on the model's activations (same inputs)."""
    from analysis.activations import extract
    from analysis.assemblies import save
    from analysis.layer_mapping import score_layers
    from analysis.simulate import simulate_recordings
    from analysis.stimuli import StimulusSet
    from analysis.texture_stimuli import texture_stimulus_set
    from neuromodels.brainscore.__main__ import main

    model = _checkpoint(tmp_path / "ckpt.pt", "lcl_v2", LCL_CONFIG)
    stim = texture_stimulus_set(samples_per_family=4, size=32, n_iter=0, seed=0, progress=False)
    u8 = np.round(stim.load_images()[:, 0] * 255).astype(np.uint8)
    (tmp_path / "img").mkdir()
    for sid, img in zip(stim.stimulus_ids, u8):
        Image.fromarray(img).save(tmp_path / "img" / f"{sid}.png")
    table = stim.table.assign(path=[str(tmp_path / "img" / f"{s}.png") for s in stim.stimulus_ids])
    table.to_csv(tmp_path / "stimuli.csv", index=False)
    quantized = StimulusSet(table, visual_degrees=4.0, name="sel")
    rec = simulate_recordings(quantized, n_units={"V1": 8, "V2": 8}, n_repetitions=4, seed=0, image_size=32)
    save(rec, tmp_path / "rec.nc")
    rc = main(["export", "lcl_v2", "--checkpoint", str(tmp_path / "ckpt.pt"), "--identifier", "sel_tiny",
               "--out", str(tmp_path / "sel_tiny"), "--image-size", "32", "--recordings", str(tmp_path / "rec.nc"),
               "--stimuli", str(tmp_path / "stimuli.csv"), "--stimulus-degrees", "4"])
    assert rc == 0
    acts = extract(model, quantized, model.layers, max_features=10000, image_size=32, progress=False)
    expected = score_layers(acts, rec, regression="ridge", progress=False).best_layers
    mapping = json.loads((tmp_path / "sel_tiny/region_layer_map/sel_tiny.json").read_text())
    assert {r: mapping[r] for r in ("V1", "V2")} == expected
    assert mapping["V4"] == mapping["IT"] == "stages.1"
    manifest = json.loads((tmp_path / "sel_tiny/export.json").read_text())
    assert manifest["region_layer_source"].startswith("predictivity (ridge)")
    assert {row["layer"] for row in manifest["region_layer_scores"]} == {"stages.0", "stages.1"}


def test_portable_config_drops_local_references(tmp_path):
    from neuromodels.brainscore.export import portable_config

    _checkpoint(tmp_path / "front.pt", "lcl_v2", LCL_CONFIG)
    cfg, notes = portable_config({"frontend_checkpoint": str(tmp_path / "front.pt"), "pretrained": True,
                                  "num_classes": 10})
    assert cfg == {"frontend_checkpoint": None, "frontend_config": LCL_CONFIG, "pretrained": False, "num_classes": 10}
    assert set(notes) == {"pretrained", "frontend_checkpoint"}
    assert portable_config(LCL_CONFIG) == (LCL_CONFIG, {})
    with pytest.raises(PluginExportError, match="names a file on this machine"):
        portable_config({"table": str(tmp_path / "front.pt")})


@pytest.mark.slow
def test_lcl_v2net_export_carries_its_frontend_in_the_weights(tmp_path):
    _checkpoint(tmp_path / "front.pt", "lcl_v2", LCL_CONFIG, seed=3)
    config = {"frontend_checkpoint": str(tmp_path / "front.pt"), "num_classes": 10}
    net = _checkpoint(tmp_path / "net.pt", "lcl_v2net", config)
    result = export_plugin("lcl_v2net", tmp_path / "net.pt", "lcl_v2net_tiny", tmp_path / "lcl_v2net_tiny",
                           image_size=IMAGE_SIZE)
    assert result.manifest["model_config"] == {"frontend_checkpoint": None, "frontend_config": LCL_CONFIG,
                                               "num_classes": 10}
    (tmp_path / "front.pt").unlink()  # the plugin must not need it
    m = _import_plugin_model(result.folder)
    rebuilt = m.build_model()
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in rebuilt.state_dict().items())
    assert m.LAYERS[:2] == ["frontend.stages.0", "frontend.stages.1"] and m.LAYERS[-1] == "backend.fc"


def test_fingerprints_match_tolerates_rounding_not_changes():
    """Per-activation rounding of relative size rtol passes, even when the sum cancels; a real change fails."""
    from neuromodels.brainscore._reference import fingerprint, fingerprints_match, reference_indices

    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000) * 1e9
    x -= x.mean()                                          # the sum cancels to ~0: a plain rtol check fails
    idx = reference_indices(x.size)
    rounded = x * (1 + 5e-5 * rng.choice([-1.0, 1.0], size=x.size))
    want, got = fingerprint(x, idx), fingerprint(rounded, idx)
    assert not np.allclose(got, want, rtol=1e-4, atol=1e-5)        # what the old check said
    assert fingerprints_match(got, want, x.size)
    changed = x.copy()
    changed[idx[3]] *= 1.01                                # one reference value off by 1 %
    assert not fingerprints_match(fingerprint(changed, idx), want, x.size)
    assert not fingerprints_match(fingerprint(x * 1.001, idx), want, x.size)   # a global gain change
