#!/usr/bin/python3
"""Generates build/gen/openapi_data.c: the OpenAPI v3 component schemas of
every built-in Kubernetes type, zlib-compressed, for src/api/openapi.c.

k1s commits no schema document. The schemas are derived at build time from
Debian's python3-kubernetes package: every model class there carries its
fields (`openapi_types`), their JSON names (`attribute_map`), their
descriptions (property docstrings) and which fields are required (setters
that raise ValueError on None). What the Python models cannot say -- Go
integer widths, int-or-string and quantity fields, strategic-merge-patch
metadata, type descriptions of the top-level kinds, fields newer than the
package -- comes from the hand-written overlay tools/openapi-extra.json.

Usage: gen-openapi.py OUTPUT.c [--json SCHEMAS.json]

The output defines (see src/api/openapi.h):
  k1s_openapi_blob[], k1s_openapi_blob_len, k1s_openapi_text_len
      zlib stream of one JSON object {"<name>": <schema>, ...}, names sorted
  k1s_openapi_count, k1s_openapi_names[], k1s_openapi_spans[]
      the schema names and, for each, the [offset, length) of its value in
      the inflated text, so one schema can be parsed without the others
  k1s_openapi_ref_start[], k1s_openapi_refs[]
      for schema i, the indices of the schemas it references directly are
      k1s_openapi_refs[ref_start[i] .. ref_start[i+1])
  k1s_openapi_digest
      hex sha256 of the inflated text (used in document hashes)
"""

import hashlib
import inspect
import json
import os
import re
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REF_PREFIX = "#/components/schemas/"


def die(msg):
    sys.stderr.write("gen-openapi: error: %s\n" % msg)
    sys.exit(1)


def warn(msg):
    sys.stderr.write("gen-openapi: warning: %s\n" % msg)


if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
    die("usage: gen-openapi.py OUTPUT.c [--json SCHEMAS.json]")

try:
    import kubernetes.client.models as models
except ImportError as e:
    die("cannot import kubernetes.client.models (%s).\n"
        "  The OpenAPI schemas are generated from Debian's python3-kubernetes package;\n"
        "  install it with: apt-get install python3-kubernetes" % e)


def load_overlay():
    overlay = {}
    for fn in sorted(os.listdir(HERE)):
        if fn.startswith("openapi-") and fn.endswith(".json"):
            path = os.path.join(HERE, fn)
            try:
                with open(path, encoding="utf-8") as f:
                    data = json.load(f)
            except (OSError, ValueError) as e:
                die("%s: %s" % (path, e))
            for k, v in data.items():
                if k.startswith("//"):
                    continue
                if isinstance(v, dict):
                    overlay.setdefault(k, {}).update(v)
                elif isinstance(v, list):
                    overlay.setdefault(k, []).extend(v)
                else:
                    overlay[k] = v
    return overlay


OVERLAY = load_overlay()


# --- the Python model classes -------------------------------------------

CLASSES = {n: c for n, c in inspect.getmembers(models, inspect.isclass)
           if hasattr(c, "openapi_types") and hasattr(c, "attribute_map")}
if "V1ObjectMeta" not in CLASSES:
    die("kubernetes.client.models has no V1ObjectMeta: unexpected python3-kubernetes layout")

NOQA = re.compile(r"\s*# noqa: E501\s*$")


def field_description(cls, attr):
    """The description the generator put in the property getter's docstring."""
    prop = getattr(cls, attr, None)
    doc = getattr(getattr(prop, "fget", None), "__doc__", None) or ""
    lines = [NOQA.sub("", l.strip()) for l in doc.split("\n")]
    # line 0 is "Gets the x of this Y."; the description runs from the first
    # blank line to the ":return:" line.
    try:
        start = lines.index("") + 1
    except ValueError:
        return ""
    out = []
    for l in lines[start:]:
        if l.startswith(":return:") or l.startswith(":rtype:"):
            break
        out.append(l)
    return "\n".join(out).strip()


def field_required(cls, attr):
    prop = getattr(cls, attr, None)
    fset = getattr(prop, "fset", None)
    if fset is None:
        return False
    try:
        src = inspect.getsource(fset)
    except (OSError, TypeError):
        return False
    return re.search(r"client_side_validation and %s is None:\s*(# noqa: E501)?\s*\n\s*raise ValueError"
                     % re.escape(attr), src) is not None


