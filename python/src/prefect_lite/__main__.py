"""`python -m prefect_lite [flags]`: the executable, for when the scripts directory is not on PATH."""

import os
import subprocess
import sys

from . import binary_path


def main() -> None:
    binary = binary_path()
    if os.name != "nt":
        os.execv(binary, [binary, *sys.argv[1:]])  # the server receives signals itself
    try:
        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    except KeyboardInterrupt:  # Ctrl-C reached both; the server shuts down on its own
        sys.exit(130)


if __name__ == "__main__":
    main()
