"""Names in text: every MOCHI_* variable and --flag that README.md, docs/
and compose/ mention must be one a program (or a script) has."""

import glob
import os
import re

from checkdocs.world import MAX_TOKENS, ROOT, line_of, read_src


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
