#!/usr/bin/env python3
"""Where mochi-rollup's batch transaction spends its time and its WAL.

    rollup-profile.py --log SERVER_LOG --events N [--tables TSV] [--wal TSV]

Reads a PostgreSQL (15) server log in the default stderr format, written
while the rollup's role had auto_explain (log_analyze, log_buffers,
log_wal, log_timing, log_triggers, log_format json) and
log_min_duration_statement = 0 (see scripts/profile-rollup.sh), and prints
markdown tables:

  - every statement of the batch transactions by kind (BEGIN, the progress
    check, the COPY into the temp table, the apply statement, the progress
    write, COMMIT), from the "duration: ... ms  statement|parse|bind|execute"
    lines: count, time, share, microseconds per input event;
  - the apply statement (the one that starts "WITH known AS"), summed over
    its plans: each CTE, and within it each plan node, with its exclusive
    time (its actual total time times its loops, less its children's), its
    share of the statement's executor time, its rows, and its WAL records,
    full-page images and bytes (also exclusive: EXPLAIN reports buffers and
    WAL including the children's);
  - with --tables, pg_stat_user_tables and the sizes per table; with --wal,
    pg_stat_wal's totals; both per input event.

A CTE's work is done when one of its CTE Scans first reads that row, so it
sits inside that scan's time (and WAL) as well as in the CTE's own nodes:
the CTE's total is taken off its scans (the largest first), which leaves
them the cost of reading the CTE's tuplestore. The FK triggers fire after
the plan's nodes and are listed on their own. What no node accounts for
(the executor's start and end, and any rounding) is printed as such.
Standard library only. Exit status 0, or 2 when the log holds no plan of
the apply statement.
"""

import argparse
import collections
import json
import re
import sys

RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (\w+):  (.*)$")
DURATION = re.compile(r"^duration: ([0-9.]+) ms  (plan:|statement: |(parse|bind|execute) [^:]*: )(.*)$", re.S)
APPLY_PREFIX = "WITH known AS"

# Metrics carried per node: exclusive time (ms) and the buffer and WAL
# counters, all of which EXPLAIN reports including the node's children.
METRICS = ["ms", "wal_records", "wal_fpi", "wal_bytes", "hit", "read", "dirtied", "written"]
KEYS = {
    "wal_records": "WAL Records",
    "wal_fpi": "WAL FPI",
    "wal_bytes": "WAL Bytes",
    "hit": "Shared Hit Blocks",
    "read": "Shared Read Blocks",
    "dirtied": "Shared Dirtied Blocks",
    "written": "Shared Written Blocks",
}


def records(path):
    """Yields (level, message) of each log record, continuation lines joined."""
    level = msg = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = RECORD.match(line)
            if m:
                if msg is not None:
                    yield level, msg
                level, msg = m.group(2), m.group(3)
            elif msg is not None and line.startswith("\t"):
                msg += "\n" + line[1:]
    if msg is not None:
        yield level, msg


def statement_kind(text):
    t = " ".join(text.split())
    up = t.upper()
    if t.startswith(APPLY_PREFIX):
        return "apply statement (WITH known AS ...)"
    if up.startswith("COPY ROLLUP_BATCH"):
        return "COPY into the temp table rollup_batch"
    if up.startswith("INSERT INTO ROLLUP_PROGRESS"):
        return "progress write (INSERT INTO rollup_progress)"
    if "ROLLUP_PROGRESS" in up:
        return "progress check (SELECT ... rollup_progress)"
    if up in ("BEGIN", "COMMIT", "ROLLBACK"):
        return up
    return "other: " + (t[:48] + "..." if len(t) > 48 else t)


def vec(node):
    return {k: float(node.get(v, 0) or 0) for k, v in KEYS.items()}


def inclusive(node):
    v = vec(node)
    v["ms"] = float(node.get("Actual Total Time", 0) or 0) * float(node.get("Actual Loops", 0) or 0)
    return v


