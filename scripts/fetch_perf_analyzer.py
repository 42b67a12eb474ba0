"""Fetches perf_analyzer, the v2 load generator, into a folder: the binary bundled in the
tritonclient 2.51.0 manylinux1 wheel (the newest that runs on Debian 12's glibc; unzipped from the
wheel rather than pip-installed, as that wheel pins numpy<2) and the CUDA runtime it links
(libcudart.so.12, from the nvidia-cuda-runtime-cu12 wheel; no GPU needed to run it). The one place
these versions are pinned: scripts/setup.sh installs what this fetches into the environment, and
scripts/gpu-check carries it to the GPU machine.

Usage: python scripts/fetch_perf_analyzer.py FOLDER   (writes FOLDER/perf_analyzer and
FOLDER/libcudart.so.12; needs pip and the package index)"""

import pathlib
import subprocess
import sys
import tempfile
import zipfile

WHEELS = ["tritonclient==2.51.0", "nvidia-cuda-runtime-cu12==12.9.79"]
# file written -> how its path inside a wheel ends
FILES = {"perf_analyzer": "/data/bin/perf_analyzer", "libcudart.so.12": "/lib/libcudart.so.12"}


def main(target: pathlib.Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as downloads:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", "--platform", "manylinux1_x86_64",
                        "--platform", "manylinux2014_x86_64", "-d", downloads, *WHEELS],
                       check=True, stdout=sys.stderr)
        for wheel in pathlib.Path(downloads).glob("*.whl"):
            with zipfile.ZipFile(wheel) as z:
                for name in z.namelist():
                    for file, suffix in FILES.items():
                        if name.endswith(suffix):
                            (target / file).write_bytes(z.read(name))
                            (target / file).chmod(0o755)
    missing = [file for file in FILES if not (target / file).exists()]
    if missing:
        sys.exit(f"fetch_perf_analyzer: {', '.join(WHEELS)} lack {missing}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(pathlib.Path(sys.argv[1]))
