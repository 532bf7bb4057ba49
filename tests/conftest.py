import numpy as np
import pytest
from hypothesis import settings

# The property tests draw the same cases on every run by default, so CI and a
# bisect see the same examples. `python -m pytest --hypothesis-profile=explore`
# draws fresh random cases on each run, to look for new failures.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("repeatable")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return request.param
