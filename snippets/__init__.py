"""Tested PyTorch 2 code shown, byte for byte, by the bilingual large-model handbook.

Every page of the site includes named sections of these modules, and CI runs both the
modules' unit tests and every code block of every page.  Run ``python -m snippets`` to
list what is here.
"""

__version__ = "0.1.0"
