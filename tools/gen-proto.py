#!/usr/bin/python3
"""Generates build/gen/proto_data.c: the protobuf message schemas of the
built-in Kubernetes types, for src/api/protobuf.c (decoding request bodies
sent as application/vnd.kubernetes.protobuf).

k1s commits no schema. The schemas are read at build time out of Debian's
kubectl (package kubernetes-client, Kubernetes 1.20), a Go binary: for every
generated.proto it links, gogo-protobuf's generated code embeds the file's
FileDescriptorProto, gzipped, as a byte slice in the binary's read-only data.
This script scans the binary for gzip headers (1f 8b 08), inflates what it
can, parses each result with a minimal reader of descriptor.proto and keeps
the files whose package is k8s.io.api.* or k8s.io.apimachinery.*.

What JSON needs beyond the descriptors also comes from the binary:
  - gogoproto.nullable=false (field option 65001) marks Go non-pointer
    fields, which Go's marshaller always writes even when zero;
  - Go keeps struct tags in the binary: `json:",inline"` tags say which
    embedded structs (Volume.volumeSource, Probe.handler, ...) are flattened
    into their parent, and tags whose JSON name differs from the protobuf
    name rename the field (BoundObjectReference's aPIVersion -> apiVersion,
    Webhooks -> webhooks);
  - named slice types (Verbs, ExtraValue) are messages with one repeated
    `items` field and goproto_stringer=false; they are JSON arrays.

On top of what 1.20 has:
  - group/versions newer than 1.20 whose types have the same shape as an
    older version are cloned from it (autoscaling/v2 from v2beta2, policy/v1
    from v1beta1, batch/v1 CronJob from v1beta1, ...), see CLONES;
  - a few fields newer than 1.20 are added, see EXTRA_FIELDS (any other
    unknown field is skipped by the decoder).

Usage: gen-proto.py OUTPUT.c [--kubectl PATH] [--dump]

The kubectl binary defaults to build/deps/kubectl-1.20/usr/bin/kubectl, as
tools/deps.sh unpacks it; if it is missing it is fetched the same way
(apt-get download kubernetes-client; dpkg -x). --dump prints the schemas.

The output defines (see src/api/protobuf.h):
  k1s_pb_strings[]        NUL-separated names; the tables hold offsets into it
  k1s_pb_msgs[], k1s_pb_nmsgs
                          messages sorted by full name, each with its kind
                          (ordinary, map entry, or a type with its own JSON
                          form such as Time or IntOrString) and its fields
  k1s_pb_fields[]         fields of each message, sorted by number: JSON
                          name, number, descriptor type, flags (repeated,
                          pointer, inline) and message index
"""

import glob
import os
import re
import subprocess
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_KUBECTL = os.path.join(ROOT, "build/deps/kubectl-1.20/usr/bin/kubectl")

META = "k8s.io.apimachinery.pkg.apis.meta.v1."

# Messages that Kubernetes marshals to JSON in their own way.
SPECIAL = {
    META + "Time": "TIME",
    META + "MicroTime": "MICROTIME",
    META + "Duration": "DURATION",
    META + "FieldsV1": "RAW",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RAW",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "QUANTITY",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "INTORSTRING",
}
KINDS = ["MESSAGE", "MAP_ENTRY", "ARRAY", "TIME", "MICROTIME", "DURATION", "QUANTITY",
         "INTORSTRING", "RAW"]

# Group/versions newer than kubectl 1.20, served by k1s, whose types have the
# same protobuf shape as an older version: (from package, to package). Every
# message of `from` that `to` lacks is copied, and references to `from`
# inside the copies are redirected to `to`.
CLONES = [
    ("k8s.io.api.batch.v1beta1", "k8s.io.api.batch.v1"),  # CronJob: v1 in 1.21
    ("k8s.io.api.autoscaling.v2beta2", "k8s.io.api.autoscaling.v2"),  # 1.23
    ("k8s.io.api.policy.v1beta1", "k8s.io.api.policy.v1"),  # PDB, Eviction: 1.21/1.22
    ("k8s.io.api.discovery.v1beta1", "k8s.io.api.discovery.v1"),  # 1.21
    ("k8s.io.api.flowcontrol.v1beta1", "k8s.io.api.flowcontrol.v1beta2"),  # 1.23
    ("k8s.io.api.flowcontrol.v1beta1", "k8s.io.api.flowcontrol.v1beta3"),  # 1.26
    ("k8s.io.api.flowcontrol.v1beta1", "k8s.io.api.flowcontrol.v1"),  # 1.29
]

