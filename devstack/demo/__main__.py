from pathlib import Path

from devstack.demo import write

write(Path(__file__).parent)
