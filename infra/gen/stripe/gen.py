#!/usr/bin/env python3
"""Writes Mirra's Stripe tables from three sources (run it through `run` beside this file).

* Stripe's OpenAPI document (`stripe.spec3.json`, the 2020-08-27 copy in the specs
  dir): every route and its operationId, parameter length limits, and the objects'
  expandable fields.
* stripe-python's types for the API version today's SDKs pin (`stripe.params` TypedDicts,
  the resource classes' annotations and the services' routes), read as source with `ast`
  (never imported): the parameters and object fields of that version.
* stripe-node's type declarations for the same version (`cjs/**/*.d.ts`, read as text):
  which object fields are always returned and which may be null (for shapes.json).

Outputs, all deterministic (sorted keys), so CI can diff a fresh run against the
committed files:

* `routes.json`      every operation: method, path template, operationId, where it is known from
* `operations.json`  for each operationId in operations.txt: method, path, the object it returns,
                     and its parameter schema (a JSON-Schema subset the Rust side reads)
* `objects.json`     for each object type those operations return: field names and expandable
                     fields (dotted paths into nested hashes too) with their target types
* `shapes.json`      JSON Schema of each operation's 200 answer, each object type and Stripe's
                     error body, for tests (the mirror never reads it): fields and types from
                     stripe-python's resource classes; which are always there and which may be
                     null from stripe-node's declarations of the same version (`cjs/**/*.d.ts`,
                     read as text), which stripe-python's `Optional` cannot tell apart
* `VERSION-DIFFERENCES.md`  what differs between the 2020 document and the pinned version
"""

import argparse
import ast
import importlib.util
import json
import pathlib
import re
import sys

OBJECTS = [
    "customer",
    "payment_method",
    "payment_intent",
    "setup_intent",
    "charge",
    "balance_transaction",
    "refund",
    "event",
    "webhook_endpoint",
    "product",
    "price",
    "coupon",
    "promotion_code",
    "tax_rate",
    "test_helpers.test_clock",
    "invoiceitem",
    "invoice",
    "line_item",
    "subscription",
    "subscription_item",
    "discount",
    "checkout.session",
    "item",
    "billing_portal.session",
]

# Containers whose fields are the same for every resource (the SDK types them generically).
CONTAINERS = {
    "list": ["data", "has_more", "object", "url"],
    "search_result": ["data", "has_more", "next_page", "object", "url"],
}

SCALARS = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "float": {"type": "number"},
    "Decimal": {"type": "number", "format": "decimal"},
}

EMPTY = {"type": "string", "enum": [""]}


class GenError(Exception):
    pass


# --------------------------------------------------------------------------------------
# stripe-python, read as source
# --------------------------------------------------------------------------------------


def expr(node):
    """A string annotation (a forward reference) parsed into its expression."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ast.parse(node.value, mode="eval").body
    return node


def subscript(node):
    """`Name[arg]` → ("Name", [args]); anything else → (None, None)."""
    node = expr(node)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        sl = node.slice
        args = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        return node.value.id, args
    return None, None


def alternatives(node):
    """The members of a union (`A|B`, `Union[A, B]`, `Optional[A]`), flattened."""
    node = expr(node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return alternatives(node.left) + alternatives(node.right)
    name, args = subscript(node)
    if name == "Union":
        return [a for arg in args for a in alternatives(arg)]
    if name == "Optional":
        return alternatives(args[0])
    return [node]


class TypedDicts:
    """Every TypedDict under `stripe/params`, per module (names repeat across modules:
    `checkout` and `billing_portal` both have a `SessionCreateParams`)."""

    def __init__(self, root):
        self.modules = {}
        for f in sorted((root / "params").rglob("*.py")):
            module = ".".join(("stripe",) + f.relative_to(root).with_suffix("").parts)
            self.raw = self.modules.setdefault(module, {})
            for node in ast.parse(f.read_text()).body:
                if isinstance(node, ast.ClassDef):
                    self._class(node)
                elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                    self._functional(node)
        del self.raw

    def _class(self, node):
        total = all(
            not (k.arg == "total" and isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in node.keywords
        )
        bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
        fields = []
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                fields.append((stmt.target.id, stmt.annotation, total))
        self._add(node.name, bases, fields)

    def _functional(self, node):
        # `_XBase = TypedDict("X", {"from": ...})`: for keys that are Python keywords.
        call = node.value
        if not (isinstance(call.func, ast.Name) and call.func.id == "TypedDict"):
            return
        target = node.targets[0]
        if not isinstance(target, ast.Name) or len(call.args) < 2:
            return
        mapping = call.args[1]
        if not isinstance(mapping, ast.Dict):
            raise GenError(f"TypedDict {target.id}: unexpected form")
        total = all(
            not (k.arg == "total" and isinstance(k.value, ast.Constant) and k.value.value is False)
            for k in call.keywords
        )
        fields = [(k.value, v, total) for k, v in zip(mapping.keys, mapping.values)]
        self._add(target.id, [], fields)

    def _add(self, name, bases, fields):
        if name in self.raw:
            raise GenError(f"TypedDict {name} is defined twice in one module")
        self.raw[name] = (bases, fields)

    def fields(self, module, name):
        """[(field, annotation, required)] including inherited TypedDict fields."""
        raw = self.modules.get(module, {})
        if name not in raw:
            raise GenError(f"unknown TypedDict {module}.{name}")
        bases, own = raw[name]
        out = []
        for b in bases:
            if b in ("TypedDict", "RequestOptions"):
                continue
            out.extend(self.fields(module, b))
        out.extend(own)
        return out

    def schema(self, module, name, stack=()):
        """The JSON-Schema subset for TypedDict `name` of `module`."""
        if name in stack:
            raise GenError(f"recursive TypedDict {' > '.join(stack + (name,))}")
        props, required = {}, []
        for field, ann, total in self.fields(module, name):
            wrapper, args = subscript(ann)
            if wrapper == "NotRequired":
                req, ann = False, args[0]
            elif wrapper == "Required":
                req, ann = True, args[0]
            else:
                req = total
            props[field] = self.annotation(ann, module, stack + (name,))
            if req:
                required.append(field)
        out = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            out["required"] = sorted(required)
        return out

    def annotation(self, node, module, stack):
        alts = alternatives(node)
        if len(alts) > 1:
            return self.union(alts, module, stack)
        node = expr(alts[0])
        if isinstance(node, ast.Name):
            if node.id in SCALARS:
                return dict(SCALARS[node.id])
            if node.id == "UntypedStripeObject":
                return {"type": "object", "additionalProperties": {}}
            return self.schema(module, node.id, stack)
        name, args = subscript(node)
        if name == "Literal":
            values = [a.value for a in args if isinstance(a, ast.Constant)]
            if all(isinstance(v, str) for v in values):
                return {"type": "string", "enum": values}
            if all(isinstance(v, bool) for v in values):
                return {"type": "boolean"}
            raise GenError(f"unsupported Literal {ast.unparse(node)}")
        if name == "List":
            return {"type": "array", "items": self.annotation(args[0], module, stack)}
        if name in ("Dict", "Mapping"):
            key = expr(args[0])
            if not (isinstance(key, ast.Name) and key.id == "str"):
                raise GenError(f"unsupported mapping {ast.unparse(node)}")
            return {"type": "object", "additionalProperties": self.annotation(args[1], module, stack)}
        if name == "UntypedStripeObject":
            return {"type": "object", "additionalProperties": self.annotation(args[0], module, stack)}
        raise GenError(f"unsupported annotation {ast.unparse(node)}")

    def union(self, alts, module, stack):
        literals, empty, others = [], False, []
        has_str = False
        for a in alts:
            a = expr(a)
            name, args = subscript(a)
            if name == "Literal" and all(
                isinstance(x, ast.Constant) and isinstance(x.value, str) for x in args
            ):
                for x in args:
                    if x.value == "":
                        empty = True
                    elif x.value not in literals:
                        literals.append(x.value)
                continue
            if isinstance(a, ast.Name) and a.id == "str":
                has_str = True
                continue
            s = self.annotation(a, module, stack)
            if s not in others:
                others.append(s)
        out = []
        if literals:
            # `Union[Literal[...], str]`: the `str` is the SDK's forward-compatibility
            # escape for values newer than the SDK; the pinned version's values are the
            # literals.
            out.append({"type": "string", "enum": literals})
        elif has_str:
            out.append({"type": "string"})
        # A plain dict and `UntypedStripeObject` of the same values are one thing.
        for s in others:
            if s.get("type") == "object" and s.get("additionalProperties") == {}:
                if any(o.get("type") == "object" and "properties" not in o for o in others if o is not s):
                    continue
            out.append(s)
        if empty:
            out.append(dict(EMPTY))
        if len(out) == 1:
            return out[0]
        return {"anyOf": out}


def format_path(node):
    """`"/v1/x/{id}".format(...)` or `"/v1/x"` → the template string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    ):
        return node.func.value.value
    return None


