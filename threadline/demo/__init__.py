"""Demo data: a realistic month of traffic, so a new install shows merged persons at once."""

from threadline.demo.generator import generate
from threadline.demo.loader import load_demo, load_demo_if_empty

__all__ = ["generate", "load_demo", "load_demo_if_empty"]
