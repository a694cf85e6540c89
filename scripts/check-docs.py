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

Needs python3 with PyYAML (scripts/install-deps.sh installs python3-yaml),
dpkg-query, pkg-config, ldd and readelf; no database or broker. Exit code 0
when everything agrees, 1 when something does not (every problem is listed),
2 when the checks could not run.
"""

import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_TOKENS = 256


class Trouble(Exception):
    """The checks cannot run at all (a program is missing, PyYAML is not
    installed): exit 2."""


def read_src(relative):
    """A file of the source tree, or None when it does not exist."""
    try:
        with open(os.path.join(ROOT, relative), encoding="utf-8") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def run(argv, env=None, timeout=60):
    """Runs argv; returns (exit code, stdout, stderr)."""
    try:
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout,
                           errors="replace")
    except FileNotFoundError:
        return 127, "", "%s: not found" % argv[0]
    except subprocess.TimeoutExpired:
        return 124, "", "%s: timed out" % argv[0]
    code = p.returncode if p.returncode >= 0 else 128 - p.returncode
    return code, p.stdout, p.stderr


class Report:
    """Problems found, in the order found, each once."""

    def __init__(self):
        self.lines = []
        self.fix = None  # what to run to fix them, said once after them

    def add(self, line):
        if line not in self.lines:
            self.lines.append(line)

    def mentions(self, word):
        return any(word in line for line in self.lines)


# ---- what the programs say about themselves ----


class Program:
    def __init__(self, name, binary, help_text):
        self.name = name  # "mochi-collector", "mochictl lag"
        self.bin = binary  # "mochi-collector", "mochictl"
        self.help = help_text
        self.envs = []
        self.flags = []
        for m in re.finditer(r"\[env (MOCHI_[A-Z0-9_]+)\]", help_text):
            if m.group(1) not in self.envs:
                self.envs.append(m.group(1))
        # "Migrations are read from $MOCHI_SQL_DIR or ...": a variable the
        # program reads outside its settings table.
        self.env_only = sorted(set(re.findall(r"\$(MOCHI_[A-Z0-9_]+)", help_text)))
        m = re.search(r"should use the ([a-z_][a-z0-9_]*) role", help_text)
        self.role = m.group(1) if m else ""
        for line in help_text.split("\n"):
            if line.startswith("  --"):
                flag = line[2:].split()[0]
                if flag not in self.flags:
                    self.flags.append(flag)
        if "--help" not in self.flags:
            self.flags.append("--help")
        self.serves_healthz = "/healthz" in help_text
        self.serves_metrics = "--print-metrics" in self.flags


class Script:
    def __init__(self, name):
        self.name = name  # "demo.sh"
        self.flags = []


class World:
    """Everything the checks know about the built programs and the tree."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.binaries = []  # program file names CMakeLists.txt builds
        self.programs = []
        self.all_flags = set()
        self.all_envs = set()  # every MOCHI_* variable a program or script reads
        self.env_only = set()  # read outside the settings tables ($MOCHI_* in --help)
        self.cmake_options = set()
        self.scripts = {}
        self.runtime_packages = None  # of compose/Dockerfile's last stage, once known
        self.load()

    def bin(self, name):
        return os.path.join(self.bin_dir, name)

    def find_program(self, name):
        for p in self.programs:
            if p.name == name:
                return p
        return None

    def load_program(self, binary, *words):
        path = self.bin(binary)
        if not os.access(path, os.X_OK):
            raise Trouble("%s is not built (cmake --build %s)" % (path, self.bin_dir))
        code, out, err = run([path] + list(words) + ["--help"], env=self.clean_env)
        if code != 0:
            raise Trouble("'%s --help' exited %d: %s" % (" ".join([binary] + list(words)), code,
                                                         err.strip()))
        p = Program(" ".join([binary] + list(words)), binary, out)
        self.programs.append(p)
        self.all_flags.update(p.flags)
        self.all_envs.update(p.envs)
        self.all_envs.update(p.env_only)
        self.env_only.update(p.env_only)
        return p

    def load(self):
        cmake = read_src("CMakeLists.txt")
        if cmake is None:
            raise Trouble("CMakeLists.txt is missing")
        # The "NAME:DIR" entries of the program list, kept when DIR/main.c
        # exists (as CMakeLists.txt and scripts/gen-config-docs.sh do).
        for name, directory in re.findall(r'"([a-z][a-z0-9-]*):([a-z/]+)"', cmake):
            if os.path.exists(os.path.join(ROOT, directory, "main.c")) and \
                    name not in self.binaries:
                self.binaries.append(name)
        self.cmake_options = set(re.findall(r"option\((MOCHI_[A-Z0-9_]+)", cmake))
        if not self.binaries:
            raise Trouble("CMakeLists.txt names no program")
        # The programs run without the caller's MOCHI_* settings, which
        # would change what --print-config says.
        self.clean_env = {k: v for k, v in os.environ.items() if not k.startswith("MOCHI_")}
        for binary in self.binaries:
            p = self.load_program(binary)
            if binary != "mochictl":
                continue
            # "Commands:" then "  sites add        add a site: ..."
            at = p.help.find("\nCommands:\n")
            if at < 0:
                raise Trouble("mochictl --help lists no commands")
            for line in p.help[at + 11:].split("\n"):
                if line == "":
                    continue
                if not line.startswith("  ") or not line[2:3].islower():
                    break
                self.load_program("mochictl", *line[2:].split("  ")[0].split())
        self.load_scripts()

    def load_scripts(self):
        """The repository's scripts: the flags their `case` (or argparse)
        takes and the MOCHI_* variables they read count as existing too."""
        case_flag = re.compile(r"(^|[\s|(])(--[a-z][a-z0-9-]*)(=\*)?\s*[|)]", re.M)
        argparse_flag = re.compile(r"add_argument\(\s*\"(--[a-z][a-z0-9-]*)\"")
        env = re.compile(r"\$\{?(MOCHI_[A-Z0-9_]+)")
        for path in sorted(glob.glob(os.path.join(ROOT, "scripts", "*"))):
            if not os.path.isfile(path):
                continue
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            sc = Script(os.path.basename(path))
            for m in case_flag.finditer(text):
                sc.flags.append(m.group(2))
            sc.flags += argparse_flag.findall(text)
            self.all_flags.update(sc.flags)
            self.all_envs.update(env.findall(text))
            self.scripts[sc.name] = sc


