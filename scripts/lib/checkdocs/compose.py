"""compose/docker-compose.yml against the programs: what each service runs,
passes and sets, its ports, healthcheck, database login, brokers, and the
order in which the pipeline starts."""

import os
import re

from checkdocs.dockerfile import parse_dockerfile
from checkdocs.markdown import token_flag, token_word
from checkdocs.world import ROOT, Trouble, read_src, run, values_get


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


def listen_names(effective):
    """The names of a program's listen settings, from its --print-config:
    (address, metrics address), MOCHI_LISTEN and MOCHI_METRICS_LISTEN
    unless the program has its own (MOCHI_WEB_LISTEN, ...)."""
    names = [line.partition("=")[0] for line in effective]
    metrics = [n for n in names if n.endswith("_METRICS_LISTEN")]
    listen = [n for n in names if n.endswith("_LISTEN") and n not in metrics]
    return (listen[0] if len(listen) == 1 else "MOCHI_LISTEN",
            metrics[0] if len(metrics) == 1 else "MOCHI_METRICS_LISTEN")


def check_ports(w, label, s, r):
    """Its listen settings against its ports and healthcheck."""
    listen_name, metrics_name = listen_names(s.effective)
    listen = values_get(s.effective, listen_name)
    metrics = values_get(s.effective, metrics_name)
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
                    "%s (%s)" % (listen, listen_name) if listen is not None else "",
                    "%s (%s)" % (metrics, metrics_name) if metrics is not None else "") if x)
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
