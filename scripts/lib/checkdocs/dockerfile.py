"""compose/Dockerfile against the build: its packages, cmake targets,
runtime libraries and the directories the programs look up."""

import os
import re

from checkdocs.world import MAX_TOKENS, read_src, run, values_get


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