# ---- names in text: MOCHI_* variables and --flags ----


def env_known(w, name, prefix):
    if not prefix:
        return name in w.all_envs or name in w.cmake_options
    return any(e.startswith(name) for e in w.all_envs)


def check_env_words(w, label, text, r):
    """Every MOCHI_* word of text must be a variable some program reads (or
    a CMake option); "MOCHI_LOADGEN_*" must be the prefix of one."""
    for m in re.finditer(r"MOCHI_[A-Z0-9_]*[A-Z0-9]", text):
        start = m.start()
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
            continue
        after = m.end()
        while after < len(text) and text[after] == "_":
            after += 1
        prefix = after < len(text) and text[after] == "*"
        name = m.group(0)
        if not env_known(w, name, prefix):
            r.add("%s:%d: %s%s is not an environment variable of any program%s" %
                  (label, line_of(text, start), name, "*" if prefix else "",
                   "" if prefix else " (see the programs' --help)"))


def token_flag(tok):
    """"--name" from a token such as "[--json]" or "--rewind=time,"; None
    if the token is not a long flag."""
    tok = tok.lstrip("[({\"'`<")
    m = re.match(r"--[a-z][a-z0-9-]*", tok)
    if not m:
        return None
    flag = m.group(0).rstrip("-")
    return flag if len(flag) > 2 else None


def token_word(tok, basename):
    """A word without surrounding punctuation, or its last path component."""
    tok = tok.lstrip("[({\"'`<$")
    if basename and "/" in tok:
        tok = tok[tok.rindex("/") + 1:]
    return tok.rstrip(")]}\"'`>,.:;")


def command_word(tok):
    """The file name of a token that runs a program: its path, with nothing
    after it ("mochictl," in a list of names is not a command), else None."""
    tok = tok.lstrip("[(\"'`$")
    if tok == "" or tok[-1] in ")]}\"'`>,.:;":
        return None
    return token_word(tok, True)


def is_placeholder(word):
    return word[:1].isupper() and all(c.isupper() or c == "_" for c in word)


def is_command_prefix(tok):
    """Words that may stand before a command: FOO=bar, sudo, env, ..."""
    if tok in ("sudo", "env", "exec", "time", "nohup", "$"):
        return True
    return re.match(r"[A-Za-z0-9_]+=", tok) is not None and not tok[0].isdigit()


def check_program_flag(w, label, lineno, tok, j, i, binary, flag, r):
    """The flag tok[i] follows program tok[j]: it must be one of that
    program's (for mochictl, of the command named after it)."""
    p = None
    if binary == "mochictl" and j + 1 < i:
        w1 = token_word(tok[j + 1], False)
        w2 = token_word(tok[j + 2], False) if j + 2 < i else ""
        p = w.find_program("mochictl %s %s" % (w1, w2)) or w.find_program("mochictl " + w1)
        if p is None and is_placeholder(w1):
            if not any(q.bin == "mochictl" and flag in q.flags for q in w.programs):
                r.add("%s:%d: %s is not an option of any mochictl command" % (label, lineno, flag))
            return
        if p is None:
            r.add("%s:%d: mochictl has no command '%s' (see mochictl --help)" %
                  (label, lineno, w1))
            return
    else:
        p = w.find_program(binary)
    if p is not None and flag not in p.flags:
        r.add("%s:%d: %s is not an option of %s (see `%s --help`)" %
              (label, lineno, flag, p.name, p.name))


