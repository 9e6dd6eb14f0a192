"""A compiled yes/no JSON Schema check for the keyword subset Meta's spec uses.

``jsonschema`` needs ~4 ms for a template send through the spec's allOf/if/then layers, which would make the
validator the bottleneck of the throughput benchmark. This module compiles the same (corrected) schemas into
nested closures answering only "valid or not" (~0.1 ms). ``jsonschema`` stays the authority: it runs whenever
the fast check says "invalid" (to produce Meta-style messages) and the test suite checks both agree on every
spec example and on a set of broken payloads. A keyword this compiler does not know makes ``compile_schema``
raise, and the caller then uses ``jsonschema`` alone for that schema: nothing is skipped silently.
"""

import re

REF = "#/components/schemas/"
ANNOTATIONS = {
    "description",
    "example",
    "examples",
    "default",
    "title",
    "deprecated",
    "readOnly",
    "writeOnly",
    "nullable",
    "externalDocs",
    "xml",
    "format",  # jsonschema does not assert formats without a format checker either
    "$comment",
    "discriminator",
}
_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())
    ),
}


class Unsupported(Exception):  # noqa: N818
    pass


def _same(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Compiler:
    def __init__(self, schemas):
        self.schemas = schemas
        self.named = {}

    def ref(self, name):
        if name not in self.named:
            holder = []
            self.named[name] = lambda v: holder[0](v)
            holder.append(self.compile(self.schemas[name]))
        return self.named[name]

    def compile(self, schema):  # noqa: C901 - one branch per keyword
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        checks = []
        unknown = set(schema) - ANNOTATIONS - KNOWN
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        if "$ref" in schema:
            target = schema["$ref"]
            if not target.startswith(REF):
                raise Unsupported(target)
            checks.append(self.ref(target[len(REF) :]))
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            fns = [_TYPES[t] for t in types]
            checks.append(lambda v, fns=fns: any(f(v) for f in fns))
        if "enum" in schema:
            values = schema["enum"]
            checks.append(lambda v, values=values: any(_same(v, x) for x in values))
        if "const" in schema:
            c = schema["const"]
            checks.append(lambda v, c=c: _same(v, c))
        for kw, op in (("minLength", 1), ("maxLength", -1)):
            if kw in schema:
                n = schema[kw]
                checks.append(
                    (lambda v, n=n: not isinstance(v, str) or len(v) >= n)
                    if op == 1
                    else (lambda v, n=n: not isinstance(v, str) or len(v) <= n)
                )
        for kw, op in (("minItems", 1), ("maxItems", -1)):
            if kw in schema:
                n = schema[kw]
                checks.append(
                    (lambda v, n=n: not isinstance(v, list) or len(v) >= n)
                    if op == 1
                    else (lambda v, n=n: not isinstance(v, list) or len(v) <= n)
                )
        if "minimum" in schema or "maximum" in schema:
            lo, hi = schema.get("minimum"), schema.get("maximum")

            def bounds(v, lo=lo, hi=hi):
                if not _TYPES["number"](v):
                    return True
                return (lo is None or v >= lo) and (hi is None or v <= hi)

            checks.append(bounds)
        if "pattern" in schema:
            rx = re.compile(schema["pattern"])
            checks.append(lambda v, rx=rx: not isinstance(v, str) or rx.search(v) is not None)
        if "required" in schema:
            req = tuple(schema["required"])
            checks.append(lambda v, req=req: not isinstance(v, dict) or all(k in v for k in req))
        if "properties" in schema or "additionalProperties" in schema:
            props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
            extra = schema.get("additionalProperties", True)
            extra_fn = None if extra is True else self.compile(extra)

            def objects(v, props=props, extra_fn=extra_fn):
                if not isinstance(v, dict):
                    return True
                for k, item in v.items():
                    fn = props.get(k)
                    if fn is not None:
                        if not fn(item):
                            return False
                    elif extra_fn is not None and not extra_fn(item):
                        return False
                return True

            checks.append(objects)
        if "items" in schema:
            item_fn = self.compile(schema["items"])
            checks.append(lambda v, f=item_fn: not isinstance(v, list) or all(f(x) for x in v))
        if "allOf" in schema:
            checks.extend(self._all_of(schema["allOf"]))
        if "anyOf" in schema:
            fns = [self.compile(s) for s in schema["anyOf"]]
            checks.append(lambda v, fns=fns: any(f(v) for f in fns))
        if "oneOf" in schema:
            fns = [self.compile(s) for s in schema["oneOf"]]
            checks.append(lambda v, fns=fns: sum(1 for f in fns if f(v)) == 1)
        if "not" in schema:
            fn = self.compile(schema["not"])
            checks.append(lambda v, fn=fn: not fn(v))
        if "if" in schema:
            cond = self.compile(schema["if"])
            then = self.compile(schema.get("then", True))
            other = self.compile(schema.get("else", True))
            checks.append(lambda v, c=cond, t=then, o=other: t(v) if c(v) else o(v))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        return _all(tuple(checks))

    def _all_of(self, branches):
        """Compile allOf; discriminator dispatch branches (``if {required: [p], properties: {p: {const: k}}}
        then X``) on the same property become one dict lookup instead of one ``if`` per value."""
        tables, others = {}, []
        for branch in branches:
            prop = _dispatch_prop(branch)
            if prop is None:
                others.append(self.compile(branch))
            else:
                const = branch["if"]["properties"][prop]["const"]
                tables.setdefault(prop, {})[const] = self.compile(branch["then"])
        checks = others
        for prop, table in tables.items():

            def lookup(v, prop=prop, table=table):
                if not isinstance(v, dict):
                    return True
                key = v.get(prop, _MISSING)
                if key is _MISSING or not isinstance(key, (str, int, float)) or isinstance(key, bool):
                    return True
                fn = table.get(key)
                return fn is None or fn(v)

            checks.append(lookup)
        return checks


_MISSING = object()


def _dispatch_prop(branch):
    if set(branch) != {"if", "then"}:
        return None
    cond = branch["if"]
    if set(cond) != {"required", "properties"} or len(cond["required"]) != 1:
        return None
    prop = cond["required"][0]
    if set(cond["properties"]) != {prop} or set(cond["properties"][prop]) != {"const"}:
        return None
    return prop


def _all(checks):
    def check(v):
        for c in checks:
            if not c(v):
                return False
        return True

    return check


KNOWN = {
    "$ref",
    "type",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "pattern",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
}
