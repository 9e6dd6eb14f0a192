"""Translation checks shared by the four addons (each addon's ``tests/test_i18n.py`` uses them).

* ``assertPoComplete(module)``: every msgid of ``i18n/<module>.pot`` has a non-empty, non-fuzzy
  translation in ``i18n/fr.po``;
* ``assertPotInSync(module)``: the msgids Odoo's exporter finds today in the installed module (records
  with an external id of the module + terms of its code, as ``odoo-bin --i18n-export``) are those of the
  committed ``.pot`` (msgid sets: contexts, locations and order do not matter). Demo records are left
  out: the ``.pot`` is exported without demo data.
"""

import os
from collections import defaultdict

import polib
from lxml import etree
from odoo.modules.module import get_manifest, get_module_path
from odoo.tools.translate import TranslationModuleReader

SYNC_COMMAND = "./dev i18n"


def module_i18n_file(module, name):
    return os.path.join(get_module_path(module), "i18n", name)


def demo_xmlids(module):
    """External ids of the demo records of ``module`` (``module.name``)."""
    path = get_module_path(module)
    ids = set()
    for demo_file in get_manifest(module).get("demo", []):
        if not demo_file.endswith(".xml"):
            continue
        tree = etree.parse(os.path.join(path, demo_file))
        for node in tree.iter():
            xmlid = node.get("id") if isinstance(node.tag, str) else None
            if xmlid:
                ids.add(xmlid if "." in xmlid else f"{module}.{xmlid}")
    return ids


class I18nCheckMixin:
    po_lang = "fr"

    def _pot_msgids(self, module):
        path = module_i18n_file(module, f"{module}.pot")
        self.assertTrue(os.path.isfile(path), f"{module}: no i18n/{module}.pot: run {SYNC_COMMAND}")
        return {entry.msgid for entry in polib.pofile(path) if not entry.obsolete}

    def _po_translations(self, module):
        path = module_i18n_file(module, f"{self.po_lang}.po")
        self.assertTrue(os.path.isfile(path), f"{module}: no i18n/{self.po_lang}.po: run {SYNC_COMMAND}")
        return {
            entry.msgid: entry.msgstr
            for entry in polib.pofile(path)
            if not entry.obsolete and "fuzzy" not in entry.flags
        }

    def _exported_msgids(self, module):
        """``{msgid: [where]}`` as Odoo's exporter sees the module now, demo records excluded."""
        demo = demo_xmlids(module)
        # a demo record of an _inherits model also gives its parent an xmlid "<demo xmlid>_<parent table>"
        demo_prefixes = tuple(f"{xmlid}_" for xmlid in demo)
        found = defaultdict(list)
        reader = TranslationModuleReader(self.env.cr, modules=[module])
        for row_module, ttype, name, res_id, source, _value, _comments in reader:
            is_demo = ttype in ("model", "model_terms") and (
                res_id in demo or res_id.startswith(demo_prefixes)
            )
            if row_module != module or is_demo:
                continue
            found[source].append(f"{ttype}:{name}:{res_id}")
        return found

    @staticmethod
    def _listing(msgids, limit=40):
        shown = sorted(msgids)[:limit]
        more = len(msgids) - len(shown)
        return "\n".join(f"  - {m!r}" for m in shown) + (f"\n  ... and {more} more" if more > 0 else "")

    def assertPoComplete(self, module):
        pot = self._pot_msgids(module)
        translations = self._po_translations(module)
        missing = {msgid for msgid in pot if not (translations.get(msgid) or "").strip()}
        if missing:
            self.fail(
                f"{module}: {len(missing)} msgid(s) of {module}.pot untranslated in {self.po_lang}.po "
                f"(run {SYNC_COMMAND} --list, then translate them):\n{self._listing(missing)}"
            )

    def assertPotInSync(self, module):
        pot = self._pot_msgids(module)
        exported = self._exported_msgids(module)
        missing = set(exported) - pot
        extra = pot - set(exported)
        if missing or extra:
            lines = [f"{module}: i18n/{module}.pot is out of date: run {SYNC_COMMAND}"]
            if missing:
                lines.append(f"in the code, not in the .pot ({len(missing)}):\n{self._listing(missing)}")
            if extra:
                lines.append(f"in the .pot, gone from the code ({len(extra)}):\n{self._listing(extra)}")
            self.fail("\n".join(lines))

    def _load_french(self, modules):
        """Activate fr_FR and load the ``fr.po`` of ``modules`` into the database (as a user adding French)."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(modules, ["fr_FR"], overwrite=True)
        self.env.invalidate_all()