def check_segment(w, label, lineno, segment, prose, r):
    """One shell command (or a piece of prose). A flag after a Mochi
    program's name must be that program's, after a script of scripts/ that
    script's; a flag of another command (cmake, docker, ...) is not checked;
    a flag on its own (prose, a table cell) must be some program's or
    script's."""
    tok = segment.split()[:MAX_TOKENS]
    for i in range(len(tok) - 1 if not prose else 0):
        # "mochictl WORD [WORD]" must name one of its commands (or group).
        binary = command_word(tok[i])
        if binary != "mochictl":
            continue
        w1 = token_word(tok[i + 1], False)
        if not w1[:1].islower():
            continue
        w2 = token_word(tok[i + 2], False) if i + 2 < len(tok) else ""
        name = "mochictl " + w1
        known = w.find_program("%s %s" % (name, w2)) is not None or \
            w.find_program(name) is not None or \
            any(p.name.startswith(name + " ") for p in w.programs)
        if not known:
            r.add("%s:%d: mochictl has no command '%s' (see mochictl --help)" %
                  (label, lineno, w1))
    for i, t in enumerate(tok):
        flag = token_flag(t)
        if flag is None:
            continue
        # The first program of the command runs; a later name is an
        # argument ("mochictl lag --group mochi-rollup").
        j, binary = -1, None
        for k in range(i if not prose else 0):
            binary = command_word(tok[k])
            if binary in w.binaries:
                j = k
                break
        if j >= 0:
            check_program_flag(w, label, lineno, tok, j, i, binary, flag, r)
            continue
        first = 0
        while not prose and first < i and is_command_prefix(tok[first]):
            first += 1
        if not prose and first < i and tok[first] in ("bash", "sh", "python3"):
            first += 1
        sc = None
        if not prose and first < i:
            word = command_word(tok[first])
            sc = w.scripts.get(word) if word else None
        if sc is not None:
            if flag not in sc.flags:
                r.add("%s:%d: %s is not an option of scripts/%s" % (label, lineno, flag, sc.name))
            continue
        if not prose and first < i:
            continue  # another command's flag
        if flag not in w.all_flags:
            r.add("%s:%d: %s is not an option of any program (see their --help)" %
                  (label, lineno, flag))


def check_code_line(w, label, lineno, line, r):
    """A line of shell, split into commands at && || ; | &. A "# comment"
    is checked the same way, as it often shows a command."""
    for i, c in enumerate(line):
        if c == "#" and (i == 0 or line[i - 1].isspace()):
            check_code_line(w, label, lineno, line[i + 1:], r)
            line = line[:i]
            break
    for seg in re.split(r"[;|&\n]", line):
        if seg:
            check_segment(w, label, lineno, seg, False, r)


def check_paragraph(w, label, first, text, r):
    """A paragraph of Markdown prose starting at line first: each `code
    span` (which may wrap lines) is checked as a command, the rest as
    prose."""
    prose = list(text)
    i = 0
    while i < len(text):
        if text[i] != "`":
            i += 1
            continue
        run_len = 0
        while i + run_len < len(text) and text[i + run_len] == "`":
            run_len += 1
        # the closing run of the same length
        k = i + run_len
        close = 0
        while k < len(text):
            if text[k] == "`":
                n = 0
                while k + n < len(text) and text[k + n] == "`":
                    n += 1
                if n == run_len:
                    close = k
                    break
                k += n
            else:
                k += 1
        if close == 0:
            i += run_len
            continue
        span = text[i + run_len:close].replace("\n", " ")
        check_code_line(w, label, first + line_of(text, i) - 1, span, r)
        for c in range(i, close + run_len):
            if prose[c] != "\n":
                prose[c] = " "
        i = close + run_len
    prose = "".join(prose)
    offset = 0
    for line in prose.split("\n"):
        if line:
            check_segment(w, label, first + line_of(text, offset) - 1, line, True, r)
        offset += len(line) + 1


def check_markdown(w, label, text, r):
    """Checks the MOCHI_* words and --flags of a Markdown file."""
    check_env_words(w, label, text, r)
    fence = False
    fence_char = ""
    pending = None  # a code line continued with a backslash
    pending_line = 0
    para = None  # prose lines up to a blank line or a fence
    para_line = 0
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, l in enumerate(lines, 1):
        t = l
        for _ in range(3):
            if t.startswith(" "):
                t = t[1:]
        is_fence = (t.startswith("```") or t.startswith("~~~")) and \
            (not fence or t[0] == fence_char)
        blank = l.strip(" \t") == ""
        if para is not None and (is_fence or blank or fence):
            check_paragraph(w, label, para_line, para, r)
            para = None
        if is_fence:
            fence = not fence
            fence_char = t[0]
        elif fence:
            continued = l.endswith("\\")
            if continued:
                l = l[:-1] + " "
            if pending is None:
                pending_line = lineno
                pending = l
            else:
                pending = pending + " " + l
            if not continued:
                check_code_line(w, label, pending_line, pending, r)
                pending = None
        elif not blank:
            if para is None:
                para_line = lineno
                para = l
            else:
                para = para + "\n" + l
    if para is not None:
        check_paragraph(w, label, para_line, para, r)
    if pending is not None:
        check_code_line(w, label, pending_line, pending, r)


def check_docs_name_real_settings(w, r):
    readme = read_src("README.md")
    if readme is None:
        r.add("README.md is missing")
    else:
        check_markdown(w, "README.md", readme, r)
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        label = "docs/" + os.path.basename(path)
        check_markdown(w, label, read_src(label), r)
    for required in ("docs/configuration.md", "docs/metrics.md", "docs/operations.md"):
        if not os.path.exists(os.path.join(ROOT, required)):
            r.add("%s is missing" % required)
    compose_readme = read_src("compose/README.md")
    if compose_readme is not None:
        check_markdown(w, "compose/README.md", compose_readme, r)
    # Variables only here: their flags are checked service by service.
    for name in ("compose/docker-compose.yml", "compose/Dockerfile"):
        text = read_src(name)
        if text is None:
            r.add("%s is missing" % name)
        else:
            check_env_words(w, name, text, r)


# ---- compose/docker-compose.yml ----


