#!/usr/bin/python3
"""deploy_bundle.py: the deploy bundle's files agree with each other and
with the program they deploy.

    deploy_bundle.py AGENTMON      (from the repo root; Debian's python3, PyYAML)

- prometheus.yml scrapes the collector, the agents, node_exporter,
  redis_exporter and postgres_exporter; the agentmon jobs match AgentDown's
  selector (job=~".*agent.*") and the exporters' jobs do not.
- alerts.yml: every rule's runbook_url is docs/RUNBOOKS.md#<its name in
  lower case>; RUNBOOKS.md has exactly one "## " section per rule and every
  in-page link (#anchor) in it resolves.
- docker-compose.yml: the services the bundle names; every bind-mounted path
  exists; every service listens where prometheus.yml, the alerting block and
  the Grafana data source expect it; Grafana's dashboard mount is the
  provisioning provider's path; agentmon's services use deploy/Dockerfile.
- Dockerfile: two bookworm-slim stages, the second copying from the first;
  its runtime packages hold every shared library AGENTMON needs directly
  (readelf -d, then dpkg -S).
Prints each problem; exit 1 when there is one.
"""
import os
import re
import subprocess
import sys

import yaml

DEPLOY = "deploy"
problems = []


def problem(msg):
    problems.append(msg)
    print("deploy_bundle: " + msg)


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


def port_of(addr):
    m = re.search(r":(\d+)$", addr)
    return int(m.group(1)) if m else None


def check_prometheus():
    cfg = load(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))
    jobs = {}
    for sc in cfg.get("scrape_configs", []):
        for st in sc.get("static_configs", []):
            for t in st.get("targets", []):
                jobs.setdefault(sc["job_name"], []).append(t)
    want = {"agentmon-collector": True, "agentmon-agents": True, "node": False, "redis": False,
            "postgres": False}
    for job, agent in want.items():
        if job not in jobs:
            problem("prometheus.yml: no scrape job %s" % job)
        elif bool(re.fullmatch(".*agent.*", job)) != agent:
            problem("prometheus.yml: job %s %s AgentDown's job=~\".*agent.*\"" % (
                job, "escapes" if agent else "matches"))
    am = [t for a in cfg["alerting"]["alertmanagers"] for s in a["static_configs"]
          for t in s["targets"]]
    return {job: [port_of(t) for t in ts] for job, ts in jobs.items()}, [port_of(t) for t in am]


def anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation gone, spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def check_runbooks():
    rules = load(os.path.join(DEPLOY, "prometheus", "alerts.yml"))
    names = []
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" not in r:
                continue
            names.append(r["alert"])
            want = "docs/RUNBOOKS.md#" + r["alert"].lower()
            got = r.get("annotations", {}).get("runbook_url")
            if got != want:
                problem("alerts.yml: %s: runbook_url %r, want %r" % (r["alert"], got, want))
    with open(os.path.join("docs", "RUNBOOKS.md"), encoding="utf-8") as f:
        text = f.read()
    sections = re.findall(r"^## (.+)$", text, re.M)
    for n in names:
        if sections.count(n) != 1:
            problem("RUNBOOKS.md: %d sections '## %s'" % (sections.count(n), n))
    for s in sections:
        if s not in names:
            problem("RUNBOOKS.md: section '## %s' is no alert of alerts.yml" % s)
    anchors = {anchor(h) for h in re.findall(r"^#+ (.+)$", text, re.M)}
    for link in re.findall(r"\]\(#([^)]+)\)", text):
        if link not in anchors:
            problem("RUNBOOKS.md: link #%s goes nowhere" % link)
    return len(names)


def listen_ports(svc):
    """Ports a compose service's command line or environment makes it listen on."""
    words = svc.get("command") or []
    if isinstance(words, str):
        words = words.split()
    words = list(words) + ["%s=%s" % kv for kv in (svc.get("environment") or {}).items()]
    ports = set()
    for i, w in enumerate(words):
        w = str(w)
        if w in ("--listen", "--port") and i + 1 < len(words):
            ports.add(port_of(str(words[i + 1])) or int(words[i + 1]))
        m = re.match(r"(--web\.listen-address|REDIS_EXPORTER_WEB_LISTEN_ADDRESS|"
                     r"GF_SERVER_HTTP_PORT|port)=(\S+)$", w)
        if m:
            ports.add(port_of(m.group(2)) or int(m.group(2)))
    return ports