# Fields added after 1.20 that clients set: message -> [(number, name, type,
# flags, message type or None)]. Types use descriptor.proto's numbers.
T_DOUBLE, T_FLOAT, T_INT64, T_UINT64, T_INT32, T_FIXED64, T_FIXED32, T_BOOL = 1, 2, 3, 4, 5, 6, 7, 8
T_STRING, T_GROUP, T_MESSAGE, T_BYTES, T_UINT32, T_ENUM = 9, 10, 11, 12, 13, 14
T_SFIXED32, T_SFIXED64, T_SINT32, T_SINT64 = 15, 16, 17, 18
F_REPEATED, F_POINTER, F_INLINE = 1, 2, 4
EXTRA_FIELDS = {
    "k8s.io.api.batch.v1.CronJobSpec": [(8, "timeZone", T_STRING, F_POINTER, None)],
    "k8s.io.api.batch.v1.JobSpec": [(9, "completionMode", T_STRING, F_POINTER, None),
                                    (10, "suspend", T_BOOL, F_POINTER, None)],
    "k8s.io.api.policy.v1.PodDisruptionBudgetSpec": [
        (4, "unhealthyPodEvictionPolicy", T_STRING, F_POINTER, None)],
}
# Fields renamed in a cloned version: message -> {number: new name}.
RENAMES = {
    "k8s.io.api.discovery.v1.Endpoint": {5: "deprecatedTopology"},
}

# Must be present, or the build fails.
REQUIRED = [
    "k8s.io.api.core.v1.Pod", "k8s.io.api.core.v1.Namespace", "k8s.io.api.core.v1.ConfigMap",
    "k8s.io.api.core.v1.Secret", "k8s.io.api.core.v1.Service", "k8s.io.api.apps.v1.Deployment",
    META + "ObjectMeta", META + "DeleteOptions", META + "Time",
    "k8s.io.apimachinery.pkg.runtime.Unknown", "k8s.io.apimachinery.pkg.api.resource.Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString", "k8s.io.api.batch.v1.CronJob",
    "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler", "k8s.io.api.policy.v1.Eviction",
    "k8s.io.api.policy.v1.PodDisruptionBudget", "k8s.io.api.authentication.v1.TokenRequest",
    "k8s.io.api.autoscaling.v1.Scale",
]


def die(msg):
    sys.stderr.write("gen-proto: error: %s\n" % msg)
    sys.exit(1)


def warn(msg):
    sys.stderr.write("gen-proto: warning: %s\n" % msg)


# ---- a minimal protobuf reader, enough for descriptor.proto -------------


class PbError(Exception):
    pass


def read_varint(b, i):
    r = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise PbError("bad varint")
        c = b[i]
        i += 1
        r |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return r, i


def pb_fields(b):
    """Returns {field number: [values]}: ints for varints and fixed, bytes
    for length-delimited fields."""
    out = {}
    i = 0
    while i < len(b):
        key, i = read_varint(b, i)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise PbError("field number 0")
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            if i + 8 > len(b):
                raise PbError("truncated")
            v = int.from_bytes(b[i:i + 8], "little")
            i += 8
        elif wt == 2:
            n, i = read_varint(b, i)
            if i + n > len(b):
                raise PbError("truncated")
            v = bytes(b[i:i + n])
            i += n
        elif wt == 5:
            if i + 4 > len(b):
                raise PbError("truncated")
            v = int.from_bytes(b[i:i + 4], "little")
            i += 4
        else:
            raise PbError("wire type %d" % wt)
        out.setdefault(num, []).append(v)
    return out


def one(d, num, default=None):
    v = d.get(num)
    return v[-1] if v else default


def text(d, num, default=""):
    v = one(d, num)
    return v.decode("utf-8") if isinstance(v, bytes) else default


