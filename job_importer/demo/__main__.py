from pathlib import Path

from . import write

write(Path(__file__).parent)