def load_yaml(path):
    """The compose file, or raises Trouble when PyYAML is missing, or
    returns (None, why) when it does not parse."""
    try:
        import yaml
    except ImportError:
        raise Trouble("python3 with PyYAML is needed to parse %s (Debian: python3-yaml, see "
                      "scripts/install-deps.sh)" % path)
    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f), None
    except (OSError, yaml.YAMLError) as e:
        return None, "it does not parse as YAML: %s" % e


def scalar_text(v):
    """A YAML scalar as text ("" for null)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%g" % v
    return ""


def values_get(entries, name):
    """For "K=V" entries: the value of name, or None."""
    for e in entries:
        if e.startswith(name + "="):
            return e[len(name) + 1:]
    return None


class Service:
    def __init__(self, name, obj):
        self.name = name
        self.obj = obj if isinstance(obj, dict) else {}
        self.ours = False  # runs the image compose/Dockerfile builds
        self.tool = False  # in a profile: started on demand only
        self.health = False
        self.oneshot = False
        self.argv = []
        self.env = []  # "K=V"
        self.effective = []  # --print-config lines
        self.program = None
        self.mochictl_any = False  # mochictl with the command given at `docker compose run`


def add_args(argv, v):
    if isinstance(v, str):
        argv += v.split()
    elif isinstance(v, list):
        argv += [scalar_text(e) for e in v]


def split_address(addr):
    """(host, port) of "HOST:PORT" or "[V6]:PORT"."""
    if ":" not in addr:
        return addr, ""
    host, port = addr.rsplit(":", 1)
    if len(host) >= 2 and host[0] == "[" and host[-1] == "]":
        host = host[1:-1]
    return host, port


def container_port(entry):
    """The container side of a "ports:" or "expose:" entry."""
    if isinstance(entry, dict):
        return scalar_text(entry.get("target"))
    text = scalar_text(entry).split("/")[0]
    return text.rsplit(":", 1)[-1]


def parse_db_url(url):
    """(user, password, host) of a postgresql:// URI or a key=value
    conninfo (enough for compose)."""
    user = password = host = ""
    if "://" in url:
        rest = url.split("://", 1)[1]
        auth = rest.split("/", 1)[0]
        hostpart = auth
        if "@" in auth:
            cred, hostpart = auth.rsplit("@", 1)
            user, _, password = cred.partition(":")
        host = split_address(hostpart)[0]
        return user, password, host
    for kv in url.split(" "):
        if kv.startswith("user="):
            user = kv[5:]
        elif kv.startswith("password="):
            password = kv[9:]
        elif kv.startswith("host="):
            host = kv[5:]
    return user, password, host


def is_loopback(host):
    return host.startswith("127.") or host in ("localhost", "::1")


def read_service(label, compose_dir, s, r):
    """Reads one service: image, command, environment."""
    build = s.obj.get("build")
    if build is not None:
        context = build if isinstance(build, str) else (build or {}).get("context")
        dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
        path = "%s/%s/%s" % (compose_dir, context or ".", dockerfile or "Dockerfile")
        if not os.path.exists(path):
            r.add("%s: service %s builds from %s, which does not exist" % (label, s.name, path))
        elif os.path.realpath(path) == os.path.realpath(os.path.join(ROOT, "compose",
                                                                     "Dockerfile")):
            s.ours = True
    s.tool = "profiles" in s.obj
    health = s.obj.get("healthcheck")
    s.health = health is not None and not (isinstance(health, dict) and
                                           health.get("disable") is True)
    restart = s.obj.get("restart")
    s.oneshot = not s.health and not s.tool and "ports" not in s.obj and \
        (restart is None or restart == "no")
    add_args(s.argv, s.obj.get("entrypoint"))
    add_args(s.argv, s.obj.get("command"))
    env = s.obj.get("environment")
    if isinstance(env, dict):
        for key, value in env.items():
            if value is None:
                continue  # taken from the shell running compose
            kv = "%s=%s" % (key, scalar_text(value))
            if kv not in s.env:
                s.env.append(kv)
    elif isinstance(env, list):
        for e in env:
            if isinstance(e, str) and "=" in e and e not in s.env:
                s.env.append(e)


def mark_our_images(svcs):
    """The image of another service that builds ours counts as ours."""
    for s in svcs:
        image = s.obj.get("image")
        if not s.ours or not isinstance(image, str):
            continue
        for o in svcs:
            if o.obj.get("image") == image:
                o.ours = True


def check_our_service(w, label, s, r):
    """Which Mochi program a service of our image runs, and whether its
    flags and variables are that program's."""
    if not s.argv:
        r.add("%s: service %s has no command, and the image has none" % (label, s.name))
        return
    binary = token_word(s.argv[0], True)
    if binary not in w.binaries:
        r.add("%s: service %s runs '%s', which is not a Mochi program (%s)" %
              (label, s.name, s.argv[0], ", ".join(w.binaries)))
        return
    first_flag = 1
    if binary == "mochictl":
        if len(s.argv) == 1:
            s.mochictl_any = True
        else:
            first_flag = 3
            if len(s.argv) > 2:
                s.program = w.find_program("mochictl %s %s" % (s.argv[1], s.argv[2]))
            if s.program is None:
                s.program = w.find_program("mochictl " + s.argv[1])
                first_flag = 2
            if s.program is None:
                r.add("%s: service %s runs mochictl %s, which is not a mochictl command" %
                      (label, s.name, s.argv[1]))
                return
    else:
        s.program = w.find_program(binary)
    for a in s.argv[first_flag:] if s.program else []:
        flag = token_flag(a)
        if flag and flag not in s.program.flags:
            r.add("%s: service %s passes %s, which is not an option of %s" %
                  (label, s.name, flag, s.program.name))
    for kv in s.env:
        name = kv.split("=", 1)[0]
        if not name.startswith("MOCHI_") or name in w.env_only:
            continue
        known = s.program is not None and name in s.program.envs
        if s.mochictl_any:
            known = known or any(p.bin == "mochictl" and name in p.envs for p in w.programs)
        if not known:
            r.add("%s: service %s sets %s, which %s does not read" %
                  (label, s.name, name, s.program.name if s.program else binary))
    if s.tool or s.program is None:
        return  # started with its arguments at `docker compose run`
    # The program itself judges the values, as it would at start.
    env = dict(w.clean_env)
    for kv in s.env:
        k, _, v = kv.partition("=")
        env[k] = v
    code, out, err = run([w.bin(binary)] + s.argv[1:] + ["--print-config"], env=env)
    if code != 0:
        r.add("%s: service %s: `%s --print-config` with the service's environment exits %d: %s"
              % (label, s.name, s.program.name, code, err.strip()))
    else:
        s.effective = [line for line in out.split("\n") if line]