def route_key(method, path):
    return method.upper(), re.sub(r"\{[^}]*\}", "{}", path)


def service_routes(root):
    """(METHOD, normalized path) → ((module, params TypedDict) or None, return annotation,
    path template), from
    every `*_service.py` of the SDK (the StripeClient's methods)."""
    routes = {}
    for f in sorted(root.rglob("*_service.py")):
        if "v2" in f.relative_to(root).parts:
            continue
        tree = ast.parse(f.read_text())
        imported = {
            alias.name: node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            call = None
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Call)
                    and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr == "_request"
                    and len(sub.args) >= 2
                ):
                    call = sub
                    break
            if call is None:
                continue
            method = call.args[0].value
            path = format_path(call.args[1])
            if path is None or not path.startswith("/v1/"):
                continue
            params = None
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.arg == "params" and arg.annotation is not None:
                    names = [
                        expr(a).id
                        for a in alternatives(arg.annotation)
                        if isinstance(expr(a), ast.Name)
                    ]
                    params = (imported[names[0]], names[0]) if names else None
            ret = ast.unparse(expr(node.returns)) if node.returns is not None else None
            key = route_key(method, path)
            module = ".".join(("stripe",) + f.relative_to(root).with_suffix("").parts)
            routes.setdefault(key, (params, ret, path, module))
    return routes


class ResourceClass:
    """A class of the SDK's resource modules: its fields and inner classes."""

    def __init__(self, node, module, parent=None):
        self.name = node.name
        self.module = module
        self.parent = parent
        self.object_name = None
        self.fields = {}
        self.inner = {}
        for stmt in node.body:
            if isinstance(stmt, ast.ClassDef):
                self.inner[stmt.name] = ResourceClass(stmt, module, self)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if stmt.target.id == "OBJECT_NAME":
                    if isinstance(stmt.value, ast.Constant):
                        self.object_name = stmt.value.value
                    continue
                name, _ = subscript(stmt.annotation)
                if name == "ClassVar":
                    continue
                self.fields[stmt.target.id] = stmt.annotation
            elif isinstance(stmt, ast.Assign):
                for t in stmt.targets:
                    if (
                        isinstance(t, ast.Name)
                        and t.id == "OBJECT_NAME"
                        and isinstance(stmt.value, ast.Constant)
                    ):
                        self.object_name = stmt.value.value

    def resolve(self, name):
        c = self
        while c is not None:
            if name in c.inner:
                return c.inner[name]
            c = c.parent
        return None


class Resources:
    """The SDK's v1 resource classes, and what each module's names refer to
    (`from stripe._card import Card as CardResource`)."""

    def __init__(self, root):
        self.classes = {}  # (module, class name) → ResourceClass
        self.imports = {}  # module → {local name: (module, class name)}
        self.by_object = {}
        for f in sorted(root.rglob("_*.py")):
            parts = f.relative_to(root).parts
            if "v2" in parts or "params" in parts:
                continue
            module = ".".join(("stripe",) + f.relative_to(root).with_suffix("").parts)
            tree = ast.parse(f.read_text())
            names = self.imports.setdefault(module, {})
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    for alias in node.names:
                        names[alias.asname or alias.name] = (node.module, alias.name)
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    c = ResourceClass(node, module)
                    self.classes[(module, node.name)] = c
                    names[node.name] = (module, node.name)
        # Top-level modules first: they win a clash of OBJECT_NAMEs.
        for (module, _), c in sorted(self.classes.items(), key=lambda kv: (kv[0][0].count("."), kv[0])):
            if c.object_name is not None:
                self.by_object.setdefault(c.object_name, c)

    def object_name(self, module, name):
        """The OBJECT_NAME a name of `module` refers to, or None."""
        target = self.imports.get(module, {}).get(name)
        c = self.classes.get(target) if target else None
        return c.object_name if c else None


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def sdk_expandable(cls, resources, prefix="", depth=0, seen=()):
    """Dotted expandable paths of a resource class → sorted target object types
    (None for a target the SDK types as one of its own inner classes)."""
    out = {}
    if depth > 3 or cls.name in seen:
        return out
    for field, ann in sorted(cls.fields.items()):
        for alt in alternatives(ann):
            alt = expr(alt)
            name, args = subscript(alt)
            if name == "ExpandableField":
                targets = []
                for t in alternatives(args[0]):
                    t = expr(t)
                    tn = t.value if isinstance(t, ast.Constant) else getattr(t, "id", None)
                    if tn is None:
                        raise GenError(f"{cls.name}.{field}: odd ExpandableField")
                    targets.append(resources.object_name(cls.module, tn))
                out[prefix + field] = targets
            elif isinstance(alt, ast.Name):
                inner = cls.resolve(alt.id)
                if inner is not None:
                    out.update(
                        sdk_expandable(inner, resources, f"{prefix}{field}.", depth + 1, seen + (cls.name,))
                    )
    return out


