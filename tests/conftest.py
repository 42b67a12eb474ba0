import pathlib
import sys

import pytest

# Lets test modules import tests/support as `support`.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from support.models import export_test_repository  # noqa: E402
from support.server import start_server  # noqa: E402

# The shared server refuses bodies over this, so the 413 path is cheap to test.
MAX_BODY_BYTES = 1 << 20


@pytest.fixture(scope="session")
def repository(tmp_path_factory) -> pathlib.Path:
    """Every test model, exported by real PyTorch into a fresh repository."""
    return export_test_repository(tmp_path_factory.mktemp("repository"))


@pytest.fixture(scope="session")
def server(repository):
    """One `tandem serve` on the test repository, shared by the tests that only send requests."""
    s = start_server(repository, "--max-body-bytes", str(MAX_BODY_BYTES), "--default-model",
                     "classifier")
    yield s
    assert s.stop() == 0, "\n".join(s.log)