def check_ports(w, label, s, r):
    """Its listen settings against its ports and healthcheck."""
    listen = values_get(s.effective, "MOCHI_LISTEN")
    metrics = values_get(s.effective, "MOCHI_METRICS_LISTEN")
    healthz = metrics if metrics is not None else listen
    lhost, lport = split_address(listen) if listen is not None else ("", "")
    mhost, mport = split_address(metrics) if metrics is not None else ("", "")
    for key, verb in (("ports", "publishes"), ("expose", "exposes")):
        entries = s.obj.get(key)
        for e in entries if isinstance(entries, list) else []:
            port = container_port(e)
            host = lhost if port == lport else mhost if port == mport else None
            if host is None:
                where = " and ".join(x for x in (
                    "%s (MOCHI_LISTEN)" % listen if listen is not None else "",
                    "%s (MOCHI_METRICS_LISTEN)" % metrics if metrics is not None else "") if x)
                r.add("%s: service %s %s container port %s, but %s listens on %s" %
                      (label, s.name, verb, port, s.program.name, where))
            elif is_loopback(host):
                r.add("%s: service %s %s port %s, but %s binds it to %s inside the container: "
                      "nothing outside the container reaches it" %
                      (label, s.name, verb, port, s.program.name, host))
    if not s.program.serves_healthz or healthz is None:
        return
    if not s.health:
        r.add("%s: service %s (%s) has no healthcheck; it serves /healthz on %s" %
              (label, s.name, s.program.name, healthz))
        return
    test = s.obj["healthcheck"].get("test") if isinstance(s.obj["healthcheck"], dict) else None
    if isinstance(test, list):
        argv = []
        add_args(argv, test)
        text = " ".join(argv)
        # The tool the check runs must be in the image.
        first = 1 if argv and argv[0].startswith("CMD") else 0
        if len(argv) > first and w.runtime_packages is not None:
            tool = token_word(argv[first], True)
            if tool not in w.runtime_packages and tool not in w.binaries:
                r.add("%s: service %s's healthcheck runs %s, which compose/Dockerfile's runtime "
                      "stage does not install" % (label, s.name, tool))
    else:
        text = scalar_text(test)
    hport = split_address(healthz)[1]
    m = re.search(r"https?://[^/: ]+:([0-9]+)(/[^ \"']*)", text)
    if m is None:
        r.add("%s: service %s's healthcheck fetches no http://HOST:PORT/healthz URL" %
              (label, s.name))
    elif m.group(1) != hport or m.group(2) != "/healthz":
        r.add("%s: service %s's healthcheck fetches port %s path %s, but %s serves /healthz on %s"
              % (label, s.name, m.group(1), m.group(2), s.program.name, healthz))


def dependencies(s):
    deps = s.obj.get("depends_on")
    if isinstance(deps, dict):
        return list(deps.items())
    if isinstance(deps, list):
        return [(d, None) for d in deps]
    return []


def reaches(by_name, frm, to, depth=0):
    """Depth-first: does frm reach to through depends_on?"""
    if depth > 32:
        return False
    for key, _ in dependencies(frm):
        d = by_name.get(key) if isinstance(key, str) else None
        if key == to or (d is not None and reaches(by_name, d, to, depth + 1)):
            return True
    return False


def check_depends_on(label, by_name, s, r):
    deps = s.obj.get("depends_on")
    if isinstance(deps, list):
        for key in deps:
            if not isinstance(key, str) or key not in by_name:
                r.add("%s: service %s depends on unknown service %s" %
                      (label, s.name, key if isinstance(key, str) else "?"))
        return
    for key, value in dependencies(s):
        d = by_name.get(key)
        cond = value.get("condition") if isinstance(value, dict) else None
        cond = cond or "service_started"
        if d is None:
            r.add("%s: service %s depends on unknown service %s" % (label, s.name, key))
        elif cond not in ("service_started", "service_healthy",
                          "service_completed_successfully"):
            r.add("%s: service %s waits for %s with unknown condition %s" %
                  (label, s.name, key, cond))
        elif d.health and cond != "service_healthy":
            r.add("%s: service %s waits for %s with %s, but %s has a healthcheck: use "
                  "service_healthy" % (label, s.name, key, cond, key))
        elif not d.health and cond == "service_healthy":
            r.add("%s: service %s waits for %s to be healthy, but %s has no healthcheck" %
                  (label, s.name, key, key))
        elif d.oneshot and cond != "service_completed_successfully":
            r.add("%s: service %s waits for one-shot %s with %s: use "
                  "service_completed_successfully" % (label, s.name, key, cond))


