"""Install the TEST-ONLY deardiary Julia kernelspec into a prefix the tests control.

    python ui-tests/test-kernel/install_kernelspec.py --prefix DIR [--julia PATH]

writes DIR/share/jupyter/kernels/deardiary-test-julia-1.5/kernel.json with absolute paths
(this Python, this checkout). DIR = sys.prefix of the venv makes Jupyter in that venv find it
without JUPYTER_PATH; any other DIR needs JUPYTER_PATH=DIR/share/jupyter. Never use it on a
user's real Jupyter. Without installing anything, JUPYTER_PATH=<repo>/ui-tests/test-kernel
finds the in-repo spec in kernels/.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

HERE = Path(__file__).resolve().parent
NAME = "deardiary-test-julia-1.5"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", required=True, help="e.g. the venv's sys.prefix or a tmp dir")
    parser.add_argument("--julia", help="julia to run (default: $DEARDIARY_TEST_JULIA at kernel "
                                        "start, else <repo>/.cache/julia/bin/julia)")
    args = parser.parse_args()
    spec = json.loads((HERE / "kernels" / NAME / "kernel.json").read_text())
    spec["argv"] = [sys.executable, str(HERE / "deardiary_test_kernel.py"), "-f", "{connection_file}"]
    if args.julia:
        spec["env"] = {"DEARDIARY_TEST_JULIA": str(Path(args.julia).resolve())}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
        dest = KernelSpecManager().install_kernel_spec(tmp, NAME, prefix=args.prefix)
    print(dest)


if __name__ == "__main__":
    main()
