#!/usr/bin/env python3
"""Checks deploy/docker-compose.yml and deploy/docker/Dockerfile against the build,
since no Docker engine runs here:

- docker-compose validates the file (`config`), and the resolved file is read back;
- every command of a micro-cpp container names a binary the build makes, and every
  --flag it passes is one that binary's --help lists;
- every MICRO_* variable set in the file is one some binary reads;
- every path the Dockerfile COPYs from the repository exists, every binary it copies
  out of the build exists, and the data directory it installs is the one the
  services are pointed at;
- the runtime stage installs what the binaries link: the Debian package of every library a binary
  needs directly (readelf NEEDED, resolved by ldd, owner by dpkg -S) is one the stage installs,
  a dependency of one (dpkg's Depends, recursively) or part of the base image.

usage: check_deploy.py <source dir> <build dir>
"""
import re
import subprocess
import sys
from pathlib import Path

import yaml

src, build = Path(sys.argv[1]), Path(sys.argv[2])
compose = src / "deploy/docker-compose.yml"
dockerfile = src / "deploy/docker/Dockerfile"
problems = []

BINARIES = {f"hotel-{s}": build / "services" / f"hotel-{s}" for s in ("auth", "geo", "profile", "rate", "hotel", "stats")}
BINARIES["api-gateway"] = build / "api-gateway" / "api-gateway"
BINARIES["micro"] = build / "tools" / "micro"

resolved = subprocess.run(["docker-compose", "-f", str(compose), "config"], capture_output=True, text=True)
if resolved.returncode != 0:
    sys.exit(f"docker-compose config failed:\n{resolved.stderr}")
config = yaml.safe_load(resolved.stdout)

helps = {}
for name, path in BINARIES.items():
    if not path.exists():
        problems.append(f"{path} is not built")
        continue
    out = subprocess.run([str(path), "--help"], capture_output=True, text=True)
    helps[name] = out.stdout + out.stderr

data_dirs = set()
for name, svc in config["services"].items():
    env = svc.get("environment") or {}
    for var in env:
        if var.startswith("MICRO_") and not any(f"${var}" in h or f"({var})" in h for h in helps.values()):
            problems.append(f"service {name}: variable {var} is read by no binary")
    if not svc.get("image", "").startswith("micro-cpp"):
        continue
    cmd = svc.get("command")
    cmd = cmd.split() if isinstance(cmd, str) else list(cmd or [])
    if not cmd or cmd[0] not in BINARIES:
        problems.append(f"service {name}: command {cmd[:1]} is not a micro-cpp binary")
        continue
    for i, arg in enumerate(cmd[1:], 1):
        if arg.startswith("--"):
            flag = arg[2:].split("=", 1)[0]
            if not re.search(rf"--{re.escape(flag)}\b", helps.get(cmd[0], "")):
                problems.append(f"service {name}: {cmd[0]} has no flag --{flag}")
            if flag == "data_dir":
                data_dirs.add(cmd[i + 1])

text = dockerfile.read_text()
copied_data = None
for line in text.splitlines():
    m = re.match(r"\s*COPY\s+(--from=\S+\s+)?(.+)", line)
    if not m:
        continue
    parts = m.group(2).split()
    sources, dest = parts[:-1], parts[-1]
    if m.group(1):
        continue
    for s in sources:
        if not (src / s).exists():
            problems.append(f"Dockerfile copies {s}, which the repository lacks")
        if s == "services/data":
            copied_data = dest
for built in re.findall(r"/build/(\S+)", text):
    built = built.rstrip("\\")
    if built and "/" in built and not (build / built).exists():
        problems.append(f"Dockerfile copies /build/{built}, which the build does not make")
if data_dirs and data_dirs != {copied_data}:
    problems.append(f"services read data from {sorted(data_dirs)}, the image has it at {copied_data}")

# The runtime stage: the last FROM's `apt-get install` line(s).
runtime = text[text.rfind("\nFROM "):]
installed = set()
for m in re.finditer(r"apt-get install([^&]*)", runtime):
    installed |= {w for w in m.group(1).replace("\\", " ").split() if not w.startswith("-")}
BASE = {"libc6", "libstdc++6", "libgcc-s1", "zlib1g"}  # in debian:12-slim


def depends_closure(packages):
    seen, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        out = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", p],
                             capture_output=True, text=True).stdout
        for alt in re.split(r"[,|]", out):
            name = alt.strip().split(" ")[0].split(":")[0]
            if name:
                todo.append(name)
    return seen


available = depends_closure(installed | BASE)
lib_packages = {}
for name, path in BINARIES.items():
    if not path.exists():
        continue
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                        subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True).stdout)
    where = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(["ldd", str(path)], capture_output=True,
                                                                    text=True).stdout, re.M))
    for lib in needed:
        if lib not in where:
            continue
        if lib not in lib_packages:
            owner = subprocess.run(["dpkg", "-S", where[lib]], capture_output=True, text=True).stdout
            if not owner:  # /lib -> /usr/lib merged paths
                owner = subprocess.run(["dpkg", "-S", str(Path(where[lib]).resolve())], capture_output=True,
                                       text=True).stdout
            lib_packages[lib] = owner.split(":")[0] if owner else None
        pkg = lib_packages[lib]
        if pkg is not None and pkg not in available:
            problems.append(f"{name} needs {lib} (package {pkg}), which the Dockerfile's runtime stage "
                            f"does not install")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"ok: {len(config['services'])} compose services, {len(helps)} binaries, Dockerfile paths checked, "
      f"{len(lib_packages)} libraries the binaries link found in the runtime stage's packages")