def find_topics(s):
    """(name, partitions, service) of each topic a command creates:
    kafka-topics.sh --create ... --topic NAME --partitions N, or mochictl
    topics ensure [--topic NAME] --partitions N (which also makes NAME.dlq)."""
    topics = []
    for cmd in re.split(r"[;&|]", " ".join(s.argv)):
        ensure = "mochictl topics ensure" in cmd
        if not ensure and ("kafka-topics" not in cmd or "--create" not in cmd):
            continue
        name, partitions, prev = "", 0, None
        for word in cmd.split():
            if prev == "--topic":
                name = word
            if prev == "--partitions":
                m = re.match(r"[+-]?[0-9]+", word)
                partitions = int(m.group(0)) if m else 0
            prev = word
        if ensure:
            # The page-view topic (--topic, else MOCHI_TOPIC, else the
            # default) and its dead-letter topic.
            name = name or values_get(s.effective, "MOCHI_TOPIC") or "mochi.pageviews"
            topics.append((name, partitions, s.name))
            topics.append((name + ".dlq", partitions, s.name))
        elif name:
            topics.append((name, partitions, s.name))
    return topics


def check_compose(w, label, compose_dir, root, r):
    """The whole compose document. compose_dir resolves build contexts."""
    services = root.get("services") if isinstance(root, dict) else None
    if not isinstance(services, dict) or not services:
        r.add("%s: no services" % label)
        return
    svcs = [Service(name, obj) for name, obj in services.items()]
    by_name = {s.name: s for s in svcs}
    for s in svcs:
        read_service(label, compose_dir, s, r)
    mark_our_images(svcs)

    # Passwords the file sets: ALTER ROLE in commands, POSTGRES_* of the server.
    passwords = []  # "role=password"
    alter = re.compile(r"ALTER ROLE ([a-z_][a-z0-9_]*) (WITH )?([A-Z]+ )*PASSWORD '([^']*)'",
                       re.I)
    topics = []
    for s in svcs:
        for m in alter.finditer(" ".join(s.argv)):
            passwords.append("%s=%s" % (m.group(1), m.group(4)))
        pg_password = values_get(s.env, "POSTGRES_PASSWORD")
        if pg_password is not None:
            passwords.append("%s=%s" % (values_get(s.env, "POSTGRES_USER") or "postgres",
                                        pg_password))
        topics += find_topics(s)

    migrate = None
    for s in svcs:
        if not s.ours:
            for kv in s.env:
                if kv.startswith("MOCHI_"):
                    r.add("%s: service %s sets %s but does not run a Mochi program" %
                          (label, s.name, kv.split("=", 1)[0]))
            adv = values_get(s.env, "KAFKA_ADVERTISED_LISTENERS")
            roles = values_get(s.env, "KAFKA_PROCESS_ROLES")
            if adv is not None and (roles is None or "controller" not in roles):
                r.add("%s: service %s runs Kafka without a KRaft controller "
                      "(KAFKA_PROCESS_ROLES)" % (label, s.name))
            check_depends_on(label, by_name, s, r)
            continue
        check_our_service(w, label, s, r)
        check_depends_on(label, by_name, s, r)
        if s.program and s.program.name == "mochictl migrate" and not s.tool:
            migrate = s
        if s.program and not s.tool and s.effective:
            check_ports(w, label, s, r)
        # Its database login.
        url = values_get(s.env, "MOCHI_DATABASE_URL")
        if url is not None:
            user, password, host = parse_db_url(url)
            if s.program and s.program.role and user != s.program.role:
                r.add("%s: service %s logs in to PostgreSQL as '%s', but %s should use the %s "
                      "role (see its --help)" % (label, s.name, user, s.program.name,
                                                 s.program.role))
            given = values_get(passwords, user)
            if given is None:
                r.add("%s: service %s logs in as role %s, but no service gives %s a password "
                      "(ALTER ROLE %s PASSWORD '...')" % (label, s.name, user, user, user))
            elif given != password:
                r.add("%s: service %s logs in as role %s with another password than the one "
                      "the compose file sets for it" % (label, s.name, user))
            if host and host not in by_name:
                r.add("%s: service %s's MOCHI_DATABASE_URL names host %s, not a service" %
                      (label, s.name, host))
        # Its brokers: each one a service's advertised listener.
        brokers = values_get(s.env, "MOCHI_KAFKA_BROKERS")
        for b in brokers.split(",") if brokers is not None else []:
            b = b.strip()
            if not b:
                continue
            host = split_address(b)[0]
            broker = by_name.get(host)
            adv = values_get(broker.env, "KAFKA_ADVERTISED_LISTENERS") if broker else None
            if broker is None:
                r.add("%s: service %s's MOCHI_KAFKA_BROKERS names %s, not a service" %
                      (label, s.name, host))
            elif adv is not None and "://" + b not in adv:
                r.add("%s: service %s's MOCHI_KAFKA_BROKERS has %s, which is not one of %s's "
                      "KAFKA_ADVERTISED_LISTENERS (%s)" % (label, s.name, b, host, adv))

    # The pipeline: migrations first, topics created, enough partitions.
    if migrate is None:
        r.add("%s: no service runs mochictl migrate" % label)
    made_by = {}
    for t in topics:
        made_by.setdefault(t[0], t)
    for s in svcs:
        if not s.ours or s.tool or s.program is None or not s.program.serves_healthz:
            continue
        if migrate is not None and not reaches(by_name, s, migrate.name):
            r.add("%s: service %s does not wait for %s (the migrations)" %
                  (label, s.name, migrate.name))
        topic = values_get(s.effective, "MOCHI_TOPIC")
        if topic is None:
            continue
        for name in (topic, topic + ".dlq"):
            made = made_by.get(name)
            if made is None:
                r.add("%s: service %s uses topic %s, which no service creates "
                      "(kafka-topics.sh --create --topic %s)" % (label, s.name, name, name))
            elif not reaches(by_name, s, made[2]):
                r.add("%s: service %s does not wait for %s, which creates topic %s" %
                      (label, s.name, made[2], name))
        made = made_by.get(topic)
        members = sum(1 for o in svcs if o.program is s.program and not o.tool)
        if made is not None and made[1] < 2:
            r.add("%s: topic %s has %d partition(s): give it several so that consumers can "
                  "share it" % (label, topic, made[1]))
        elif made is not None and members > made[1]:
            r.add("%s: %d services run %s but topic %s has %d partitions: the extra members "
                  "would sit idle" % (label, members, s.program.name, topic, made[1]))