# gogoproto's FieldOptions extension numbers.
GOGO_NULLABLE = 65001
GOGO_CUSTOMNAME = 65004
# gogoproto's MessageOptions: goproto_stringer=false marks Go types with their
# own String() (and JSON form), such as the named slice types.
GOGO_GOPROTO_STRINGER = 64003


def parse_message(b, prefix, out):
    """Adds DescriptorProto b (and its nested types) to out: full name ->
    {"fields": [...], "map_entry": bool}."""
    d = pb_fields(b)
    name = prefix + "." + text(d, 1)
    opts = pb_fields(one(d, 7, b""))
    fields = []
    for fb in d.get(2, []):
        fd = pb_fields(fb)
        fo = pb_fields(one(fd, 8, b""))
        f = {
            "name": text(fd, 1),
            "number": one(fd, 3, 0),
            "label": one(fd, 4, 1),
            "type": one(fd, 5, 0),
            "type_name": text(fd, 6).lstrip("."),
            "json_name": text(fd, 10),
            # gogoproto.nullable defaults to true: a Go pointer (or slice).
            "nullable": one(fo, GOGO_NULLABLE, 1) != 0,
            "customname": text(fo, GOGO_CUSTOMNAME),
        }
        if not f["name"] or f["number"] <= 0 or not f["type"]:
            raise PbError("bad field in %s" % name)
        fields.append(f)
    out[name] = {"fields": fields, "map_entry": one(opts, 7, 0) != 0,
                 "stringer": one(opts, GOGO_GOPROTO_STRINGER, 1) != 0}
    for nb in d.get(3, []):
        parse_message(nb, name, out)


def parse_file(b):
    d = pb_fields(b)
    fname, pkg = text(d, 1), text(d, 2)
    if not fname.endswith(".proto") or not pkg:
        raise PbError("not a FileDescriptorProto")
    msgs = {}
    for mb in d.get(4, []):
        parse_message(mb, pkg, msgs)
    return fname, pkg, msgs


# ---- finding the descriptors --------------------------------------------


def fetch_kubectl(path):
    """Unpacks Debian's kubernetes-client as tools/deps.sh does."""
    deps = os.path.join(ROOT, "build/deps")
    want = os.path.join(deps, "kubectl-1.20/usr/bin/kubectl")
    if os.path.abspath(path) != want:
        die("%s: no such file" % path)
    sys.stderr.write("gen-proto: fetching Debian's kubernetes-client into build/deps\n")
    os.makedirs(deps, exist_ok=True)
    for old in glob.glob(os.path.join(deps, "kubernetes-client_*.deb")):
        os.unlink(old)
    try:
        r = subprocess.run(["apt-get", "download", "kubernetes-client"], cwd=deps,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], cwd=deps, check=False)
            subprocess.run(["apt-get", "download", "kubernetes-client"], cwd=deps, check=True,
                           stdout=subprocess.DEVNULL)
        debs = glob.glob(os.path.join(deps, "kubernetes-client_*.deb"))
        if not debs:
            raise OSError("apt-get download produced no .deb")
        subprocess.run(["dpkg", "-x", debs[0], os.path.join(deps, "kubectl-1.20")], check=True)
        os.unlink(debs[0])
    except (OSError, subprocess.CalledProcessError) as e:
        die("cannot fetch Debian's kubernetes-client (%s).\n"
            "  The protobuf schemas are read from its kubectl binary; run `make deps`\n"
            "  or: cd build/deps && apt-get download kubernetes-client &&\n"
            "      dpkg -x kubernetes-client_*.deb kubectl-1.20" % e)
    if not os.path.exists(want):
        die("%s: missing after unpacking kubernetes-client" % want)


