"""Runs a document of ClickHouse statements on current ClickHouse, in process, through chDB.

    python check.py DOCUMENT.json      (or the document on standard input, given "-")

The document is JSON:

    {"setup":   ["CREATE TABLE ...", ...],
     "rows":    ["INSERT INTO t (a, b) VALUES ...", ...],
     "queries": [{"name": "...", "sql": "SELECT ..."}, ...]}

Every statement runs, in that order, in one chDB session over a temporary directory and in UTC,
so the materialized views that setup creates see the rows inserted after them. On success it
prints

    {"engine": VERSION,
     "rows": {QUERY NAME: ROW COUNT, ...},
     "results": {QUERY NAME: {"types": [COLUMN TYPE, ...], "data": [[VALUE, ...], ...]}, ...}}

(values as ClickHouse's JSONCompact writes them) and exits 0; on the first statement that fails it
prints that statement's name and ClickHouse's error to standard error and exits 1. A document that
cannot be read exits 2.
"""

import json
import shutil
import sys
import tempfile


def statements(doc):
    """Yields (name, sql, is_query) for every statement of doc, in the order they run."""
    for key in ("setup", "rows"):
        for i, sql in enumerate(doc.get(key) or []):
            first = next((line.strip() for line in sql.splitlines() if line.strip()), "")
            yield f"{key}[{i}] {first[:100]}", sql, False
    for i, q in enumerate(doc.get("queries") or []):
        yield q.get("name") or f"queries[{i}]", q["sql"], True


def main(argv):
    if len(argv) != 2:
        print("usage: check.py DOCUMENT.json|-", file=sys.stderr)
        return 2
    try:
        if argv[1] == "-":
            doc = json.load(sys.stdin)
        else:
            with open(argv[1], encoding="utf-8") as f:
                doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"check.py: reading {argv[1]}: {e}", file=sys.stderr)
        return 2

    from chdb import session

    path = tempfile.mkdtemp(prefix="titan-chdb-")
    sess = session.Session(path)
    try:
        sess.query("SET session_timezone = 'UTC'")
        sess.query("SET output_format_json_quote_64bit_integers = 0")
        engine = str(sess.query("SELECT version()", "TabSeparated")).strip()
        counts, results = {}, {}
        for name, sql, is_query in statements(doc):
            try:
                res = sess.query(sql, "JSONCompact" if is_query else "TabSeparated")
            except Exception as e:  # chDB raises its own error type with ClickHouse's message
                print(f"{name}: {e}\n--- statement ---\n{sql.strip()}", file=sys.stderr)
                return 1
            if is_query:
                out = json.loads(res.bytes() or b'{"rows": 0}')
                counts[name] = out["rows"]
                results[name] = {
                    "types": [m["type"] for m in out.get("meta", [])],
                    "data": out.get("data", []),
                }
        json.dump({"engine": engine, "rows": counts, "results": results}, sys.stdout)
        print()
        return 0
    finally:
        sess.close()
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