def describe(node):
    t = node["Node Type"]
    if t == "ModifyTable":
        return "%s on %s" % (node.get("Operation", "Modify"), node.get("Relation Name", "?"))
    if t == "Aggregate":
        t = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate", "Mixed": "MixedAggregate"}.get(
            node.get("Strategy"), "Aggregate")
    if t == "CTE Scan":
        return "CTE Scan on %s" % node.get("CTE Name", "?")
    if "Index Name" in node:
        return "%s using %s" % (t, node["Index Name"])
    if "Relation Name" in node:
        return "%s on %s" % (t, node["Relation Name"])
    if t in ("Sort", "Incremental Sort") and node.get("Sort Key"):
        keys = ", ".join(re.sub(r"^\w+\.", "", k) for k in node["Sort Key"])
        return "%s (%s)" % (t, keys if len(keys) <= 40 else keys[:37] + "...")
    if "Sort Method" in node:
        return "%s" % t
    return t


def cte_of(node):
    name = node.get("Subplan Name", "")
    return name[4:] if name.startswith("CTE ") else None


class Plan:
    """One plan's nodes: (cte, description, n-th alike) -> metrics."""

    def __init__(self, root, triggers):
        self.nodes = []  # [cte, key, node, exclusive metrics]
        self.cte_roots = {}  # cte -> inclusive metrics of its root
        self.scans = collections.defaultdict(list)  # cte -> indexes into nodes
        self.seen = collections.Counter()
        self.walk(root, "final counts")
        self.fix_cte_scans()
        self.triggers = triggers

    def walk(self, node, ctx):
        incl = inclusive(node)
        excl = dict(incl)
        for child in node.get("Plans", []):
            name = cte_of(child)
            if name is not None:
                # Not inside this node's time: the CTE runs when it is read.
                self.cte_roots[name] = inclusive(child)
                self.walk(child, name)
                continue
            ci = inclusive(child)
            for k in METRICS:
                excl[k] -= ci[k]
            self.walk(child, ctx)
        desc = describe(node)
        self.seen[(ctx, desc)] += 1
        n = self.seen[(ctx, desc)]
        key = desc if n == 1 else "%s #%d" % (desc, n)
        if node["Node Type"] == "CTE Scan":
            self.scans[node.get("CTE Name")].append(len(self.nodes))
        self.nodes.append([ctx, key, node, excl])

    def fix_cte_scans(self):
        for name, root in self.cte_roots.items():
            idx = self.scans.get(name, [])
            for k in METRICS:
                left = root[k]
                for i in sorted(idx, key=lambda i: -self.nodes[i][3][k]):
                    take = min(left, max(self.nodes[i][3][k], 0.0))
                    self.nodes[i][3][k] -= take
                    left -= take
                    if left <= 0:
                        break


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def fmt_ms(x):
    return "{:,.0f}".format(x) if x >= 100 else "{:.1f}".format(x)


def pct(a, b):
    return "{:.1f}%".format(100.0 * a / b) if b > 0 else "-"


def per(a, n, digits=2):
    return ("{:.%df}" % digits).format(a / n) if n > 0 else "-"


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")
    print()


