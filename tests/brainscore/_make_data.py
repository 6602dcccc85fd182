"""Write a small FreemanZiemba2013-shaped simulated recording and its stimuli (main environment).

Run by tests/brainscore/conftest.py with the main venv's Python (numpy 2, the
toolkit's own analysis package):  python _make_data.py OUT_DIR
Writes OUT_DIR/recording.nc (analysis.assemblies.save), OUT_DIR/images/<id>.png and
OUT_DIR/stimuli.csv (stimulus table with a 'path' column).
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from analysis.assemblies import save
from analysis.simulate import simulate_recordings
from analysis.stimuli import StimulusSet
from analysis.texture_stimuli import texture_stimulus_set

out = Path(sys.argv[1])
(out / "images").mkdir(parents=True, exist_ok=True)
# 4 families x {texture, noise} x 8 samples = 64 stimuli of 32 px shown in a 4 degree aperture
stim = texture_stimulus_set(samples_per_family=8, size=32, n_iter=0, seed=0, progress=False, visual_degrees=4.0)
# quantize to 8 bits first: the recordings are simulated on exactly the images Brain-Score will read
u8 = np.round(stim.load_images()[:, 0] * 255).astype(np.uint8)
table = stim.table.copy()
paths = []
for sid, img in zip(table["stimulus_id"], u8):
    path = out / "images" / f"{sid}.png"
    Image.fromarray(img).save(path)
    paths.append(str(path))
table["path"] = paths
table.to_csv(out / "stimuli.csv", index=False)
quantized = StimulusSet(table.drop(columns=["path"]), images=(u8[:, None] / 255.0).astype(np.float32),
                        visual_degrees=4.0, name="simulated_fz_tiny")
rec = simulate_recordings(quantized, n_units={"V1": 16, "V2": 16}, n_repetitions=10, noise=1.0, seed=0,
                          image_size=32)
save(rec, out / "recording.nc")
print(rec.sizes["presentation"], rec.sizes["neuroid"])
