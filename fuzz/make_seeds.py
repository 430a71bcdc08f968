#!/usr/bin/env python3
"""Builds the fuzz seed corpus (fuzz/corpus/<target>/) from testdata/ and ../shared/realdata.

Seeds are small cut-down files (a few records each), never copies of whole data files; the
realdata folder is read in place and is optional (seeds from testdata alone are made without it).
Run from anywhere: `python3 fuzz/make_seeds.py [REALDATA_DIR]`.
"""

import glob
import gzip
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTDATA = os.path.join(ROOT, "testdata")
REALDATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "realdata")
MAX_SEED = 6000  # bytes; seeds are cut to a few records to stay under this


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def dumps(v):
    return json.dumps(v, separators=(",", ":"))


def records_of(doc):
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return doc["Records"]
    if isinstance(doc, list):
        return doc
    return [doc]


def few(records, budget=MAX_SEED):
    """As many leading records as fit in the budget (at least one, cut to its small fields)."""
    out, size = [], 0
    for r in records:
        n = len(dumps(r))
        if out and size + n > budget:
            break
        if n > budget:
            r = {k: v for k, v in r.items() if len(dumps(v)) < 300} if isinstance(r, dict) else r
        out.append(r)
        size += n
    return out


def trail_seed(records, shape):
    if shape == "records":
        return dumps({"Records": records})
    if shape == "array":
        return json.dumps(records, indent=1)
    return "\n".join(dumps(r) for r in records) + "\n"


docs = []  # (records, shape) of every source, for split/process/decode
messages = set()
policies = []

# testdata: the sample trail (gzip'd delivery files)
for path in sorted(glob.glob(os.path.join(TESTDATA, "trail", "**", "*.json.gz"), recursive=True))[:8]:
    doc = json.loads(gzip.decompress(open(path, "rb").read()))
    docs.append((few(records_of(doc), 1500), "records"))

# testdata: diagnosis cases (one record per line; their messages and policies)
cases = [json.loads(l) for l in open(os.path.join(TESTDATA, "diagnose", "cases.ndjson")) if l.strip()]
for c in cases:
    c.pop("_expect", None)
    if c.get("errorMessage"):
        messages.add(c["errorMessage"])
    rp = c.get("requestParameters") or {}
    for k in ("bucketPolicy", "policyDocument", "policy", "content"):
        if isinstance(rp.get(k), (str, dict)):
            policies.append(rp[k] if isinstance(rp[k], str) else dumps(rp[k]))
for i in range(0, len(cases), 6):
    docs.append((cases[i : i + 6], ["records", "array", "ndjson"][i % 3]))

# testdata: policy evaluator cases (snapshots and policy documents)
pc = json.load(open(os.path.join(TESTDATA, "policy", "cases.json")))
policies.append(dumps(pc["base"]["snapshot"]))


def walk_policies(v):
    if isinstance(v, dict):
        if "Statement" in v:
            policies.append(dumps(v))
        for x in v.values():
            walk_policies(x)
    elif isinstance(v, list):
        for x in v:
            walk_policies(x)


walk_policies(pc)

# testdata: envelopes (units for the envelope target, cut-down files for process)
env = os.path.join(TESTDATA, "envelopes", "issue14")
units = []
firehose = glob.glob(os.path.join(env, "firehose", "**", "cloudtrail-to-s3-*"), recursive=True)
for path in firehose:
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dec, text, pos, msgs = json.JSONDecoder(), raw.decode(), 0, []
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        v, pos = dec.raw_decode(text, pos)
        msgs.append(v)
    for m in msgs[:4]:
        if m.get("logEvents"):
            m["logEvents"] = m["logEvents"][:2]
        units.append(dumps(m))
    put("process", "".join(dumps(m) for m in msgs[:3]))
    put("split", "".join(dumps(m) for m in msgs[:3]))
lines = [l for l in open(os.path.join(env, "eventbridge", "2026-11-21.ndjson")) if l.strip()]
units += [l.strip() for l in lines[:4]]
put("process", "".join(lines[:3]))
for name, key in (("filter-log-events.json", "events"), ("lookup-events.json", "Events")):
    doc = json.load(open(os.path.join(env, "cli", name)))
    doc[key] = doc[key][:2]
    units += [dumps(e) for e in doc[key]]
    put("process", json.dumps(doc, indent=2))
    put("split", dumps(doc))
lake = open(os.path.join(TESTDATA, "envelopes", "lake", "get-query-results.json"), "rb").read()
put("process", lake)
for u in units:
    put("envelope", u)

# realdata, read in place: cut to a few records per file
if os.path.isdir(REALDATA):
    for path in sorted(glob.glob(os.path.join(REALDATA, "invictus-ir-aws_dataset", "CloudTrail", "*.json")))[:4]:
        docs.append((few(records_of(json.load(open(path))), 1500), "records"))
    for path in sorted(glob.glob(os.path.join(REALDATA, "stratus-red-team-detonation-logs", "*.json")))[:4]:
        docs.append((few(records_of(json.load(open(path))), 1500), "array"))
    panther = os.path.join(REALDATA, "panther-analysis-fixtures", "panther_cloudtrail_rule_test_logs.ndjson")
    if os.path.exists(panther):
        recs = [json.loads(l) for l in open(panther) if l.strip()]
        denied = [r for r in recs if "AccessDenied" in str(r.get("errorCode"))]
        docs.append((few(denied, 2000), "ndjson"))
        docs.append((few(recs[:8], 2000), "ndjson"))
        for r in recs:
            if isinstance(r.get("errorMessage"), str):
                messages.add(r["errorMessage"])
            walk_policies(r.get("requestParameters"))
    for path in sorted(glob.glob(os.path.join(REALDATA, "aws-docs-samples", "*.json"))):
        docs.append((few(records_of(json.load(open(path))), 1500), "records"))
    examples = os.path.join(REALDATA, "aws-docs-samples", "iam-userguide_access-denied-error-message-examples.txt")
    if os.path.exists(examples):
        for line in open(examples):
            if "not authorized" in line or "Access Denied" in line:
                messages.add(line.strip())

for i, (records, shape) in enumerate(docs):
    text = trail_seed(records, shape).encode()
    put("split", text)
    put("process", text if i % 2 else gzip.compress(text, mtime=0))
    if i % 3 == 0:
        put("decode", gzip.compress(text[:1500], mtime=0))
put("decode", gzip.compress(b"first member ", mtime=0) + gzip.compress(b"second member", mtime=0))
put("decode", gzip.compress(b'{"Records":[]}' * 40, mtime=0)[:-5])
put("decode", b'{"Records":[]}')

for m in sorted(messages):
    put("message", m)
    put("message", m[: len(m) // 2])

for p in policies[:60]:
    put("policy", p)

for pattern, text in (
    ("arn:aws:iam::*:role/ci-*", "arn:aws:iam::111122223333:role/ci-deploy"),
    ("s3:Put*", "s3:PutObjectAcl"),
    ("arn:aws:s3:::acme-*/builds/?/*", "arn:aws:s3:::acme-artifacts/builds/1/a.zip"),
    ("logs/**/*.json", "logs/2026/11/a.json"),
    ("{a,b}[0-9]*", "b7x"),
):
    for flags in (b"\x00", b"\x01"):
        put("glob", flags + pattern.encode() + b"\x00" + text.encode())