def check_compose_file(w, r):
    # The Dockerfile's runtime packages tell which healthcheck tools exist.
    dockerfile = read_src("compose/Dockerfile")
    if dockerfile is not None:
        d = parse_dockerfile(dockerfile)
        w.runtime_packages = d["packages"][-1] if d["packages"] else None
    label = "compose/docker-compose.yml"
    root, why = load_yaml(os.path.join(ROOT, label))
    if why is not None:
        r.add("%s: %s" % (label, why))
        return
    check_compose(w, label, os.path.join(ROOT, "compose"), root, r)


# ---- compose/Dockerfile ----


def logical_lines(text):
    """Lines without comments, continuations joined."""
    out = []
    for line in text.split("\n"):
        if line.strip().startswith("#"):
            continue
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            out.append(stripped[:-1] + " ")
        else:
            out.append(line + "\n")
    return "".join(out)


SEPARATORS = ("&&", "||", ";", "|")


def scan_command_line(line, packages, targets):
    """apt-get install's packages (into packages, unless None) and cmake
    --build's targets (into targets, unless None) in one command line;
    returns whether it runs cmake --build."""
    tok = line.split()[:MAX_TOKENS]
    cmake_build = False
    for i in range(len(tok) - 1):
        if tok[i] in ("apt-get", "apt") and packages is not None:
            k = i + 1
            while k < len(tok) and tok[k].startswith("-"):
                k += 1
            if k < len(tok) and tok[k] == "install":
                for t in tok[k + 1:]:
                    if t in SEPARATORS:
                        break
                    last = t.endswith(";")
                    t = t.rstrip(";") if last else t
                    if t and t[0] not in "-\"" and t not in packages:
                        packages.append(t)
                    if last:
                        break
        if tok[i] == "cmake" and tok[i + 1] == "--build":
            cmake_build = True
            k = i + 2
            while k < len(tok) and tok[k] not in SEPARATORS:
                if tok[k] in ("--target", "-t"):
                    k += 1
                    while k < len(tok) and not tok[k].startswith("-") and \
                            tok[k] not in SEPARATORS:
                        if targets is not None and tok[k] not in targets:
                            targets.append(tok[k])
                        k += 1
                    continue
                k += 1
    return cmake_build


def parse_dockerfile(text):
    """Per stage: apt-get packages and ENV "K=V"; the build (first) stage's
    cmake --build targets."""
    d = {"packages": [], "env": [], "targets": [], "cmake_build": False}
    for line in logical_lines(text).split("\n"):
        line = line.strip()
        upper = line[:5].upper()
        if upper.startswith("FROM "):
            d["packages"].append([])
            d["env"].append([])
        elif d["packages"] and upper.startswith("RUN "):
            first = len(d["packages"]) == 1
            if scan_command_line(line[4:], d["packages"][-1], d["targets"] if first else None):
                d["cmake_build"] = True
        elif d["packages"] and upper.startswith("ENV "):
            d["env"][-1] += [kv for kv in line[4:].split() if "=" in kv]
    return d


def install_deps_packages(text):
    """The words of scripts/install-deps.sh's packages=( ... )."""
    m = re.search(r"packages=\(([^)]*)", text)
    return m.group(1).split() if m else []


def first_line(argv):
    code, out, _ = run(argv)
    if code != 0 or out == "":
        return None
    return out.split("\n")[0]


def package_of(path):
    """The Debian package holding path, or None."""
    line = first_line(["dpkg-query", "-S", path])
    if line is None:
        real = os.path.realpath(path)
        return package_of(real) if real != path else None
    return line.split(":")[0]


