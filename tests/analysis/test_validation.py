"""analysis._validation: each shared check accepts good input unchanged and names what is wrong."""
import numpy as np
import pytest
import torch

from analysis import _validation as v
from analysis.assemblies import make_assembly


@pytest.fixture
def assembly():
    return make_assembly(np.arange(12.0).reshape(4, 3), stimulus_id=list("abcd"),
                         presentation_coords={"texture_family": ["x", "x", "y", "y"]},
                         neuroid_coords={"region": ["V1", "V2", "V2"]})


def test_good_input_passes_through_unchanged(assembly):
    assert v.check_assembly(assembly, "f", coords=["texture_family"]) is assembly
    assert v.presentation_coord(assembly, "texture_family", "f").tolist() == ["x", "x", "y", "y"]
    assert v.neuroid_coord(assembly, "region", "f").tolist() == ["V1", "V2", "V2"]
    assert v.group_coord(assembly, "auto") == "region" and v.group_coord(assembly, None) is None
    x = torch.zeros(2, 3)
    assert v.check_2d(x, "x", "f") is x and v.check_finite(x, "x", "f") is x
    assert v.check_min_size(3, 2, "things", "f") == 3


def test_messages_name_the_function_what_was_expected_and_what_came(assembly):
    with pytest.raises(ValueError, match=r"f needs the presentation coord 'object_name'; the "
                                         r"assembly has \['stimulus_id', 'texture_family'\]"):
        v.check_assembly(assembly, "f", coords=["object_name"])
    with pytest.raises(ValueError, match="use a texture set"):
        v.presentation_coord(assembly, "texture_type", "f", hint="use a texture set")
    with pytest.raises(ValueError, match=r"f needs the neuroid coord 'layer'; the assembly has "
                                         r"\['neuroid_id', 'region'\]"):
        v.neuroid_coord(assembly, "layer", "f")
    with pytest.raises(ValueError, match="by='texture_family' must name a neuroid coord"):
        v.group_coord(assembly, "texture_family", "f")
    timed = make_assembly(np.zeros((2, 1, 3)), stimulus_id=["a", "b"])
    with pytest.raises(ValueError, match=r"2-D \(presentation, neuroid\).*mean\('time_bin'\)"):
        v.check_assembly(timed, "f")
    assert v.check_assembly(timed, "f", ndim=None) is timed
    with pytest.raises(ValueError, match=r"x must be 2-D \(samples, features\); got shape \(2, 1, 3\)"):
        v.check_2d(torch.zeros(2, 1, 3), "x", "f")
    with pytest.raises(ValueError, match=r"2 non-finite value\(s\) \(1 NaN, 1 inf\)"):
        v.check_finite(torch.tensor([0.0, float("nan"), float("inf")]), "x", "f")
    with pytest.raises(ValueError, match="f needs at least 2 manifolds; got 1"):
        v.check_min_size(1, 2, "manifolds", "f")
    with pytest.raises(TypeError, match="expected an xarray.DataArray"):
        v.check_assembly(np.zeros((2, 2)), "f")
