"""Pure pytest helpers (no Odoo).

``whatsapp/__init__.py`` imports Odoo models, so ``whatsapp.tools`` cannot be imported as such
without Odoo. Its Odoo-free modules are loaded here under the private package name
``_whatsapp_tools``: tests do ``from _whatsapp_tools import graph_api, meta_errors``.
"""

import importlib.util
import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent


def load_whatsapp_tools(name="_whatsapp_tools"):
    """Load ``whatsapp/tools`` as the package ``name`` (once) and return it."""
    if name not in sys.modules:
        tools = REPO / "whatsapp" / "tools"
        spec = importlib.util.spec_from_file_location(
            name, tools / "__init__.py", submodule_search_locations=[str(tools)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


load_whatsapp_tools()