def returned(ann, module, resources):
    """A service's return annotation → (object type, list item type or None)."""
    if ann is None:
        return None, None
    node = expr(ast.parse(ann, mode="eval").body)
    name, args = subscript(node)
    if name in ("ListObject", "SearchResultObject"):
        item = expr(args[0])
        return ("list" if name == "ListObject" else "search_result"), resources.object_name(module, item.id)
    if isinstance(node, ast.Name):
        return resources.object_name(module, node.id), None
    return None, None


# --------------------------------------------------------------------------------------
# The 2020 document
# --------------------------------------------------------------------------------------


class Spec:
    def __init__(self, path):
        self.doc = json.loads(pathlib.Path(path).read_text())
        self.version = self.doc["info"]["version"]
        self.ops = {}
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self.ops[op["operationId"]] = (method.upper(), path, op)

    def deref(self, s):
        while isinstance(s, dict) and "$ref" in s:
            s = self.doc["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
        return s

    def params(self, op_id):
        """The operation's parameters as one object schema (query or form body)."""
        method, _, op = self.ops[op_id]
        if method == "POST":
            body = op.get("requestBody", {}).get("content", {})
            form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
            return self.deref(form)
        props, required = {}, []
        for p in op.get("parameters", []):
            if p.get("in") != "query":
                continue
            props[p["name"]] = p.get("schema", {})
            if p.get("required"):
                required.append(p["name"])
        return {"type": "object", "properties": props, "required": required}

    def returns(self, op_id):
        _, _, op = self.ops[op_id]
        schema = (
            op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema")
        )
        if schema is None:
            return None, None
        if "$ref" in schema:
            return schema["$ref"].rsplit("/", 1)[1], None
        if "anyOf" in schema:
            # `customer` or `deleted_customer`: a retrieve names the live object.
            refs = [a["$ref"].rsplit("/", 1)[1] for a in schema["anyOf"] if "$ref" in a]
            live = [r for r in refs if not r.startswith("deleted_")]
            return (live or refs or [None])[0], None
        obj = schema.get("properties", {}).get("object", {}).get("enum", [None])[0]
        items = schema.get("properties", {}).get("data", {}).get("items", {})
        item = items.get("$ref", "").rsplit("/", 1)[-1] or None
        return obj, item

    def object(self, name):
        return self.doc["components"]["schemas"].get(name)

    def expandable(self, name, prefix="", depth=0, seen=()):
        """Dotted expandable paths of a component → sorted target types. The document's
        `x-expandableFields` also lists the hashes that lead to expandable fields
        (`invoice_settings` for `invoice_settings.default_payment_method`); the fields
        themselves carry `x-expansionResources`. Neither lists inside objects nor other
        resources embedded whole are followed (the SDK's types do not nest them either)."""
        out = {}
        schema = self.object(name)
        if schema is None or depth > 3 or name in seen:
            return out
        props = schema.get("properties", {})
        for field in schema.get("x-expandableFields", []):
            p = props.get(field, {})
            res = p.get("x-expansionResources", {}).get("oneOf", [])
            if res:
                out[prefix + field] = sorted(r["$ref"].rsplit("/", 1)[1] for r in res)
                continue
            refs = [a["$ref"] for a in p.get("anyOf", [p]) if "$ref" in a]
            if len(refs) == 1:
                sub = refs[0].rsplit("/", 1)[1]
                if "x-resourceId" in (self.object(sub) or {}):
                    continue  # another resource, embedded whole (a discount, an error's PaymentMethod)
                out.update(self.expandable(sub, f"{prefix}{field}.", depth + 1, seen + (name,)))
        return out


def kind(s):
    if not isinstance(s, dict):
        return None
    if "type" in s:
        if s["type"] == "string" and s.get("enum") == [""]:
            return "empty"
        return s["type"]
    return None


def spec_alternative(spec_schema, k, spec):
    """The alternative of a 2020 schema (maybe an anyOf) of kind `k`."""
    spec_schema = spec.deref(spec_schema)
    if not isinstance(spec_schema, dict):
        return None
    alts = spec_schema.get("anyOf", [spec_schema])
    for a in alts:
        a = spec.deref(a)
        if kind(a) == k:
            return a
    return None


def merge_limits(schema, spec_schema, spec):
    """Copies the 2020 document's maxLength onto the pinned schema where the same
    parameter exists there (in place)."""
    if spec_schema is None:
        return
    if "anyOf" in schema:
        for alt in schema["anyOf"]:
            merge_limits(alt, spec_schema, spec)
        return
    k = kind(schema)
    if k in (None, "empty"):
        return
    theirs = spec_alternative(spec_schema, k, spec)
    if theirs is None:
        return
    if k == "string" and "maxLength" in theirs:
        schema["maxLength"] = theirs["maxLength"]
    elif k == "array":
        merge_limits(schema["items"], theirs.get("items"), spec)
    elif k == "object":
        for name, sub in schema.get("properties", {}).items():
            merge_limits(sub, theirs.get("properties", {}).get(name), spec)
        ap = schema.get("additionalProperties")
        if isinstance(ap, dict) and ap:
            theirs_ap = theirs.get("additionalProperties")
            if isinstance(theirs_ap, dict):
                merge_limits(ap, theirs_ap, spec)


# --------------------------------------------------------------------------------------
# Response shapes (shapes.json): stripe-python's classes, stripe-node's declarations
# --------------------------------------------------------------------------------------

TS_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
TS_HEAD = re.compile(
    r"(?:export\s+)?(?:declare\s+)?(?:(namespace)\s+([\w.]+)"
    r"|interface\s+(\w+)(?:\s*<[^{]*?>)?(?:\s+extends\s+[^{]+?)?)\s*\{"
)
TS_MEMBER = re.compile(r"\s*(?:readonly\s+)?(\w+|'[^']*'|\"[^\"]*\"|\[[^\]]*\])(\?)?\s*([:(<])")
TS_SEMICOLON = re.compile(r"\s*;")
TS_BUILTINS = {"string", "number", "boolean", "null", "void", "true", "false", "any", "unknown",
               "Array", "ApiList", "ApiSearchResult", "Record", "Decimal"}


def ts_skip(text, i, stop):
    """The index of the first `stop` character at bracket depth 0 from i (or of the
    bracket that closes the enclosing block)."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "=" and text[i + 1 : i + 2] == ">":
            i += 2
            continue
        if c in "{(<[":
            depth += 1
        elif c in "})>]":
            if depth == 0:
                return i
            depth -= 1
        elif c in stop and depth == 0:
            return i
        i += 1
    return i


def ts_statement_end(text, i):
    """Past a statement that is not a namespace or an interface (an import, a class, a type
    alias): its `;` at depth 0, or the `}` that closes its own block."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c in "{(":
            depth += 1
        elif c in "})":
            if depth == 0:
                return i  # the enclosing namespace's end
            depth -= 1
            if depth == 0 and c == "}" and not TS_SEMICOLON.match(text, i + 1):
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return i


def ts_alternatives(t):
    """A TypeScript union's members, split at depth 0."""
    out, depth, cur = [], 0, ""
    for c in t:
        if c in "{(<[":
            depth += 1
        elif c in "})>]":
            depth -= 1
        if c == "|" and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += c
    out.append(cur.strip())
    return [a for a in out if a]


class NodeTypes:
    """stripe-node's declarations (`cjs/resources/*.d.ts`, same pinned version) of each
    object's fields: `name: T` is always returned, `name?: T` may be absent, `| null`
    may be null. stripe-python's `Optional[...]` says only "absent or null", so the
    shapes take these two facts from here. Interfaces by qualified name
    (`Customer.InvoiceSettings.CustomField`) → {field: (optional, type text)}."""

    def __init__(self, root):
        self.interfaces = {}
        files = [root / "shared.d.ts"] + sorted((root / "resources").rglob("*.d.ts"))
        for f in files:
            parts = f.relative_to(root).parts
            if "V2" not in parts:
                # `resources/Checkout/Sessions.d.ts` declares `Checkout.Session`
                # (its folder is its namespace: `BillingPortal` has a `Session` too).
                ns = list(parts[1:-1]) if parts[0] == "resources" else []
                self._parse(TS_COMMENT.sub("", f.read_text()), ns)

    def _parse(self, text, ns):
        i, stack = 0, list(ns)
        while i < len(text):
            while i < len(text) and text[i] in " \t\r\n;":
                i += 1
            if i >= len(text):
                break
            if text[i] == "}":
                if stack:
                    stack.pop()
                i += 1
                continue
            m = TS_HEAD.match(text, i)
            if m and m.group(1):
                stack.append(m.group(2))
                i = m.end()
            elif m:
                fields, i = self._body(text, m.end())
                self.interfaces.setdefault(".".join(stack + [m.group(3)]), fields)
            else:
                i = ts_statement_end(text, i)

    def _body(self, text, i):
        fields = {}
        while True:
            while i < len(text) and text[i] in " \t\r\n;,":
                i += 1
            if i >= len(text) or text[i] == "}":
                return fields, i + 1
            m = TS_MEMBER.match(text, i)
            if not m:
                raise GenError(f"stripe-node types: cannot read {text[i:i + 60]!r}")
            end = ts_skip(text, m.end(), ";}")
            name = m.group(1).strip("'\"")
            if m.group(3) == ":" and not name.startswith("["):
                fields[name] = (m.group(2) == "?", text[m.end() : end].strip())
            i = end

    def lookup(self, scope, ref):
        """What `ref` names inside the namespace `scope`, TypeScript's way (innermost first)."""
        parts = scope.split(".") if scope else []
        for k in range(len(parts), -1, -1):
            name = ".".join(parts[:k] + [ref])
            if name in self.interfaces:
                return name
        return None

    def field_target(self, interface, type_text):
        """The interface a field's type names (`Array<InvoiceSettings.CustomField> | null`)."""
        scope = interface.rsplit(".", 1)[0] if "." in interface else ""
        for ident in re.findall(r"[A-Za-z_][\w.]*", type_text):
            if ident in TS_BUILTINS:
                continue
            found = self.lookup(scope, ident)
            if found:
                return found
        return None


def optional_parts(node):
    """(True if the annotation allows None, its other members)."""
    node = expr(node)
    name, args = subscript(node)
    if name == "Optional":
        return True, alternatives(args[0])
    alts = alternatives(node)
    rest = [a for a in alts if not (isinstance(expr(a), ast.Constant) and expr(a).value is None)]
    return len(rest) != len(alts), rest


def nullable(s):
    """`s` or null; a plain typed schema as a type list, so a mismatch reads plainly."""
    if isinstance(s.get("type"), str) and set(s) <= {"type", "enum", "description"}:
        out = dict(s, type=[s["type"], "null"])
        if "enum" in out:
            out["enum"] = out["enum"] + [None]
        return out
    return {"anyOf": [s, {"type": "null"}]}


def openapi_to_json_schema(s, spec):
    """The 2020 document's simple schemas (the `deleted_…` stubs) as JSON Schema."""
    s = spec.deref(s)
    out = {}
    if "type" in s:
        out["type"] = s["type"]
    if "enum" in s:
        out["enum"] = s["enum"]
    if s.get("type") == "object":
        out["properties"] = {k: openapi_to_json_schema(v, spec) for k, v in sorted(s.get("properties", {}).items())}
        out["additionalProperties"] = False
        if s.get("required"):
            out["required"] = sorted(s["required"])
    if s.get("nullable"):
        out = nullable(out)
    return out


class Shapes:
    """The JSON Schema of every object the emulated operations answer with, in the
    pinned version: fields and types from stripe-python's resource classes
    (`Optional[str]`, `Literal[...]`, nested `StripeObject` classes, `ExpandableField`
    → the id or the object, `ListObject`, `UntypedStripeObject[str]`), which fields are
    always there and which may be null from stripe-node's declarations, and where a
    field is in neither the 2020 document's `required` and `nullable`. Resources the
    mirror does not emulate are checked only for their `object`."""

    def __init__(self, resources, spec, node, emulated):
        self.r, self.spec, self.node, self.emulated = resources, spec, node, set(emulated)
        self.defs = {}
        self.stubs = set()
        self.source = {"python": 0, "node": 0, "document": 0, "none": 0}
        self.none_fields = []
        self.conflicts = []
        self.spec_enums = []

    # -- definitions

    def ref(self, name):
        return {"$ref": f"#/$defs/{name}"}

    def resource(self, object_name):
        if object_name not in self.defs:
            if object_name in self.emulated:
                cls = self.r.by_object[object_name]
                self.defs[object_name] = None  # being built (references to itself)
                # `checkout.session` is `Checkout.Session` in stripe-node.
                scope = ".".join(
                    "".join(w.capitalize() for w in part.split("_")) for part in object_name.split(".")[:-1]
                )
                ts = self.node.lookup(scope, cls.name)
                self.defs[object_name] = self.cls_def(cls, object_name, self.spec.object(object_name), ts)
            else:
                self.stubs.add(object_name)
                self.defs[object_name] = {
                    "type": "object",
                    "description": "Not emulated by Mirra: only its `object` is checked.",
                    "properties": {"object": {"const": object_name}},
                    "required": ["object"],
                }
        return self.ref(object_name)

    def deleted(self, object_name):
        """`deleted_<object>` from the 2020 document, or None when it has none."""
        name = f"deleted_{object_name}"
        if name not in self.defs:
            s = self.spec.object(name)
            if s is None:
                return None
            self.defs[name] = openapi_to_json_schema(s, self.spec)
        return self.ref(name)

    def def_name(self, cls):
        path = []
        c = cls
        while c.parent is not None:
            path.append(c.name)
            c = c.parent
        top = c.object_name or c.name
        return ".".join([top] + list(reversed(path)))

    def inner(self, cls, spec_schema, ts):
        name = self.def_name(cls)
        if name not in self.defs:
            self.defs[name] = None
            self.defs[name] = self.cls_def(cls, name, spec_schema, ts)
        return self.ref(name)

    def cls_def(self, cls, name, spec_schema, ts):
        spec_schema = spec_schema or {}
        spec_props = spec_schema.get("properties", {})
        spec_required = set(spec_schema.get("required", []))
        ts_fields = self.node.interfaces.get(ts) if ts else None
        props, required = {}, []
        for field, ann in sorted(cls.fields.items()):
            optional, alts = optional_parts(ann)
            ts_field = (ts_fields or {}).get(field)
            sp = self.spec.deref(spec_props[field]) if field in spec_props else None
            if not optional:
                req, null = True, False
                self.source["python"] += 1
                if ts_field and ts_field[0]:
                    self.conflicts.append(f"{name}.{field}")
            elif ts_field:
                req = not ts_field[0]
                null = "null" in ts_alternatives(ts_field[1])
                self.source["node"] += 1
            elif sp is not None:
                req = field in spec_required
                null = bool(sp.get("nullable"))
                self.source["document"] += 1
            else:
                req, null = False, True
                self.source["none"] += 1
                self.none_fields.append(f"{name}.{field}")
            child_ts = self.node.field_target(ts, ts_field[1]) if ts and ts_field else None
            s = self.union(alts, cls, f"{name}.{field}", sp, child_ts)
            props[field] = nullable(s) if null else s
            if req:
                required.append(field)
        out = {"type": "object", "properties": props, "additionalProperties": False}
        if required:
            out["required"] = required
        return out

    # -- annotations

    def union(self, alts, cls, at, sp, ts):
        literals, has_str, others = [], False, []
        for a in alts:
            a = expr(a)
            name, args = subscript(a)
            if name == "Literal" and all(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in args):
                literals += [x.value for x in args if x.value not in literals]
            elif isinstance(a, ast.Name) and a.id == "str":
                has_str = True
            else:
                s = self.annotation(a, cls, at, sp, ts)
                if s not in others:
                    others.append(s)
        out = []
        if literals:
            # `Literal[...] | str`: the `str` is the SDK's room for values newer than it;
            # the pinned version's values are the literals.
            out.append({"type": "string", "enum": literals})
        elif has_str:
            out.append(self.string(at, sp))
        out += others
        return out[0] if len(out) == 1 else {"anyOf": out}

    def string(self, at, sp):
        """A plain `str`: the 2020 document's enum where it has one (the SDK is silent)."""
        if sp is not None:
            alt = spec_alternative(sp, "string", self.spec)
            if alt and alt.get("enum"):
                values = [v for v in alt["enum"] if v != ""]
                self.spec_enums.append(at)
                return {"type": "string", "enum": values}
        return {"type": "string"}

    def annotation(self, node, cls, at, sp, ts):
        node = expr(node)
        optional, alts = optional_parts(node)
        if optional or len(alts) > 1:
            s = self.union(alts, cls, at, sp, ts)
            return nullable(s) if optional else s
        if isinstance(node, ast.Name):
            n = node.id
            if n == "str":
                return self.string(at, sp)
            if n in ("int", "bool", "float"):
                return dict(SCALARS[n])
            if n == "Decimal":
                return {"type": "string", "description": "a decimal string"}
            if n == "Any":
                return {}
            if n == "UntypedStripeObject":
                return {"type": "object"}
            return self.named(n, cls, at, sp, ts)
        name, args = subscript(node)
        if name == "Literal":
            values = [a.value for a in args if isinstance(a, ast.Constant)]
            if all(isinstance(v, str) for v in values):
                return {"type": "string", "enum": values}
            if all(v is True for v in values):
                return {"const": True}
            raise GenError(f"{at}: unsupported {ast.unparse(node)}")
        if name == "List":
            arr = spec_alternative(sp, "array", self.spec) if sp else None
            items = self.spec.deref(arr.get("items", {})) if arr else None
            return {"type": "array", "items": self.annotation(args[0], cls, at + "[]", items, ts)}
        if name in ("Dict", "UntypedStripeObject"):
            value = args[-1]
            return {"type": "object", "additionalProperties": self.annotation(value, cls, at + "{}", None, None)}
        if name == "ExpandableField":
            out = [{"type": "string"}]
            for t in alternatives(args[0]):
                t = expr(t)
                tn = t.value if isinstance(t, ast.Constant) else getattr(t, "id", None)
                target = self.named(tn, cls, at, None, None)
                out.append(target)
                obj = target["$ref"].rsplit("/", 1)[1]
                deleted = self.deleted(obj) if obj in self.emulated else None
                if deleted:
                    out.append(deleted)
            return {"anyOf": out}
        if name in ("ListObject", "SearchResultObject"):
            items = []
            for t in alternatives(args[0]):
                t = expr(t)
                items.append(self.named(t.value if isinstance(t, ast.Constant) else t.id, cls, at, None, None))
            kind = "list" if name == "ListObject" else "search_result"
            return envelope(kind, items[0] if len(items) == 1 else {"anyOf": items})
        raise GenError(f"{at}: unsupported annotation {ast.unparse(node)}")

    def named(self, n, cls, at, sp, ts):
        """A class name as the annotation of `cls` uses it: one of its inner classes, or
        another module's class (a resource, or a plain StripeObject)."""
        inner = cls.resolve(n)
        if inner is not None:
            obj = spec_object(sp, self.spec)
            return self.inner(inner, obj, ts)
        target = self.r.imports.get(cls.module, {}).get(n)
        c = self.r.classes.get(target) if target else None
        if c is None:
            raise GenError(f"{at}: cannot resolve {n}")
        if c.object_name:
            return self.resource(c.object_name)
        return self.inner(c, spec_object(sp, self.spec), ts)


def spec_object(sp, spec):
    """The object schema among a 2020 field's alternatives (its nested hash)."""
    if not sp:
        return None
    for a in sp.get("anyOf", [sp]):
        a = spec.deref(a)
        if isinstance(a, dict) and a.get("properties"):
            return a
    return None


def envelope(kind, items):
    """A list (`ListObject`) or search result page of `items`."""
    props = {
        "object": {"const": kind},
        "data": {"type": "array", "items": items},
        "has_more": {"type": "boolean"},
        "url": {"type": "string"},
    }
    if kind == "search_result":
        props["next_page"] = nullable({"type": "string"})
    return {"type": "object", "properties": props, "required": sorted(props), "additionalProperties": False}


# --------------------------------------------------------------------------------------
# Differences between the two, for VERSION-DIFFERENCES.md
# --------------------------------------------------------------------------------------


def leaves(schema, spec, path="", out=None, is_spec=False):
    """Parameter paths (bracket notation) → a short type description."""
    if out is None:
        out = {}
    if is_spec:
        schema = spec.deref(schema)
    if not isinstance(schema, dict):
        return out
    alts = schema.get("anyOf", [schema])
    descr, objects = [], []
    for a in alts:
        if is_spec:
            a = spec.deref(a)
        k = kind(a)
        if k == "object" and a.get("properties"):
            objects.append(a)
            descr.append("hash")
        elif k == "object":
            descr.append("map")
        elif k == "array":
            it = spec.deref(a.get("items", {})) if is_spec else a.get("items", {})
            if kind(it) == "object" and it.get("properties"):
                objects.append(("array", it))
                descr.append("array of hashes")
            else:
                descr.append("array")
        elif k == "string" and a.get("enum"):
            descr.append("enum")
        elif k is not None and k != "empty":
            descr.append(k)
    if path:
        out[path] = (", ".join(sorted(set(descr))), enum_values(schema, spec, is_spec))
    for o in objects:
        if isinstance(o, tuple):
            for name, sub in sorted(o[1].get("properties", {}).items()):
                leaves(sub, spec, f"{path}[0][{name}]" if path else name, out, is_spec)
        else:
            for name, sub in sorted(o.get("properties", {}).items()):
                leaves(sub, spec, f"{path}[{name}]" if path else name, out, is_spec)
    return out


def enum_values(schema, spec, is_spec):
    vals = set()
    for a in schema.get("anyOf", [schema]):
        if is_spec:
            a = spec.deref(a)
        if isinstance(a, dict) and a.get("type") == "string" and a.get("enum"):
            vals.update(v for v in a["enum"] if v != "")
        if isinstance(a, dict) and a.get("type") == "array":
            it = spec.deref(a.get("items", {})) if is_spec else a.get("items", {})
            if it.get("type") == "string" and it.get("enum"):
                vals.update(v for v in it["enum"] if v != "")
    return vals


def collapse(paths):
    """Drops paths whose parent is listed too (a whole new hash is named once)."""
    keep = []
    for p in sorted(paths):
        if any(p.startswith(k + "[") for k in keep):
            continue
        keep.append(p)
    return keep


def param_differences(pinned, theirs, spec):
    a = leaves(pinned, spec)
    b = leaves(theirs, spec, is_spec=True)
    added = collapse(set(a) - set(b))
    removed = collapse(set(b) - set(a))
    changed = []
    for p in sorted(set(a) & set(b)):
        (ta, ea), (tb, eb) = a[p], b[p]
        if ta != tb and tb and ta:
            changed.append(f"`{p}`: {tb} → {ta}")
        elif ea and eb and ea != eb:
            plus, minus = sorted(ea - eb), sorted(eb - ea)
            bits = []
            if plus:
                bits.append("adds " + ", ".join(f"`{v}`" for v in plus))
            if minus:
                bits.append("drops " + ", ".join(f"`{v}`" for v in minus))
            changed.append(f"`{p}` values: " + "; ".join(bits))
    return added, removed, changed


# --------------------------------------------------------------------------------------


def read_operation_ids(path):
    ids = []
    for line in pathlib.Path(path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            if line in ids:
                raise GenError(f"{path}: {line} listed twice")
            ids.append(line)
    return ids


def operation_id(method, path):
    """Stripe's operationId convention (holds for every operation of the 2020 document)."""
    out = method.capitalize()
    for seg in path.split("/")[2:]:
        seg = seg.strip("{}")
        out += "".join(w[:1].upper() + w[1:] for w in re.split(r"[_.-]", seg) if w)
    return out


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="stripe.spec3.json (the 2020-08-27 document)")
    ap.add_argument("--operations", required=True, help="operations.txt")
    ap.add_argument("--out", required=True, help="directory for routes/operations/objects.json")
    ap.add_argument("--notes", required=True, help="where to write VERSION-DIFFERENCES.md")
    ap.add_argument("--node-types", required=True, help="stripe-node's cjs/ directory (its .d.ts declarations)")
    args = ap.parse_args()

    found = importlib.util.find_spec("stripe")
    if found is None or found.origin is None:
        raise GenError("stripe-python is not installed (run through infra/gen/stripe/run)")
    root = pathlib.Path(found.origin).parent
    version_src = (root / "_api_version.py").read_text()
    pinned = re.search(r'CURRENT = "([^"]+)"', version_src).group(1)
    sdk_version = re.search(r'VERSION = "([^"]+)"', (root / "_version.py").read_text()).group(1)

    node_root = pathlib.Path(args.node_types)
    node_pinned = re.search(r"ApiVersion = '([^']+)'", (node_root / "apiVersion.js").read_text()).group(1)
    if node_pinned != pinned:
        raise GenError(f"stripe-node pins {node_pinned}, stripe-python {pinned}: pin SDKs of one version")
    node_version = json.loads((node_root.parent / "package.json").read_text())["version"]

    spec = Spec(args.spec)
    typed = TypedDicts(root)
    services = service_routes(root)
    resources = Resources(root)

    # routes.json: the document's operations, then the pinned version's routes it lacks.
    routes, known = [], set()
    for op_id, (method, path, _) in spec.ops.items():
        if operation_id(method, path) != op_id:
            raise GenError(f"{op_id} breaks the operationId convention")
        routes.append({"id": op_id, "method": method, "path": path, "source": "spec"})
        known.add(route_key(method, path))
    sdk_only = []
    for key, (_, _, path, _) in sorted(services.items()):
        if key not in known:
            op_id = operation_id(key[0], path)
            sdk_only.append(op_id)
            routes.append({"id": op_id, "method": key[0], "path": path, "source": "sdk"})
    routes.sort(key=lambda r: (r["path"], r["method"]))

    # operations.json
    wanted = read_operation_ids(args.operations)
    operations, notes_ops, returned_types = {}, [], set()
    sdk_routes = {r["id"]: (r["method"], r["path"]) for r in routes if r["source"] == "sdk"}
    for op_id in wanted:
        # An operation the 2020 document lacks (`PostInvoicesCreatePreview`) is
        # the pinned SDK's alone: its parameters and what it returns come from there.
        in_spec = op_id in spec.ops
        if in_spec:
            method, path, _ = spec.ops[op_id]
        elif op_id in sdk_routes:
            method, path = sdk_routes[op_id]
        else:
            raise GenError(f"{op_id} (operations.txt) is an operation of neither the document nor the SDK")
        svc = services.get(route_key(method, path))
        if svc is None:
            raise GenError(f"{op_id}: the SDK has no method for {method} {path}")
        params_class, ret, _, svc_module = svc
        if params_class is None:
            schema = {"type": "object", "properties": {}, "additionalProperties": False}
        else:
            schema = typed.schema(*params_class)
            params_class = params_class[1]
        theirs = spec.params(op_id) if in_spec else None
        merge_limits(schema, theirs, spec)
        sdk_obj, sdk_items = returned(ret, svc_module, resources)
        obj, items = spec.returns(op_id) if in_spec else (sdk_obj, sdk_items)
        op = {"method": method, "path": path, "returns": obj}
        if items:
            op["items"] = items
        operations[op_id] = {**op, "params": schema}
        for t in (obj, items):
            if t:
                returned_types.add(t)
        if in_spec:
            added, removed, changed = param_differences(schema, theirs, spec)
        else:
            added, removed, changed = collapse(set(leaves(schema, spec))), [], []
        ret_note = None
        if not in_spec:
            ret_note = "not in the 2020 document: the pinned SDK's operation (parameters and answer from its types)"
        elif (sdk_obj, sdk_items) != (obj, items) and sdk_obj is not None:
            ret_note = f"returns `{sdk_obj}`{f' of `{sdk_items}`' if sdk_items else ''} in the SDK's types, `{obj}`{f' of `{items}`' if items else ''} in the document"
        notes_ops.append((op_id, method, path, params_class, added, removed, changed, ret_note))

    # objects.json
    objects, notes_objs = {}, []
    extra = {t for t in returned_types if t in CONTAINERS or t.startswith("deleted_")}
    for name in sorted(set(OBJECTS) | extra):
        if name in CONTAINERS:
            objects[name] = {"fields": CONTAINERS[name], "expandable": {}}
            continue
        if name.startswith("deleted_"):
            # What a DELETE answers: the SDK types it as the live class with `deleted`.
            deleted = spec.object(name)
            if deleted is None:
                raise GenError(f"the document has no {name}")
            objects[name] = {"fields": sorted(deleted.get("properties", {})), "expandable": {}}
            continue
        cls = resources.by_object.get(name)
        if cls is None:
            raise GenError(f"the SDK has no resource class for {name}")
        fields = sorted(cls.fields)
        mine = sdk_expandable(cls, resources)
        schema = spec.object(name) or {}
        theirs = spec.expandable(name)
        expandable = {}
        for path, targets in mine.items():
            spec_targets = theirs.get(path, [])
            resolved = set()
            for t in targets:
                if t is None:
                    # One of the SDK's inner classes (`Charge.Outcome.Rule`): the
                    # document names the type.
                    if len(spec_targets) != 1:
                        raise GenError(f"{name}.{path}: cannot name its expansion target")
                    resolved.add(spec_targets[0])
                else:
                    resolved.add(t)
            # The document also names the deleted variants (`deleted_customer`) an
            # expanded field can hold; the SDK types them as the live class.
            resolved |= {t for t in spec_targets if t.startswith("deleted_") and t[8:] in resolved}
            mine[path] = sorted(resolved)
            expandable[path] = sorted(resolved)
        objects[name] = {"fields": fields, "expandable": expandable}
        spec_fields = set(schema.get("properties", {}))
        notes_objs.append(
            (
                name,
                sorted(set(fields) - spec_fields),
                sorted(spec_fields - set(fields)),
                sorted(set(mine) - set(theirs)),
                sorted(set(theirs) - set(mine)),
                sorted(
                    f"`{p}`: {', '.join(theirs[p])} → {', '.join(mine[p])}"
                    for p in set(mine) & set(theirs)
                    if not set(mine[p]) <= set(theirs[p])
                ),
            )
        )
    missing = returned_types - set(objects)
    if missing:
        raise GenError(f"returned object types without an entry: {sorted(missing)}")

    # shapes.json
    emulated = {t for t in returned_types if t not in CONTAINERS and not t.startswith("deleted_")}
    shapes = Shapes(resources, spec, NodeTypes(node_root), emulated | set(OBJECTS))
    responses = {}
    for op_id, op in operations.items():
        responses[op_id] = response_shape(shapes, spec, op_id, op)
    error_cls = resources.classes.get(("stripe._error_object", "ErrorObject"))
    if error_cls is None:
        raise GenError("the SDK has no ErrorObject class")
    shapes.defs["error"] = {
        "type": "object",
        "properties": {"error": shapes.inner(error_cls, spec.object("api_errors"), None)},
        "required": ["error"],
        "additionalProperties": False,
    }
    for name in sorted(emulated | set(OBJECTS)):
        shapes.resource(name)

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "routes.json").write_text(dump({"routes": routes}))
    (out / "operations.json").write_text(
        dump({"api_version": pinned, "operations": operations})
    )
    (out / "objects.json").write_text(dump({"api_version": pinned, "objects": objects}))
    (out / "shapes.json").write_text(
        dump(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "description": SHAPES_DESCRIPTION,
                "api_version": pinned,
                "operations": responses,
                "$defs": shapes.defs,
            }
        )
    )
    pathlib.Path(args.notes).write_text(
        notes(spec.version, pinned, sdk_version, len(spec.ops), sdk_only, notes_ops, notes_objs)
        + shape_notes(shapes, node_version)
    )
    sizes = {op_id: len(json.dumps(o["params"])) for op_id, o in operations.items()}
    print(
        f"{len(routes)} routes ({len(spec.ops)} from the document, {len(sdk_only)} from the SDK only), "
        f"{len(operations)} operations (parameter schemas {sum(sizes.values())} bytes, largest "
        f"{max(sizes, key=sizes.get)} {max(sizes.values())}), {len(objects)} objects, "
        f"{len(shapes.defs)} shape definitions",
        file=sys.stderr,
    )


SHAPES_DESCRIPTION = (
    "Generated by infra/gen/stripe/run (do not edit). The pinned version's response shapes, "
    "for tests: operations.<operationId> is the schema of a 200 answer, $defs.error Stripe's "
    "error body, $defs.<object> each object type. See VERSION-DIFFERENCES.md, 'Response shapes'."
)


def response_shape(shapes, spec, op_id, op):
    """The schema of an operation's 200 answer."""
    returns, items = op["returns"], op.get("items")
    if returns in CONTAINERS:
        return envelope(returns, shapes.resource(items))
    if returns.startswith("deleted_"):
        shapes.resource(returns[len("deleted_"):])
        deleted = shapes.deleted(returns[len("deleted_"):])
        if deleted is None:
            raise GenError(f"{op_id}: the document has no {returns}")
        return deleted
    live = shapes.resource(returns)
    if op_id not in spec.ops:
        return live
    _, _, o = spec.ops[op_id]
    schema = o.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
    refs = [a.get("$ref", "").rsplit("/", 1)[-1] for a in schema.get("anyOf", [])]
    if f"deleted_{returns}" in refs:
        # A retrieve of a deleted object answers its stub.
        return {"anyOf": [live, shapes.deleted(returns)]}
    return live


def shape_notes(shapes, node_version):
    s = shapes.source
    lines = [
        "",
        "## Response shapes",
        "",
        "`shapes.json` (beside the tables; read by tests only, never compiled into the mirror) is a",
        "JSON Schema of every object the emulated operations answer with, per operation and per",
        "object type, and of Stripe's error body. Objects take no field the pinned version lacks",
        "(`additionalProperties: false`).",
        "",
        "* field names and types: stripe-python's resource classes (`Literal[...] | str` is the",
        "  literals; `ExpandableField[X]` is the id or the object, or its `deleted_…` stub where the",
        "  document has one; nested classes are their own definitions);",
        "* which fields are always there and which may be `null`: stripe-python's `Optional[...]`",
        "  says only \"absent or null\", so for those fields stripe-node "
        f"{node_version}'s declarations of the",
        "  same version decide (`name: T` always there, `name?: T` may be absent, `| null` may be",
        "  null); where stripe-node has no declaration, the 2020 document's `required` and",
        "  `nullable`; where neither has the field, it may be absent or null;",
        "* enums: where the SDK types a field as a plain `str`, the 2020 document's enum if it had",
        "  one;",
        "* deleted stubs (`deleted_customer`, …): the 2020 document (the SDK types them as the",
        "  live class);",
        "* resources Mirra does not emulate, where an emulated object embeds or expands them: only",
        "  their `object` is checked.",
        "",
        f"Fields: {s['python']} always there by stripe-python's own type, {s['node']} decided by stripe-node, "
        f"{s['document']} by the 2020 document, {s['none']} by neither (may be absent or null).",
        "",
    ]
    if shapes.conflicts:
        lines.append(
            f"* never `Optional` in stripe-python but optional in stripe-node ({len(shapes.conflicts)}; "
            f"required here): {code_list(sorted(shapes.conflicts))}"
        )
    if shapes.spec_enums:
        lines.append(
            f"* enums from the 2020 document ({len(shapes.spec_enums)}): {code_list(sorted(shapes.spec_enums))}"
        )
    if shapes.none_fields:
        lines.append(
            f"* in neither stripe-node nor the document ({len(shapes.none_fields)}): "
            f"{code_list(sorted(shapes.none_fields))}"
        )
    lines.append(f"* not emulated, `object` checked only ({len(shapes.stubs)}): {code_list(sorted(shapes.stubs))}")
    return "\n".join(lines) + "\n"


def code_list(items, limit=None):
    items = [f"`{i}`" for i in items]
    if limit is not None and len(items) > limit:
        return ", ".join(items[:limit]) + f", … ({len(items) - limit} more)"
    return ", ".join(items)


def notes(doc_version, pinned, sdk_version, n_ops, sdk_only, ops, objs):
    lines = [
        "# Stripe: the 2020 document vs the version the SDKs pin",
        "",
        "Generated by `infra/gen/stripe/run` (do not edit; CI diffs a fresh run against it).",
        "",
        f"* **Document**: `stripe.spec3.json`, API version {doc_version} ({n_ops} operations).",
        f"* **Pinned**: `{pinned}`, read from stripe-python {sdk_version}'s types "
        "(`stripe.params` TypedDicts, resource class annotations, service routes).",
        "",
        "Mirra emulates the pinned version. What it takes from where:",
        "",
        "* parameter names, nesting, types, enums and required flags: the pinned version;",
        "* `maxLength`: the document, where the same parameter exists there (the SDK's types",
        "  carry no lengths); a parameter new in the pinned version has none;",
        "* object fields and expandable fields: the pinned version, with the document's target",
        "  types added (it also names the `deleted_…` variants an expanded field may hold);",
        "* routes and operationIds: the document, plus the pinned version's routes it lacks",
        "  (operationIds built by the document's own convention).",
        "",
        "Enums: where the SDK types a parameter as `Literal[...] | str`, the `str` is its escape for",
        "values newer than the SDK; Mirra accepts the literals only. `Literal['']` is Stripe's",
        "\"unset\" (`anyOf` with `{\"enum\": [\"\"]}` in the tables).",
        "",
        f"## Routes in the pinned version only ({len(sdk_only)})",
        "",
        code_list(sdk_only) if sdk_only else "None.",
        "",
        "## Parameters, per operation",
        "",
        "Bracket paths (`[0]` stands for any array element). A hash new or gone as a whole is",
        "named once.",
        "",
    ]
    for op_id, method, path, params_class, added, removed, changed, ret_note in ops:
        lines.append(f"### {op_id} — `{method} {path}` (`{params_class}`)")
        lines.append("")
        if not (added or removed or changed or ret_note):
            lines.append("No differences.")
        if added:
            lines.append(f"* added ({len(added)}): {code_list(added)}")
        if removed:
            lines.append(f"* removed ({len(removed)}): {code_list(removed)}")
        for c in changed:
            lines.append(f"* changed: {c}")
        if ret_note:
            lines.append(f"* {ret_note}")
        lines.append("")
    lines += ["## Objects", ""]
    for name, f_add, f_rm, e_add, e_rm, e_chg in objs:
        lines.append(f"### {name}")
        lines.append("")
        if not (f_add or f_rm or e_add or e_rm or e_chg):
            lines.append("No differences.")
        if f_add:
            lines.append(f"* fields added ({len(f_add)}): {code_list(f_add)}")
        if f_rm:
            lines.append(f"* fields removed ({len(f_rm)}): {code_list(f_rm)}")
        if e_add:
            lines.append(f"* expandable in the pinned version only: {code_list(e_add)}")
        if e_rm:
            lines.append(f"* expandable in the document only (not expandable now): {code_list(e_rm)}")
        for c in e_chg:
            lines.append(f"* expansion targets changed: {c}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    try:
        main()
    except GenError as e:
        print(f"gen.py: {e}", file=sys.stderr)
        sys.exit(1)