def table_row(name, v, ev):
    return [name, fmt_int(v["ins"]), fmt_int(v["upd"]), fmt_int(v["hot"]),
            pct(v["hot"], v["upd"]) if v["upd"] else "-", "%.1f" % (v["heap"] / 2**20),
            "%.1f" % (v["idx"] / 2**20), per(v["ins"], ev, 3), per(v["upd"], ev, 3),
            per(v["heap"] + v["idx"], ev, 1), fmt_int(v["hit"]), fmt_int(v["read"])]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--log", required=True, help="the server log (from the profiled run's start)")
    ap.add_argument("--events", type=int, required=True, help="input events of the run")
    ap.add_argument("--tables", help="TSV: relname n_tup_ins n_tup_upd n_tup_hot_upd table_bytes index_bytes"
                    " blocks_hit blocks_read")
    ap.add_argument("--wal", help="TSV: wal_records wal_fpi wal_bytes (pg_stat_wal over the run)")
    ap.add_argument("--min-share", type=float, default=0.5,
                    help="list plan nodes with at least this %% of the apply time (0.5)")
    a = ap.parse_args()
    ev = a.events

    stmt = collections.defaultdict(lambda: [0, 0.0])  # kind -> [count, ms]
    plans = []
    executor_ms = 0.0
    for level, msg in records(a.log):
        if level != "LOG":
            continue
        m = DURATION.match(msg)
        if not m:
            continue
        ms = float(m.group(1))
        if m.group(2) == "plan:":
            try:
                doc = json.loads(m.group(4))
            except ValueError:
                print("rollup-profile: a plan that is not JSON was skipped", file=sys.stderr)
                continue
            if doc.get("Query Text", "").lstrip().startswith(APPLY_PREFIX):
                plans.append(Plan(doc["Plan"], doc.get("Triggers", [])))
                executor_ms += ms
            continue
        kind = statement_kind(m.group(4))
        phase = m.group(3)
        if phase is None or phase == "execute":
            stmt[kind][0] += 1
        stmt[kind][1] += ms
    if not plans:
        print("rollup-profile: no plan of the apply statement in %s" % a.log, file=sys.stderr)
        return 2

    # ------------------------------------------------------------ statements
    txn_ms = sum(v[1] for v in stmt.values())
    apply_ms = stmt.get("apply statement (WITH known AS ...)", [0, 0.0])[1]
    print("### The batch transactions, by statement (log_min_duration_statement; parse, bind and execute summed)")
    print()
    order = ["BEGIN", "progress check (SELECT ... rollup_progress)", "COPY into the temp table rollup_batch",
             "apply statement (WITH known AS ...)", "progress write (INSERT INTO rollup_progress)", "COMMIT"]
    kinds = [k for k in order if k in stmt] + sorted(k for k in stmt if k not in order)
    rows = [[k, stmt[k][0], fmt_ms(stmt[k][1]), pct(stmt[k][1], txn_ms), per(stmt[k][1] * 1000, ev)] for k in kinds]
    rows.append(["all statements", sum(v[0] for v in stmt.values()), fmt_ms(txn_ms), "100.0%",
                 per(txn_ms * 1000, ev)])
    table(["statement", "count", "ms", "share", "us/event"], rows)

    # ------------------------------------------------------------ nodes
    agg = collections.OrderedDict()  # (cte, key) -> metrics + rows + ins/conflict
    cte_tot = collections.OrderedDict()
    trig = collections.OrderedDict()
    for p in plans:
        for ctx, key, node, excl in p.nodes:
            s = agg.setdefault((ctx, key), collections.Counter())
            for k in METRICS:
                s[k] += excl[k]
            s["rows"] += float(node.get("Actual Rows", 0) or 0) * float(node.get("Actual Loops", 0) or 0)
            s["inserted"] += float(node.get("Tuples Inserted", 0) or 0)
            s["conflicting"] += float(node.get("Conflicting Tuples", 0) or 0)
            s["modify"] = 1 if node["Node Type"] == "ModifyTable" else s["modify"]
            c = cte_tot.setdefault(ctx, collections.Counter())
            for k in METRICS:
                c[k] += excl[k]
        for t in p.triggers:
            s = trig.setdefault("FK triggers on %s" % t.get("Relation", "?"), collections.Counter())
            s["ms"] += float(t.get("Time", 0) or 0)
            s["calls"] += float(t.get("Calls", 0) or 0)
    node_ms = sum(s["ms"] for s in agg.values())
    trig_ms = sum(s["ms"] for s in trig.values())
    rest = executor_ms - node_ms - trig_ms
    wal_all = {k: sum(s[k] for s in agg.values()) for k in ("wal_records", "wal_fpi", "wal_bytes")}

    print("### The apply statement, %d plans (auto_explain; times inflated by its timing, see the notes)"
          % len(plans))
    print()
    print("statement %s ms in all (parse, plan and execute), executor %s ms (auto_explain's duration):"
          % (fmt_ms(apply_ms), fmt_ms(executor_ms)),
          "plan nodes %s ms, FK triggers %s ms, not in any node %s ms;" % (fmt_ms(node_ms), fmt_ms(trig_ms),
                                                                       fmt_ms(rest)),
          "%s events, %.1f us of executor time per event;" % (fmt_int(ev), executor_ms * 1000 / ev),
          "WAL in the nodes: %s records, %s FPI, %s bytes (%.0f bytes per event)"
          % (fmt_int(wal_all["wal_records"]), fmt_int(wal_all["wal_fpi"]), fmt_int(wal_all["wal_bytes"]),
             wal_all["wal_bytes"] / ev))
    print()
    print("By CTE (the sum of its nodes' exclusive figures; share of the executor time):")
    print()
    rows = []
    for ctx, c in sorted(cte_tot.items(), key=lambda kv: -kv[1]["ms"]):
        rows.append([ctx, fmt_ms(c["ms"]), pct(c["ms"], executor_ms), per(c["ms"] * 1000, ev),
                     fmt_int(c["wal_records"]), fmt_int(c["wal_fpi"]), fmt_int(c["wal_bytes"]),
                     per(c["wal_bytes"], ev, 1), fmt_int(c["hit"] + c["read"]), fmt_int(c["dirtied"])])
    for name, s in trig.items():
        rows.append([name, fmt_ms(s["ms"]), pct(s["ms"], executor_ms), per(s["ms"] * 1000, ev),
                     "-", "-", "-", "-", "-", "-"])
    rows.append(["not in any node", fmt_ms(rest), pct(rest, executor_ms), per(rest * 1000, ev),
                 "-", "-", "-", "-", "-", "-"])
    table(["CTE", "ms", "share", "us/event", "WAL records", "WAL FPI", "WAL bytes", "WAL bytes/event",
           "buffers hit+read", "dirtied"], rows)

    print("By plan node (exclusive; those with at least %.1f%% of the executor time, and every"
          " insert), largest first:" % a.min_share)
    print()
    rows = []
    other = collections.Counter()
    for (ctx, key), s in sorted(agg.items(), key=lambda kv: -kv[1]["ms"]):
        if s["modify"] or 100.0 * s["ms"] / executor_ms >= a.min_share:
            ic = ("%s / %s" % (fmt_int(s["inserted"]), fmt_int(s["conflicting"]))) if s["modify"] else ""
            rows.append([ctx, key, fmt_ms(s["ms"]), pct(s["ms"], executor_ms), per(s["ms"] * 1000, ev),
                         fmt_int(s["rows"]), per(s["rows"], ev), ic, fmt_int(s["wal_records"]),
                         fmt_int(s["wal_fpi"]), fmt_int(s["wal_bytes"]), per(s["wal_bytes"], ev, 1)])
        else:
            other.update({k: s[k] for k in METRICS})
            other["n"] += 1
    rows.append(["(%d other nodes)" % other["n"], "", fmt_ms(other["ms"]), pct(other["ms"], executor_ms),
                 per(other["ms"] * 1000, ev), "", "", "", fmt_int(other["wal_records"]),
                 fmt_int(other["wal_fpi"]), fmt_int(other["wal_bytes"]), per(other["wal_bytes"], ev, 1)])
    table(["CTE", "node", "ms", "share", "us/event", "rows", "rows/event", "inserted / conflicting",
           "WAL records", "WAL FPI", "WAL bytes", "WAL bytes/event"], rows)

    # ------------------------------------------------------------ tables
    if a.tables:
        print("### Tables after the run (pg_stat_user_tables, pg_statio_user_tables, pg_table_size,"
              " pg_indexes_size)")
        print()
        rows = []
        tot = collections.Counter()
        cols = ("ins", "upd", "hot", "heap", "idx", "hit", "read")
        with open(a.tables) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) != 8:
                    continue
                v = dict(zip(cols, map(float, p[1:])))
                if v["ins"] + v["upd"] == 0:
                    continue
                tot.update(v)
                rows.append(table_row(p[0], v, ev))
        rows.append(table_row("all", tot, ev))
        table(["table", "n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "HOT share", "table MiB", "indexes MiB",
               "inserts/event", "updates/event", "bytes/event", "blocks hit", "blocks read"], rows)
    if a.wal:
        with open(a.wal) as f:
            for line in f:
                p = line.split()
                if len(p) >= 3:
                    r, fpi, b = map(float, p[:3])
                    print("pg_stat_wal over the run (the whole server): %s records, %s FPI, %s bytes;"
                          " per input event %.2f records, %.3f FPI, %.0f bytes" % (
                              fmt_int(r), fmt_int(fpi), fmt_int(b), r / ev, fpi / ev, b / ev))
                    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