def inflate_at(data, i):
    """Inflates the gzip stream at data[i:], or returns None."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = []
    size = 0
    pos = i
    try:
        while not d.eof and pos < len(data):
            chunk = data[pos:pos + 65536]
            pos += len(chunk)
            out.append(d.decompress(chunk))
            size += len(out[-1])
            if size > 16 << 20:
                return None
    except zlib.error:
        return None
    return b"".join(out) if d.eof else None


def scan(path):
    """Returns {package: {message name: message}} of the k8s.io packages
    whose descriptors are embedded in the binary at path."""
    with open(path, "rb") as f:
        data = f.read()
    pkgs = {}
    files = {}
    hits = 0
    pos = data.find(b"\x1f\x8b\x08")
    while pos >= 0:
        hits += 1
        raw = inflate_at(data, pos)
        pos = data.find(b"\x1f\x8b\x08", pos + 1)
        if raw is None:
            continue
        try:
            fname, pkg, msgs = parse_file(raw)
        except (PbError, UnicodeDecodeError):
            continue
        if not (pkg.startswith("k8s.io.api.") or pkg.startswith("k8s.io.apimachinery.")):
            continue
        if fname in files:
            continue  # the same file linked twice
        files[fname] = pkg
        for n, m in msgs.items():
            if n in pkgs.setdefault(pkg, {}) and pkgs[pkg][n] != m:
                warn("%s defined twice differently; keeping the first" % n)
                continue
            pkgs[pkg].setdefault(n, m)
    return pkgs, files, hits, len(data), inline_tags(data), json_renames(data)


# ---- building the tables ------------------------------------------------


def lower_first(s):
    return s[:1].lower() + s[1:]


INLINE_TAG = re.compile(rb'json:",inline[^"]*" protobuf:"bytes,(\d+),(?:opt|req)(?:,name=(\w+))?')
ANY_TAG_NAME = re.compile(rb'protobuf:"[a-z0-9]+,\d+,(?:opt|req|rep)[^"]*?,name=(\w+)')


JSON_TAG = re.compile(rb'json:"([^",]*)[^"]*"(?: [a-zA-Z]+:"[^"]*")* '
                      rb'protobuf:"[a-z0-9]+,(\d+),(?:opt|req|rep)[^"]*name=(\w+)')


def json_renames(data):
    """Go struct tags whose JSON name differs from the protobuf name, e.g.
    `json:"webhooks" protobuf:"bytes,2,rep,name=Webhooks"` or BoundObjectReference's
    `json:"apiVersion" protobuf:"bytes,2,opt,name=aPIVersion"`: returns
    {(number, proto name): JSON name}, leaving out inline and `json:"-"`
    fields and any pair tagged two different ways."""
    seen = {}
    for m in JSON_TAG.finditer(data):
        jname, num, pname = m.group(1).decode(), int(m.group(2)), m.group(3).decode()
        if not jname or jname == "-" or jname == pname:
            continue
        seen.setdefault((num, pname), set()).add(jname)
    return {k: v.pop() for k, v in seen.items() if len(v) == 1}


def inline_tags(data):
    """Go keeps struct tags in the binary. Returns the (number, name) pairs
    of the protobuf tags on `json:",inline"` fields, the numbers of such tags
    without a name, and every name seen in any protobuf tag."""
    named, nameless = set(), set()
    for m in INLINE_TAG.finditer(data):
        if m.group(2):
            named.add((int(m.group(1)), m.group(2).decode()))
        else:
            nameless.add(int(m.group(1)))
    all_names = {m.group(1).decode() for m in ANY_TAG_NAME.finditer(data)}
    return named, nameless, all_names


def is_inline(f, tags):
    """An embedded Go struct marked `json:",inline"`: its fields sit in the
    parent's JSON object. The descriptor says the field is an embedded
    (non-pointer, Go name = type name) struct; the binary's struct tags say
    whether it is inline or has a JSON name of its own."""
    if f["type"] != T_MESSAGE or f["label"] == 3 or f["nullable"] or not f["customname"]:
        return False
    tname = f["type_name"].rsplit(".", 1)[-1]
    if f["customname"] != tname:
        return False
    named, nameless, all_names = tags
    if (f["number"], f["name"]) in named:
        return True
    # A tag without name= (e.g. EphemeralContainer's `protobuf:"bytes,1,req"`):
    # accept a field whose name no tag uses.
    return f["number"] in nameless and f["name"] not in all_names


def is_array_wrapper(name, m):
    """go-to-protobuf turns named slice types (`type Verbs []string`) into a
    message with one repeated field `items`; in JSON they are plain arrays."""
    fs = m["fields"]
    return (not m["map_entry"] and not m.get("stringer", True) and len(fs) == 1 and
            fs[0]["name"] == "items" and fs[0]["number"] == 1 and fs[0]["label"] == 3)


def apply_clones(msgs):
    """Returns a summary of what was cloned, e.g. ["batch/v1<-v1beta1"]."""
    cloned = []
    for src, dst in CLONES:
        src_names = [n for n in msgs if n.startswith(src + ".")]
        if not src_names:
            warn("no package %s to clone into %s" % (src, dst))
            continue
        copied = 0
        for n in src_names:
            new = dst + n[len(src):]
            if new in msgs:
                continue
            m = msgs[n]
            msgs[new] = {"map_entry": m["map_entry"], "clone_of": n,
                         "stringer": m.get("stringer", True),
                         "fields": [dict(f) for f in m["fields"]]}
            copied += 1
        for n in list(msgs):
            m = msgs[n]
            if not m.get("clone_of", "").startswith(src + "."):
                continue
            for f in m["fields"]:
                tn = f["type_name"]
                if tn.startswith(src + "."):
                    redirected = dst + tn[len(src):]
                    if redirected in msgs:
                        f["type_name"] = redirected
        if copied:
            cloned.append("%s<-%s" % (dst.rsplit(".", 2)[-2] + "/" + dst.rsplit(".", 1)[-1],
                                      src.rsplit(".", 1)[-1]))
    return cloned


def apply_overlay(msgs):
    for mname, extra in EXTRA_FIELDS.items():
        m = msgs.get(mname)
        if m is None:
            die("EXTRA_FIELDS: no message %s" % mname)
        have = {f["number"] for f in m["fields"]}
        for num, name, typ, flags, tname in extra:
            if num in have:
                continue
            m["fields"].append({
                "name": name, "number": num, "label": 3 if flags & F_REPEATED else 1,
                "type": typ, "type_name": tname or "", "json_name": name,
                "nullable": bool(flags & F_POINTER), "customname": ""})
    for mname, ren in RENAMES.items():
        m = msgs.get(mname)
        if m is None:
            die("RENAMES: no message %s" % mname)
        for f in m["fields"]:
            if f["number"] in ren:
                f["name"] = ren[f["number"]]


def c_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        die("usage: gen-proto.py OUTPUT.c [--kubectl PATH] [--dump]")
    out_path = args[0]
    kubectl = DEFAULT_KUBECTL
    dump = "--dump" in args
    if "--kubectl" in args:
        kubectl = args[args.index("--kubectl") + 1]
    if not os.path.exists(kubectl):
        fetch_kubectl(kubectl)

    pkgs, files, hits, size, tags, renames = scan(kubectl)
    msgs = {}
    for p in sorted(pkgs):
        msgs.update(pkgs[p])
    if not msgs:
        die("%s: found no Kubernetes protobuf descriptors (%d gzip headers in %d bytes).\n"
            "  Is it Debian's kubectl (kubernetes-client)?" % (kubectl, hits, size))
    cloned = apply_clones(msgs)
    apply_overlay(msgs)
    missing = [n for n in REQUIRED if n not in msgs]
    if missing:
        die("%s: the embedded descriptors lack %s (%d messages found in %d files).\n"
            "  The decoder needs them; is this kubectl too old, or not a gogo-protobuf build?"
            % (kubectl, ", ".join(missing), len(msgs), len(files)))

    names = sorted(msgs)
    index = {n: i for i, n in enumerate(names)}
    if len(names) >= 0xFFFF:
        die("too many messages for 16-bit indices")

    strings = bytearray()
    offsets = {}

    def intern(s):
        if s not in offsets:
            offsets[s] = len(strings)
            strings.extend(s.encode("utf-8") + b"\0")
        return offsets[s]

    msg_rows, field_rows = [], []
    inline, wrappers, dangling, renamed = [], [], [], []
    for n in names:
        m = msgs[n]
        kind = SPECIAL.get(n)
        if kind is None:
            if m["map_entry"]:
                kind = "MAP_ENTRY"
            elif is_array_wrapper(n, m):
                kind = "ARRAY"
                wrappers.append(n)
            else:
                kind = "MESSAGE"
        first = len(field_rows)
        for f in sorted(m["fields"], key=lambda f: f["number"]):
            if f["number"] > 0xFFFF:
                die("%s.%s: field number %d too large" % (n, f["name"], f["number"]))
            if f["type"] == T_GROUP or not 1 <= f["type"] <= 18:
                die("%s.%s: unsupported field type %d" % (n, f["name"], f["type"]))
            flags = 0
            if f["label"] == 3:
                flags |= F_REPEATED
            if f["nullable"]:
                flags |= F_POINTER
            mi = 0xFFFF
            if f["type"] == T_MESSAGE:
                if f["type_name"] not in index:
                    dangling.append("%s.%s -> %s" % (n, f["name"], f["type_name"]))
                    continue
                mi = index[f["type_name"]]
                if kind == "MESSAGE" and is_inline(f, tags):
                    flags |= F_INLINE
                    inline.append("%s.%s" % (n, f["name"]))
            jname = f["name"]
            if kind == "MESSAGE" and (f["number"], jname) in renames:
                jname = renames[(f["number"], jname)]
                renamed.append("%s.%s -> %s" % (n, f["name"], jname))
            field_rows.append((intern(jname), f["number"], mi, f["type"], flags))
        msg_rows.append((intern(n), first, len(field_rows) - first, KINDS.index(kind)))
    for d in dangling:
        warn("dropping field with unknown type: %s" % d)

    if dump:
        for n in names:
            m = msgs[n]
            sys.stdout.write("%s%s\n" % (n, " (map entry)" if m["map_entry"] else ""))
            for f in sorted(m["fields"], key=lambda f: f["number"]):
                sys.stdout.write("  %d %s type=%d label=%d %s%s\n" % (
                    f["number"], f["name"], f["type"], f["label"], f["type_name"],
                    "" if f["nullable"] else " nonnull"))
        sys.stdout.write("inline: %s\narrays: %s\nrenamed: %s\n"
                         % (" ".join(inline), " ".join(wrappers), " ".join(renamed)))

    o = []
    o.append("/* Generated by tools/gen-proto.py from the protobuf descriptors embedded in\n"
             " * %s (%d files). Do not edit. */\n"
             % (os.path.relpath(kubectl, ROOT) if kubectl.startswith(ROOT) else kubectl,
                len(files)))
    o.append('#include "api/protobuf.h"\n\n')
    o.append("const size_t k1s_pb_nmsgs = %d;\n" % len(msg_rows))
    o.append("const size_t k1s_pb_nfields = %d;\n\n" % len(field_rows))
    o.append("const char k1s_pb_strings[] =\n")
    s = bytes(strings)
    parts = s.split(b"\0")[:-1]
    line = "   "
    for p in parts:
        lit = " " + c_string(p.decode("utf-8"))[:-1] + '\\0"'
        if len(line) + len(lit) > 96:
            o.append(line + "\n")
            line = "   "
        line += lit
    o.append(line + ";\n\n")
    o.append("const k1s_pb_msg_t k1s_pb_msgs[] = {\n")
    for i, (no, first, nf, kind) in enumerate(msg_rows):
        o.append("    {%d, %d, %d, K1S_PB_K_%s}, /* %d %s */\n"
                 % (no, first, nf, KINDS[kind], i, names[i]))
    o.append("};\n\nconst k1s_pb_field_t k1s_pb_fields[] = {\n")
    for i in range(0, len(field_rows), 4):
        o.append("   " + "".join(" {%d, %d, %d, %d, %d}," % r for r in field_rows[i:i + 4]) + "\n")
    o.append("};\n")

    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(o))
    os.replace(tmp, out_path)
    data_size = len(strings) + 12 * len(msg_rows) + 12 * len(field_rows)
    sys.stderr.write("gen-proto: %d messages (%d fields) from %d descriptor files in %s; "
                     "%d bytes of tables; cloned %s\n"
                     % (len(msg_rows), len(field_rows), len(files), os.path.basename(kubectl),
                        data_size, " ".join(cloned)))


main()
