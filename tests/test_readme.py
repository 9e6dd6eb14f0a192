"""The README is valid reStructuredText: a table whose text spills into the next column is dropped whole by
renderers (GitHub shows the raw text), so the figures it holds would be lost to readers."""

import io
import pathlib

import pytest

docutils_core = pytest.importorskip("docutils.core")  # a dependency of Odoo's

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_readme_is_valid_restructuredtext():
    warnings = io.StringIO()
    docutils_core.publish_doctree(
        (ROOT / "README.rst").read_text(),
        settings_overrides={"report_level": 2, "halt_level": 5, "warning_stream": warnings},
    )
    assert warnings.getvalue() == ""