def check_dockerfile(w, label, text, r):
    d = parse_dockerfile(text)
    if len(d["packages"]) < 2:
        r.add("%s: expected a build stage and a runtime stage, found %d stage(s)" %
              (label, len(d["packages"])))
        return
    build, runtime = d["packages"][0], d["packages"][-1]

    # Build stage: scripts/install-deps.sh's -dev packages and build tools.
    deps = install_deps_packages(read_src("scripts/install-deps.sh") or "")
    if not deps:
        r.add("scripts/install-deps.sh: no packages=( ... ) list found")
    for p in deps:
        # libFuzzer's runtime serves scripts/fuzz.sh only, not the build.
        needed = (p.endswith("-dev") and len(p) > 4 and p != "libclang-rt-14-dev") or \
            p in ("build-essential", "cmake", "pkg-config")
        if needed and p not in build:
            r.add("%s: the build stage does not install %s (scripts/install-deps.sh does)" %
                  (label, p))
    for p in build:
        if p.endswith("-dev") and len(p) > 4 and p not in deps:
            r.add("%s: the build stage installs %s, which scripts/install-deps.sh does not" %
                  (label, p))

    # Every pkg-config module the CMake files require: its -dev package.
    module_rx = re.compile(
        r"pkg_check_modules\([A-Z_]+ +REQUIRED( +IMPORTED_TARGET)? +([A-Za-z0-9_.+-]+)\)")
    for cmake_file in ("CMakeLists.txt", "cmake/MochiTest.cmake"):
        for m in module_rx.finditer(read_src(cmake_file) or ""):
            module = m.group(2)
            pcdir = first_line(["pkg-config", "--variable=pcfiledir", module])
            pkg = package_of("%s/%s.pc" % (pcdir, module)) if pcdir else None
            if pkg is None:
                r.add("%s: cannot tell which Debian package provides pkg-config module %s" %
                      (cmake_file, module))
            elif pkg not in build:
                r.add("%s: the build stage does not install %s, which provides the pkg-config "
                      "module %s that %s requires" % (label, pkg, module, cmake_file))
            elif pkg not in deps:
                r.add("scripts/install-deps.sh does not install %s, which provides the "
                      "pkg-config module %s that %s requires" % (pkg, module, cmake_file))

    # The README's cmake targets.
    readme_targets = []
    readme_build = False
    for line in logical_lines(read_src("README.md") or "").split("\n"):
        readme_build = scan_command_line(line, None, readme_targets) or readme_build
    targets = d["targets"]
    if not d["cmake_build"]:
        r.add("%s: the build stage runs no `cmake --build`" % label)
    elif not readme_build:
        r.add("README.md: no `cmake --build` command to compare compose/Dockerfile with")
    elif len(targets) != len(readme_targets):
        r.add("%s builds cmake targets %s, README.md builds %s" %
              (label, ", ".join(targets) or "(none)", ", ".join(readme_targets) or "(none)"))
    else:
        for t in targets:
            if t not in readme_targets:
                r.add("%s builds cmake target %s, README.md does not" % (label, t))

    # Runtime stage: the directories the programs look up, and the package
    # of every shared library they link.
    for e in sorted(w.env_only):
        if e.endswith("_DIR") and values_get(d["env"][-1], e) is None:
            r.add("%s: the runtime stage does not set %s, which the programs read" % (label, e))
    missing = set()
    for b in w.binaries:
        path = w.bin(b)
        code_elf, elf, _ = run(["readelf", "-d", path])
        code_ldd, ldd, _ = run(["ldd", path])
        if code_elf != 0 or code_ldd != 0:
            r.add("cannot list the libraries of %s (readelf -d, ldd)" % path)
            continue
        for soname in re.findall(r"\(NEEDED\)[^[]*\[([^]]+)\]", elf):
            m = re.search(r"\t" + re.escape(soname) + r" => (\S+)", ldd)
            lib = m.group(1) if m else ""
            pkg = package_of(lib) if lib.startswith("/") else None
            if pkg is None:
                r.add("cannot tell which Debian package provides %s (linked by %s)" % (soname, b))
                continue
            flags = first_line(["dpkg-query", "-W", "--showformat=${Essential}${Protected}", pkg])
            base = pkg == "libc6" or (flags is not None and "yes" in flags)
            sanitizer = pkg.startswith(("libasan", "libubsan", "liblsan"))
            if not base and not sanitizer and pkg not in runtime and pkg not in missing:
                missing.add(pkg)
                r.add("%s: the runtime stage does not install %s, which provides %s (linked by %s)"
                      % (label, pkg, soname, b))
    w.runtime_packages = runtime


def check_dockerfile_file(w, r):
    text = read_src("compose/Dockerfile")
    if text is None:
        r.add("compose/Dockerfile is missing")
    else:
        check_dockerfile(w, "compose/Dockerfile", text, r)


# ---- generated and listed references ----


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


CHECKS = [
    ("documentation names settings the programs do not have", check_docs_name_real_settings),
    ("compose/Dockerfile disagrees with the build", check_dockerfile_file),
    ("compose/docker-compose.yml disagrees with the programs", check_compose_file),
    ("docs/configuration.md is not what the programs say", check_configuration_md),
    ("docs/metrics.md and the daemons' --print-metrics disagree", check_metrics_file),
]


# ---- the checkers catch what they are for (wrong input on purpose) ----


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
