"""The checkers catch what they are for: each is fed wrong input on purpose
and must report every planted mistake."""

import os

from checkdocs.compose import check_compose
from checkdocs.dockerfile import check_dockerfile
from checkdocs.markdown import check_markdown
from checkdocs.references import check_metrics_md
from checkdocs.world import ROOT, Report, read_src


def self_test(w):
    failures = []

    def expect(r, word, present=True):
        if r.mentions(word) != present:
            failures.append("%s %r among: %s" % ("no" if present else "unexpected", word,
                                                 r.lines))

    r = Report()
    check_markdown(
        w, "bad.md",
        "Run `mochictl lag --no-such-flag` or `mochictl frobnicate`.\n"
        "Set MOCHI_NOT_A_SETTING, or --also-bogus.\n"
        "```sh\n"
        "MOCHI_TOPIC=x mochi-collector --listen 0.0.0.0:8080 \\\n"
        "    --bogus-flag\n"
        "cmake --build build --not-ours && mochi-consumer --batch-size 5 # --in-comment\n"
        "bash scripts/gen-config-docs.sh --no-such-option\n"
        "mochi-rollup --print-metrics && mochictl lag --print-metrics\n"
        "```\n", r)
    expect(r, "bad.md:1: --no-such-flag is not an option of mochictl lag")
    expect(r, "mochictl has no command 'frobnicate'")
    expect(r, "bad.md:2: MOCHI_NOT_A_SETTING")
    expect(r, "bad.md:2: --also-bogus")
    expect(r, "bad.md:4: --bogus-flag is not an option of mochi-collector")
    expect(r, "--in-comment")
    expect(r, "--not-ours", False)
    expect(r, "--listen", False)
    expect(r, "--batch-size", False)
    expect(r, "bad.md:7: --no-such-option is not an option of scripts/gen-config-docs.sh")
    expect(r, "bad.md:8: --print-metrics is not an option of mochictl lag")
    expect(r, "of mochi-rollup", False)
    if len(r.lines) != 8:
        failures.append("bad.md: 8 problems expected, got %d: %s" % (len(r.lines), r.lines))

    r = Report()
    check_compose(w, "bad.yml", os.path.join(ROOT, "compose"), {"services": {
        "pg": {"image": "postgres:15", "environment": {"POSTGRES_PASSWORD": "pw"},
               "healthcheck": {"test": ["CMD", "pg_isready"]}},
        "c": {"image": "mochi:local",
              "build": {"context": "..", "dockerfile": "compose/Dockerfile"},
              "command": ["mochi-collector"],
              "environment": {"MOCHI_LISTEN": "0.0.0.0:8080", "MOCHI_NOPE": "1",
                              "MOCHI_BATCH_SIZE": "100",
                              "MOCHI_DATABASE_URL": "postgresql://mochi_consumer:x@pg/mochi"},
              "ports": ["8081:8081"],
              "healthcheck": {"test": ["CMD", "curl", "http://127.0.0.1:8080/health"]},
              "depends_on": {"pg": {"condition": "service_started"}}},
        "x": {"image": "mochi:local", "command": ["not-a-program"]},
        "y": {"image": "mochi:local", "command": ["mochi-rollup", "--nope"],
              "profiles": ["tools"]}}}, r)
    for word in ("passes --nope", "sets MOCHI_NOPE", "sets MOCHI_BATCH_SIZE",
                 "container port 8081", "path /health,", "should use the mochi_collector role",
                 "no service gives mochi_consumer a password", "use service_healthy",
                 "runs 'not-a-program'", "no service runs mochictl migrate",
                 "no service creates"):
        expect(r, word)

    # A variable read outside the settings table (from --help's
    # "$MOCHI_SCHEMA_DIR") may be set on any service of ours, and the
    # runtime stage must set it.
    if "MOCHI_SCHEMA_DIR" not in w.env_only:
        failures.append("MOCHI_SCHEMA_DIR not learnt from the programs' --help: %s" %
                        sorted(w.env_only))

    text = read_src("compose/Dockerfile")
    for needle in (" libpq-dev", "&& cmake --build build -j", "MOCHI_SCHEMA_DIR="):
        if needle not in text:
            failures.append("compose/Dockerfile has no %r to break" % needle)
            return failures
    broken = text.replace(" libpq-dev", "", 1)
    broken = broken.replace("&& cmake --build build -j",
                            "&& cmake --build build --target mochictl -j", 1)
    broken = broken.replace("MOCHI_SCHEMA_DIR=", "MOCHI_SCHEMA_DIRECTORY=", 1)
    r = Report()
    check_dockerfile(w, "bad.Dockerfile", broken, r)
    expect(r, "does not install libpq-dev")
    expect(r, "builds cmake targets mochictl, README.md builds (none)")
    expect(r, "the runtime stage does not set MOCHI_SCHEMA_DIR")

    r = Report()
    good = {"mochi_a_total": ("counter", ["outcome"], "mochi-x"),
            "mochi_b": ("gauge", [], "mochi-x"),
            "mochi_c_seconds": ("histogram", [], "mochi-x"),
            "mochi_d": ("gauge", ["topic", "partition"], "mochi-x")}
    check_metrics_md(w, "bad-metrics.md",
                     "| metric | type | labels | meaning |\n"
                     "|---|---|---|---|\n"
                     "| `mochi_a_total` | counter | `route` | wrong label |\n"
                     "| `mochi_b`, `mochi_c_seconds` | gauge | — | the second is a histogram |\n"
                     "| `mochi_d` | gauge | `partition`, `topic` | labels in another order |\n"
                     "| `mochi_gone_total` | counter | — | no longer registered |\n", good, r)
    expect(r, "bad-metrics.md:3: mochi_a_total has labels route in the doc but outcome")
    expect(r, "bad-metrics.md:4: mochi_c_seconds is a gauge in the doc but")
    expect(r, "bad-metrics.md:6: mochi_gone_total is not a metric any daemon registers")
    expect(r, "mochi_b ", False)
    expect(r, "mochi_d ", False)
    if r.fix is None or "update the table of bad-metrics.md" not in r.fix or \
            "mochi-collector --print-metrics" not in r.fix:
        failures.append("bad-metrics.md: no hint at what to run, got %r" % r.fix)
    if len(r.lines) != 3:
        failures.append("bad-metrics.md: 3 problems expected, got %d: %s" % (len(r.lines),
                                                                             r.lines))
    r = Report()
    check_metrics_md(w, "bad-metrics.md", "no table at all\n", good, r)
    expect(r, "bad-metrics.md does not list mochi_d (a gauge with labels topic, partition")
    return failures
