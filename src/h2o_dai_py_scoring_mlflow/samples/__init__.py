"""The synthetic DAI export builder: the embedded demo default and every test's fixture."""

from .builder import LICENSE_NAME, PIPELINE_FOLDER, ZIP_NAME, SampleResult, build_sample
from .datasets import KINDS

__all__ = ["KINDS", "LICENSE_NAME", "PIPELINE_FOLDER", "ZIP_NAME", "SampleResult", "build_sample"]
