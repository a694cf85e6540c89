#!/usr/bin/env python3
"""The documentation and the deployment files agree with the programs.

    scripts/check-docs.py [BUILD_DIR]              # the checks (default: build)
    scripts/check-docs.py --self-test [BUILD_DIR]  # each checker fed wrong input

The built programs are the truth: their --help (flags, environment
variables, the database role they should use, whether they serve /healthz,
and any $MOCHI_* variable the text says they read), their --print-config
(what they make of a set of values) and their --print-metrics (every metric
family they register). Nothing here reads C sources. The checks fail,
naming the file and the offending word, when:

  - README.md, docs/*.md, compose/README.md, compose/docker-compose.yml or
    compose/Dockerfile name a MOCHI_* variable or a --flag that no program
    (or script of scripts/) has; a flag written after a program's name must
    be that program's, or that mochictl command's;
  - the compose file does not parse, a service runs something that is not a
    Mochi program, passes it a variable or flag it does not take, gives it
    values its --print-config refuses, publishes or health-checks a port its
    listen settings do not use, logs in as another database role than its
    --help names or with a password nobody sets, uses a topic no service
    creates, or starts before the migrations and topics;
  - compose/Dockerfile's build stage lacks a package scripts/install-deps.sh
    or the CMake pkg-config modules need, builds other cmake targets than the
    README, or its runtime stage lacks the package of a shared library the
    programs link or a *_DIR variable the programs read;
  - docs/configuration.md is not what scripts/gen-config-docs.sh makes now;
  - docs/metrics.md's table and the daemons' --print-metrics differ (names,
    types or labels).

The checks live in scripts/lib/checkdocs/, one module per kind of file.
Needs python3 with PyYAML (scripts/install-deps.sh installs python3-yaml),
dpkg-query, pkg-config, ldd and readelf; no database or broker. Exit code 0
when everything agrees, 1 when something does not (every problem is listed),
2 when the checks could not run.
"""

import argparse
import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from checkdocs.compose import check_compose_file  # noqa: E402
from checkdocs.dockerfile import check_dockerfile_file  # noqa: E402
from checkdocs.markdown import check_docs_name_real_settings  # noqa: E402
from checkdocs.references import check_configuration_md, check_metrics_file  # noqa: E402
from checkdocs.selftest import self_test  # noqa: E402
from checkdocs.world import ROOT, Report, Trouble, World  # noqa: E402

CHECKS = [
    ("documentation names settings the programs do not have", check_docs_name_real_settings),
    ("compose/Dockerfile disagrees with the build", check_dockerfile_file),
    ("compose/docker-compose.yml disagrees with the programs", check_compose_file),
    ("docs/configuration.md is not what the programs say", check_configuration_md),
    ("docs/metrics.md and the daemons' --print-metrics disagree", check_metrics_file),
]


def main(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/check-docs.py",
        description="Checks the documentation and the deployment files against the programs.")
    parser.add_argument("--self-test", action="store_true",
                        help="feed each checker wrong input and check that it is reported")
    parser.add_argument("build_dir", nargs="?", default=os.path.join(ROOT, "build"),
                        help="where the programs are built (default: build)")
    args = parser.parse_args(argv)
    want_self_test = args.self_test
    bin_dir = os.path.abspath(args.build_dir)
    try:
        w = World(bin_dir)
        if want_self_test:
            failures = self_test(w)
            for f in failures:
                print("self-test: " + f)
            print("check-docs self-test: %s" % ("FAILED" if failures else "every checker "
                                                "reported every planted mistake"))
            return 1 if failures else 0
        total = 0
        for title, check in CHECKS:
            r = Report()
            check(w, r)
            for line in r.lines:
                print("  " + line)
            if r.lines:
                print("%s: %d problem%s, listed above" % (title, len(r.lines),
                                                          "" if len(r.lines) == 1 else "s"))
            if r.lines and r.fix:
                print("  To fix: " + r.fix)
            total += len(r.lines)
    except Trouble as e:
        print("check-docs: %s" % e, file=sys.stderr)
        return 2
    print("check-docs: %s" % ("%d problem(s)" % total if total else "the documentation and "
                              "deployment files agree with the programs"))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
