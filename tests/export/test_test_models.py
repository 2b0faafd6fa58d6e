"""The test models in tests/models/ are what tests/make_test_models.py exports today."""

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

pytest.importorskip("torch")

from make_test_models import MODELS, SPECS, export  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.mark.parametrize("name", list(SPECS))
def test_shipped_test_model_equals_a_fresh_export(name, tmp_path):
    fresh = onnx.load(str(export(name, tmp_path / f"{name}.onnx")))
    shipped = onnx.load(str(MODELS / f"{name}.onnx"))
    assert {p.key: p.value for p in fresh.metadata_props} == {p.key: p.value for p in shipped.metadata_props}
    a = {t.name: numpy_helper.to_array(t) for t in fresh.graph.initializer}
    b = {t.name: numpy_helper.to_array(t) for t in shipped.graph.initializer}
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}: {key} differs; rerun tests/make_test_models.py")
