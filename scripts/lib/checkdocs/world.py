"""What the built programs say about themselves (--help), the scripts of
scripts/, and small helpers every check uses."""

import glob
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
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


def values_get(entries, name):
    """For "K=V" entries: the value of name, or None."""
    for e in entries:
        if e.startswith(name + "="):
            return e[len(name) + 1:]
    return None
