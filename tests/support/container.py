"""What the container tests check the image against: the compose limits, and the script that
builds and runs the image's Python environment without a Docker engine."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "container-equivalent")

MEMORY_LIMIT = 20 * 1024 * 1024  # compose `memory: 20M` (Docker units are binary)
CPU_QUOTA = 0.1                  # compose `cpus: "0.1"`
