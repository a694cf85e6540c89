"""The generated and listed references: docs/configuration.md is what
scripts/gen-config-docs.sh makes now, and docs/metrics.md's table lists what
the daemons' --print-metrics lists."""

import os
import re
import tempfile

from checkdocs.world import ROOT, read_src, run


def check_configuration_md(w, r):
    """docs/configuration.md is what scripts/gen-config-docs.sh makes now."""
    fix = "run scripts/gen-config-docs.sh %s" % w.bin_dir
    with tempfile.TemporaryDirectory() as tmp:
        want = os.path.join(tmp, "configuration.md")
        code, _, err = run(["bash", os.path.join(ROOT, "scripts", "gen-config-docs.sh"), "-o",
                            want, w.bin_dir], env=w.clean_env)
        if code != 0:
            r.add("scripts/gen-config-docs.sh exited %d: %s" % (code, err.strip()))
            return
        doc = os.path.join(ROOT, "docs", "configuration.md")
        if not os.path.exists(doc):
            r.add("docs/configuration.md is missing: " + fix)
            return
        _, diff, _ = run(["diff", "-u", doc, want])
        if diff:
            lines = diff.split("\n")
            for line in lines[:60]:
                print("  | " + line)
            r.add("docs/configuration.md is out of date (diff above, '+' is what the programs say "
                  "now)")
            r.fix = fix


def program_metrics(w, r):
    """name -> (type, labels, program) from every --print-metrics."""
    found = {}
    for p in w.programs:
        if not p.serves_metrics:
            continue
        code, out, err = run([w.bin(p.bin), "--print-metrics"], env=w.clean_env)
        if code != 0:
            r.add("`%s --print-metrics` exited %d: %s" % (p.name, code, err.strip()))
            continue
        for line in out.split("\n"):
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != 4:
                r.add("`%s --print-metrics` printed an unexpected line: %s" % (p.name, line))
                continue
            labels = [] if fields[2] == "-" else fields[2].split(",")
            found[fields[0]] = (fields[1], labels, p.name)
    return found


def doc_metrics(text):
    """(name, type, labels, line) of each name in the table rows
    "| `name`[, `name`] | type | `label`, ... | meaning |"."""
    rows = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.startswith("|"):
            continue
        cells = [c for c in line[1:].split("|") if c != ""][:8]
        if len(cells) < 3:
            continue
        labels = re.findall(r"`([a-z_][a-z0-9_]*)`", cells[2])
        for name in re.findall(r"`(mochi_[a-z0-9_]+)`", cells[0]):
            rows.append((name, cells[1].strip(), labels, lineno))
    return rows


def check_metrics_md(w, label, text, code_metrics, r):
    """The table of docs/metrics.md and the daemons' --print-metrics list
    the same families, with the same types and labels."""
    rows = doc_metrics(text)
    listed = {}
    for name, typ, labels, lineno in rows:
        listed.setdefault(name, (typ, labels, lineno))
    for name, (typ, labels, program) in code_metrics.items():
        d = listed.get(name)
        if d is None:
            r.add("%s does not list %s (a %s with labels %s in `%s --print-metrics`)" %
                  (label, name, typ, ", ".join(labels) or "(none)", program))
        elif d[0] != typ:
            r.add("%s:%d: %s is a %s in the doc but a %s in `%s --print-metrics`" %
                  (label, d[2], name, d[0], typ, program))
        elif sorted(d[1]) != sorted(labels):
            r.add("%s:%d: %s has labels %s in the doc but %s in `%s --print-metrics`" %
                  (label, d[2], name, ", ".join(d[1]) or "(none)",
                   ", ".join(labels) or "(none)", program))
    for name, (_, _, lineno) in listed.items():
        if name not in code_metrics:
            r.add("%s:%d: %s is not a metric any daemon registers (see their --print-metrics)" %
                  (label, lineno, name))
    if r.lines:
        r.fix = "update the table of %s (name, type, labels; the meaning is yours to write) " \
            "to what the daemons register now:\n%s" % (label, "\n".join(
                "    %s --print-metrics" % w.bin(p.bin) for p in w.programs if p.serves_metrics))


def check_metrics_file(w, r):
    text = read_src("docs/metrics.md")
    if text is None:
        r.add("docs/metrics.md is missing")
        return
    code_metrics = program_metrics(w, r)
    if not code_metrics:
        r.add("no program lists any metric with --print-metrics")
    check_metrics_md(w, "docs/metrics.md", text, code_metrics, r)