def referenced_classes(typestr):
    return [t for t in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", typestr) if t in CLASSES]


# --- which package each class belongs to -----------------------------------

SOURCES = OVERLAY.get("sources")
if not SOURCES:
    die("tools/openapi-extra.json has no \"sources\" table")
for s in SOURCES:
    s["camel"] = "".join(p.capitalize() for p in s["module"].split("_"))

PKG_GV = {s["package"]: (s["group"], s["version"]) for s in SOURCES}
META_PKG = OVERLAY["metaPackage"]
PKG_GV[META_PKG] = ("", "v1")

API_DIR = os.path.join(os.path.dirname(os.path.dirname(models.__file__)), "api")

NAME = {}     # python class -> upstream schema name
for cls_name in OVERLAY.get("meta", []):
    NAME[cls_name] = META_PKG + "." + re.sub(r"^V1", "", cls_name)
for cls_name, full in OVERLAY.get("names", {}).items():
    NAME[cls_name] = full


def short_name(cls_name, source):
    for p in (source["camel"], source["prefix"]):
        if cls_name.startswith(p) and len(cls_name) > len(p) and cls_name[len(p)].isupper():
            return cls_name[len(p):]
    return None


def own_source(cls_name):
    """Classes named with a module prefix (CoreV1Event) carry their package."""
    for s in SOURCES:
        if cls_name.startswith(s["camel"]) and short_name(cls_name, s):
            return s
    return None


def assign(cls_name, package, prefix_source):
    """Names cls_name and, depth first, every unnamed class it references.
    A referenced class belongs to the package of the class that references it
    unless its own name says otherwise (see "names" in the overlay)."""
    if cls_name in NAME:
        return
    src = own_source(cls_name)
    if src:
        package, prefix_source = src["package"], src
    short = short_name(cls_name, prefix_source)
    if short is None:
        return  # another API version (v1beta1 ...): not served
    NAME[cls_name] = package + "." + short
    for t in CLASSES[cls_name].openapi_types.values():
        for child in referenced_classes(t):
            if child not in NAME:
                parent_pkg = NAME[cls_name].rsplit(".", 1)[0]
                assign(child, parent_pkg, prefix_source)


for s in SOURCES:
    path = os.path.join(API_DIR, s["module"] + "_api.py")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die("cannot read %s: %s" % (path, e))
    seeds = sorted(set(re.findall(r"response_type='([A-Za-z0-9_]+)'", text)))
    for seed in seeds:
        if seed in CLASSES:
            assign(seed, s["package"], s)

# Classes the overlay names explicitly are walked too, so their children get named.
for cls_name, full in list(OVERLAY.get("names", {}).items()) + \
        [(c, NAME[c]) for c in OVERLAY.get("meta", [])]:
    pkg = full.rsplit(".", 1)[0]
    src = next((s for s in SOURCES if s["package"] == pkg), None)
    if src is None:
        m = re.match(r"V\d+(?:(?:alpha|beta)\d+)?", cls_name)
        src = {"camel": "", "prefix": m.group(0) if m else ""}
    for t in CLASSES[cls_name].openapi_types.values():
        for child in referenced_classes(t):
            assign(child, pkg, src)

# --- building the schemas ---------------------------------------------------

TYPES = {}   # "Schema.field" -> leaf override ("int64", "Quantity", ...)
for kind, fields in OVERLAY.get("types", {}).items():
    for f in fields:
        TYPES[f] = kind
LEAF_REFS = OVERLAY["leafRefs"]     # "Quantity" -> full schema name
LEAF_TYPES = OVERLAY["leafTypes"]   # "int64" -> {"type": "integer", "format": "int64"}
FIELD_EXT = OVERLAY.get("fields", {})
EXT_KEYS = {"patch": "x-kubernetes-patch-strategy", "key": "x-kubernetes-patch-merge-key",
            "list": "x-kubernetes-list-type", "mapKeys": "x-kubernetes-list-map-keys",
            "map": "x-kubernetes-map-type"}
used_types = set()
used_fields = set()


def ref(name):
    return {"$ref": REF_PREFIX + name}


def leaf_schema(typestr, override, where):
    if override:
        used_types.add(where)
        if override in LEAF_REFS:
            return ref(LEAF_REFS[override])
        if override in LEAF_TYPES:
            return dict(LEAF_TYPES[override])
        die("%s: unknown type override %r" % (where, override))
    if typestr == "str":
        return {"type": "string"}
    if typestr == "int":
        return {"type": "integer", "format": "int32"}
    if typestr == "float":
        return {"type": "number", "format": "double"}
    if typestr == "bool":
        return {"type": "boolean"}
    if typestr == "datetime":
        return ref(LEAF_REFS["Time"])
    if typestr == "object":
        warn("%s: field of type 'object' with no override; serving it as free-form" % where)
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    if typestr in CLASSES:
        if typestr not in NAME:
            die("%s: refers to %s, which belongs to no served package" % (where, typestr))
        return ref(NAME[typestr])
    die("%s: cannot map python type %r" % (where, typestr))


def type_schema(typestr, override, where):
    m = re.match(r"^list\[(.*)\]$", typestr)
    if m:
        return {"type": "array", "items": type_schema(m.group(1), override, where)}
    m = re.match(r"^dict\(str, (.*)\)$", typestr)
    if m:
        return {"type": "object", "additionalProperties": type_schema(m.group(1), override, where)}
    return leaf_schema(typestr, override, where)


def with_description(schema, desc):
    if not desc:
        return schema
    if "$ref" in schema:
        # OpenAPI v3 ignores siblings of $ref; Kubernetes wraps the reference.
        return {"allOf": [schema], "description": desc}
    out = dict(schema)
    out["description"] = desc
    return out


FIELD_DESC = OVERLAY.get("fieldDescriptions", {})
DEFAULT_DESC = OVERLAY.get("defaultDescriptions", {})
used_desc = set()


def default_description(name, jname, prop):
    """The models drop the description of every field whose type is another
    model (swagger 2 ignores siblings of $ref); the overlay supplies them."""
    desc = FIELD_DESC.get(name, {}).get(jname)
    if desc:
        used_desc.add((name, jname))
        return desc
    short = name.rsplit(".", 1)[1]
    target = prop.get("$ref", "").rsplit(".", 1)[-1]
    if jname == "metadata":
        return DEFAULT_DESC.get("listMetadata" if target == "ListMeta" else "metadata")
    if jname in ("spec", "status") and jname in DEFAULT_DESC:
        return DEFAULT_DESC[jname].format(kind=short)
    return None


def class_schema(cls_name):
    cls = CLASSES[cls_name]
    name = NAME[cls_name]
    props, required = {}, []
    for attr, typestr in cls.openapi_types.items():
        jname = cls.attribute_map[attr]
        key = "%s.%s" % (name, jname)
        if key in OVERLAY.get("remove", []):
            used_fields.add(key)
            continue
        p = type_schema(typestr, TYPES.get(key), key)
        p = with_description(p, field_description(cls, attr) or default_description(name, jname, p))
        ext = FIELD_EXT.get(name, {}).get(jname)
        if ext:
            used_fields.add(key)
            for k, v in ext.items():
                if k not in EXT_KEYS:
                    die("%s: unknown field attribute %r" % (key, k))
                p[EXT_KEYS[k]] = v
        props[jname] = p
        if field_required(cls, attr):
            required.append(jname)
    schema = {"type": "object"}
    desc = OVERLAY.get("descriptions", {}).get(name)
    if desc:
        schema["description"] = desc
    schema["properties"] = props
    if required:
        schema["required"] = sorted(required)
    return schema


SCHEMAS = {}
for cls_name, name in NAME.items():
    if cls_name not in CLASSES:
        die("overlay names unknown python class %s" % cls_name)
    if name in SCHEMAS:
        die("two python classes map to %s" % name)
    SCHEMAS[name] = class_schema(cls_name)

for name, schema in OVERLAY.get("schemas", {}).items():
    if name in SCHEMAS:
        die("overlay schema %s duplicates a generated one" % name)
    SCHEMAS[name] = schema

for name, fields in OVERLAY.get("add", {}).items():
    if name not in SCHEMAS:
        die("overlay adds fields to unknown schema %s" % name)
    for jname, p in fields.items():
        if jname in SCHEMAS[name]["properties"]:
            die("overlay adds %s.%s, which the models already have" % (name, jname))
        SCHEMAS[name]["properties"][jname] = p
        for k, v in FIELD_EXT.get(name, {}).get(jname, {}).items():
            p[EXT_KEYS[k]] = v
            used_fields.add("%s.%s" % (name, jname))

# The kinds: x-kubernetes-group-version-kind on every top-level type.
for cls_name, name in NAME.items():
    attrs = set(CLASSES[cls_name].attribute_map.values())
    pkg, short = name.rsplit(".", 1)
    if {"apiVersion", "kind", "metadata"} <= attrs and pkg in PKG_GV and pkg != META_PKG:
        g, v = PKG_GV[pkg]
        SCHEMAS[name]["x-kubernetes-group-version-kind"] = [{"group": g, "kind": short, "version": v}]
for name in OVERLAY.get("metaKinds", []):
    short = name.rsplit(".", 1)[1]
    SCHEMAS[name]["x-kubernetes-group-version-kind"] = [{"group": "", "kind": short, "version": "v1"}]
for name in OVERLAY.get("everyGroupKinds", []):
    short = name.rsplit(".", 1)[1]
    gvks = {("", "v1")} | {(s["group"], s["version"]) for s in SOURCES}
    SCHEMAS[name]["x-kubernetes-group-version-kind"] = [
        {"group": g, "kind": short, "version": v} for g, v in sorted(gvks)]

# Overlay entries that matched nothing are mistakes (a typo, or a field the
# models gained or lost): say so rather than silently serving less.
for kind, fields in OVERLAY.get("types", {}).items():
    for f in fields:
        if f not in used_types:
            warn("types.%s: %s matches no field" % (kind, f))
for name, fields in FIELD_EXT.items():
    for jname in fields:
        if "%s.%s" % (name, jname) not in used_fields:
            warn("fields: %s.%s matches no field" % (name, jname))
for key in OVERLAY.get("remove", []):
    if key not in used_fields:
        warn("remove: %s matches no field" % key)
for name, fields in FIELD_DESC.items():
    for jname in fields:
        if (name, jname) not in used_desc:
            warn("fieldDescriptions: %s.%s is unused (unknown, or the models describe it)" % (name, jname))
for name in OVERLAY.get("descriptions", {}):
    if name not in SCHEMAS:
        warn("descriptions: %s is not a schema" % name)


def refs_of(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str):
            if not r.startswith(REF_PREFIX) or r[len(REF_PREFIX):] not in SCHEMAS:
                die("dangling reference %s" % r)
            out.add(r[len(REF_PREFIX):])
        for v in node.values():
            refs_of(v, out)
    elif isinstance(node, list):
        for v in node:
            refs_of(v, out)
    return out


# --- output -------------------------------------------------------------------

def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    args = sys.argv[1:]
    out_path = args[0]
    json_path = args[2] if len(args) >= 3 and args[1] == "--json" else None

    names = sorted(SCHEMAS)
    index = {n: i for i, n in enumerate(names)}
    parts, spans, pos = ["{"], [], 1
    for i, n in enumerate(names):
        head = ("," if i else "") + json.dumps(n) + ":"
        body = json.dumps(SCHEMAS[n], separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        pos += len(head.encode("utf-8"))
        spans.append((pos, len(body.encode("utf-8"))))
        pos += len(body.encode("utf-8"))
        parts.append(head)
        parts.append(body)
    parts.append("}")
    text = "".join(parts).encode("utf-8")
    json.loads(text)  # self-check
    if len(text) >= 1 << 32:
        die("schema text too large")
    blob = zlib.compress(text, 9)
    digest = hashlib.sha256(text).hexdigest()

    ref_start, refs = [], []
    for n in names:
        ref_start.append(len(refs))
        refs.extend(sorted(index[r] for r in refs_of(SCHEMAS[n], set())))
    ref_start.append(len(refs))
    if len(names) >= 1 << 16 or len(refs) >= 1 << 16:
        die("too many schemas for 16-bit indices")

    o = []
    o.append("/* Generated by tools/gen-openapi.py from python3-kubernetes %s and\n"
             " * tools/openapi-*.json. Do not edit. */\n" % getattr(
                 sys.modules.get("kubernetes"), "__version__", "?"))
    o.append('#include "api/openapi.h"\n\n')
    o.append("const size_t k1s_openapi_blob_len = %d;\n" % len(blob))
    o.append("const size_t k1s_openapi_text_len = %d;\n" % len(text))
    o.append("const size_t k1s_openapi_count = %d;\n" % len(names))
    o.append("const char k1s_openapi_digest[] = %s;\n\n" % c_string(digest))
    o.append("const unsigned char k1s_openapi_blob[] = {\n")
    for i in range(0, len(blob), 20):
        o.append("    " + ",".join(str(b) for b in blob[i:i + 20]) + ",\n")
    o.append("};\n\nconst char *const k1s_openapi_names[] = {\n")
    for n in names:
        o.append("    %s,\n" % c_string(n))
    o.append("};\n\nconst uint32_t k1s_openapi_spans[][2] = {\n")
    for off, ln in spans:
        o.append("    {%d, %d},\n" % (off, ln))
    o.append("};\n\nconst uint16_t k1s_openapi_ref_start[] = {\n")
    for i in range(0, len(ref_start), 16):
        o.append("    " + ",".join(str(x) for x in ref_start[i:i + 16]) + ",\n")
    o.append("};\n\nconst uint16_t k1s_openapi_refs[] = {\n")
    for i in range(0, len(refs), 16):
        o.append("    " + ",".join(str(x) for x in refs[i:i + 16]) + ",\n")
    if not refs:
        o.append("    0,\n")
    o.append("};\n")

    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(o))
    os.replace(tmp, out_path)
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(SCHEMAS, f, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stderr.write("gen-openapi: %d schemas, %d bytes of JSON, %d compressed\n"
                     % (len(names), len(text), len(blob)))


main()