def check_compose(job_ports, am_ports):
    path = os.path.join(DEPLOY, "docker-compose.yml")
    c = load(path)
    services = c.get("services", {})
    want = {"agentmon": job_ports.get("agentmon-collector", []),
            "agents": job_ports.get("agentmon-agents", []),
            "node-exporter": job_ports.get("node", []),
            "redis-exporter": job_ports.get("redis", []),
            "postgres-exporter": job_ports.get("postgres", []),
            "alertmanager": am_ports, "prometheus": None, "grafana": None, "redis": None,
            "postgres": None}
    for name, ports in want.items():
        svc = services.get(name)
        if svc is None:
            problem("docker-compose.yml: no service %s" % name)
            continue
        if svc.get("network_mode") != "host":
            problem("docker-compose.yml: %s is not on the host's network" % name)
        for p in ports or []:
            if p not in listen_ports(svc):
                problem("docker-compose.yml: %s does not listen on %d, where "
                        "prometheus.yml looks for it" % (name, p))
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if src.startswith(".") and not os.path.exists(os.path.join(DEPLOY, src)):
                problem("docker-compose.yml: %s mounts %s, which does not exist" % (name, src))
    for name in ("agentmon", "agents"):
        b = services.get(name, {}).get("build", {})
        if b.get("dockerfile") != "deploy/Dockerfile" or b.get("context") != "..":
            problem("docker-compose.yml: %s is not built from deploy/Dockerfile" % name)
    ds = load(os.path.join(DEPLOY, "grafana", "provisioning", "datasources", "agentmon.yml"))
    if port_of(ds["datasources"][0]["url"].rstrip("/")) not in listen_ports(services["prometheus"]):
        problem("grafana data source %s: Prometheus does not listen there" % ds["datasources"][0]["url"])
    prov = load(os.path.join(DEPLOY, "grafana", "provisioning", "dashboards", "agentmon.yml"))
    dash_path = prov["providers"][0]["options"]["path"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in services["grafana"]["volumes"]}
    if mounts.get("./grafana/dashboards") != dash_path:
        problem("docker-compose.yml: grafana mounts the dashboards at %s, provisioning reads %s"
                % (mounts.get("./grafana/dashboards"), dash_path))
    for kind in ("datasources", "dashboards"):
        if mounts.get("./grafana/provisioning/" + kind) != "/etc/grafana/provisioning/" + kind:
            problem("docker-compose.yml: grafana does not mount provisioning/%s" % kind)
    return len(services)


def check_dockerfile(agentmon):
    with open(os.path.join(DEPLOY, "Dockerfile"), encoding="utf-8") as f:
        text = f.read()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", text, re.M)
    if len(stages) != 2 or any(img != "debian:bookworm-slim" for img, _ in stages):
        problem("Dockerfile: want two debian:bookworm-slim stages, got %s" % stages)
    build_stage = stages[0][1] if stages else ""
    if not build_stage or "COPY --from=%s " % build_stage not in text:
        problem("Dockerfile: the runtime stage does not copy from the build stage")
    runtime = text[text.rfind("\nFROM "):]
    m = re.search(r"apt-get install[^\n]*((?:\n[^\n]*\\?)*?)\n &&", runtime)
    pkgs = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", m.group(1))) if m else set()
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]",
                        subprocess.run(["readelf", "-d", agentmon], check=True,
                                       capture_output=True, text=True).stdout)
    for lib in needed:
        owners = set()
        for d in ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib"):
            p = os.path.join(d, lib)
            if os.path.exists(p):
                out = subprocess.run(["dpkg", "-S", os.path.realpath(p)], capture_output=True,
                                     text=True).stdout
                owners |= {line.split(":")[0] for line in out.splitlines()}
        owners = {o for o in owners if o != "libc6"}
        if owners and not owners & pkgs:
            problem("Dockerfile: %s needs %s (package %s), not in the runtime stage's list" % (
                agentmon, lib, " or ".join(sorted(owners))))
    return len(needed)


def main(argv):
    agentmon = argv[1] if len(argv) > 1 else "build/agentmon"
    job_ports, am_ports = check_prometheus()
    n_rules = check_runbooks()
    n_services = check_compose(job_ports, am_ports)
    n_libs = check_dockerfile(agentmon)
    print("deploy_bundle: %d scrape jobs, %d rules with runbooks, %d compose services, "
          "%d libraries in the image; %d problems" % (
              len(job_ports), n_rules, n_services, n_libs, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
