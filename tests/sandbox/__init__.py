"""Tests of the Meta sandbox (pure pytest, no Odoo)."""
