"""Runs benches/compare/denied.sql over a trail with DuckDB (all cores) and writes the groups.

usage: duckdb_query.py DIR OUT.tsv [MAX_OBJECT_BYTES]
OUT.tsv gets one "denied<TAB>principal<TAB>bucket<TAB>prefix" line per group. MAX_OBJECT_BYTES must
exceed the largest decompressed log file (each file is one JSON object); default 64 MiB.
"""
import os
import sys

import duckdb

root, out = sys.argv[1], sys.argv[2]
max_object = int(sys.argv[3]) if len(sys.argv) > 3 else 64 << 20
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "denied.sql")) as f:
    template = f.read()
glob = os.path.join(root, "**", "*.json.gz")
sql = template.replace("@FILES@", "'" + glob.replace("'", "''") + "'").replace("@MAX_OBJECT@", str(max_object))
rows = duckdb.connect().execute(sql).fetchall()
with open(out, "w") as f:
    for denied, principal, bucket, prefix in rows:
        f.write(f"{denied}\t{principal}\t{bucket}\t{prefix}\n")
