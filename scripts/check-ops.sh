#!/usr/bin/env bash
# Checks the operator files in ops/: the Prometheus rules (promtool check
# rules, then their unit tests), the Grafana dashboard (valid JSON, and its
# queries valid PromQL: promtool checks them as recording rules), and that
# every mochi_* metric either names is listed in docs/metrics.md (which
# scripts/check-docs.py checks against the daemons' --print-metrics).
set -euo pipefail
cd "$(dirname "$0")/.."
rules=ops/prometheus/mochi-alerts.yml
rule_tests=ops/prometheus/mochi-alerts.test.yml
dashboard=ops/grafana/mochi-dashboard.json

if ! command -v promtool >/dev/null; then
  echo "check-ops: promtool not found (Debian package prometheus; run scripts/install-deps.sh)"
  exit 1
fi
promtool check rules "$rules"
promtool test rules "$rule_tests"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$rules" "$dashboard" "$tmp/dashboard-queries.yml" <<'PY'
import json, re, sys
import yaml

rules_path, dashboard_path, queries_path = sys.argv[1:4]
documented = set()
for line in open("docs/metrics.md", encoding="utf-8"):
    if line.startswith("| `mochi_"):
        documented.update(re.findall(r"`(mochi_[a-z0-9_]+)`", line.split("|")[1]))
if not documented:
    sys.exit("check-ops: no metrics found in docs/metrics.md")

def known(name):
    if name in documented:
        return True
    # histograms also export _bucket, _sum and _count
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base != name and base in documented

def exprs_of_rules(path):
    for group in yaml.safe_load(open(path, encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            yield rule.get("alert") or rule.get("record"), rule["expr"]

def exprs_of_dashboard(path):
    try:
        board = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        sys.exit(f"check-ops: {path} is not valid JSON: {e}")
    def walk(node, title):
        if isinstance(node, dict):
            title = node.get("title", title)
            for key, value in node.items():
                if key in ("expr", "query") and isinstance(value, str):
                    yield title, value
                else:
                    yield from walk(value, title)
        elif isinstance(node, list):
            for item in node:
                yield from walk(item, title)
    yield from walk(board, "")

bad = 0
for path, exprs in ((rules_path, exprs_of_rules(rules_path)),
                    (dashboard_path, exprs_of_dashboard(dashboard_path))):
    count = 0
    for where, expr in exprs:
        count += 1
        for name in sorted(set(re.findall(r"\bmochi_[a-z0-9_]+", expr))):
            if not known(name):
                print(f"check-ops: {path}: '{where}' uses {name}, not in docs/metrics.md")
                bad = 1
    if count == 0:
        print(f"check-ops: {path}: no expressions found")
        bad = 1

# Grafana's interval variables stand for a duration in PromQL.
queries = [{"record": f"dashboard:query:{i}",
            "expr": re.sub(r"\$(__rate_interval|__interval|__range)", "5m", expr)}
           for i, (_, expr) in enumerate(exprs_of_dashboard(dashboard_path))]
yaml.safe_dump({"groups": [{"name": "dashboard", "rules": queries}]}, open(queries_path, "w"))
sys.exit(bad)
PY
echo "check-ops: dashboard queries as PromQL"
promtool check rules "$tmp/dashboard-queries.yml" >/dev/null
echo "check-ops: rules, rule tests and dashboard OK"
