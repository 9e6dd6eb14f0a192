"""Installs the four addons into Odoo's addons namespace (``odoo.addons.whatsapp``...) and the Meta
sandbox (``meta_sandbox``), beside an installed Odoo 18.0: ``pip install -e .`` or ``pip install .``.

Odoo itself is not a dependency here (it is located by ./dev, see README.rst); ``odoo`` and
``odoo.addons`` stay Odoo's packages: only the addons below them are ours.
"""

import os

from setuptools import setup

ADDONS = ["whatsapp", "whatsapp_sale", "whatsapp_pos", "whatsapp_event"]
HERE = os.path.dirname(os.path.abspath(__file__))


def _walk(top):
    """(python packages, data files) under ``top``, relative to it."""
    packages, data = [], []
    for dirpath, dirnames, filenames in os.walk(os.path.join(HERE, top)):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        rel = os.path.relpath(dirpath, os.path.join(HERE, top))
        if "__init__.py" in filenames:
            packages.append("" if rel == "." else rel.replace(os.sep, "."))
        data += [os.path.normpath(os.path.join(rel, f)) for f in filenames if not f.endswith((".py", ".pyc"))]
    return packages, data


def _mapping(top, name):
    packages, data = _walk(top)
    names = [f"{name}.{p}" if p else name for p in packages]
    dirs = {n: os.path.join(top, *p.split(".")) if p else top for n, p in zip(names, packages, strict=True)}
    return names, dirs, {name: data}


packages, package_dir, package_data = [], {}, {}
for top, name in [*((a, f"odoo.addons.{a}") for a in ADDONS), ("meta_sandbox", "meta_sandbox")]:
    names, dirs, datas = _mapping(top, name)
    packages += names
    package_dir.update(dirs)
    package_data.update(datas)

setup(
    name="whatsapp-odoo",
    version="18.0.1.0.0",
    description="WhatsApp for Odoo 18.0: the whatsapp, whatsapp_sale, whatsapp_pos and whatsapp_event addons",
    long_description=open(os.path.join(HERE, "README.rst"), encoding="utf-8").read()
    if os.path.exists(os.path.join(HERE, "README.rst"))
    else "",
    long_description_content_type="text/x-rst",
    license="LGPL-3.0-only",
    python_requires=">=3.10",
    packages=packages,
    package_dir=package_dir,
    package_data=package_data,
    install_requires=["requests", "phonenumbers"],
    classifiers=["Framework :: Odoo", "Framework :: Odoo :: 18.0", "Programming Language :: Python :: 3"],
    zip_safe=False,
)
