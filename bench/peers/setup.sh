#!/usr/bin/env bash
# The peers of bench/peers.sh, installed from the reachable registries into .cache/peers/ (cached:
# a second run installs nothing and only prints the versions).
#   nmstatectl 2.2.x   crates.io: `cargo install nmstatectl --locked --version '~2.2' --root .cache/peers/cargo`
#                      (the long pole, ≈ 6-12 min on 2 cores: started first, in the background)
#   cloud-init         Debian's .deb, `apt-get download` + `dpkg-deb -x` into .cache/peers/cloud-init
#                      (not installed: its Python package is imported from there)
#   venv               .cache/peers/venv: what cloud-init's network renderers import (pyyaml, configobj,
#                      requests, jsonschema, jinja2, jsonpatch, netifaces) and matplotlib for the plot
#   iproute2, netplan.io, hyperfine, time   Debian's, installed when missing
#   usage: bench/peers/setup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
P=$PWD/.cache/peers
mkdir -p "$P"

nm_pid=
if [ ! -x "$P/cargo/bin/nmstatectl" ]; then
    echo "setup: cargo install nmstatectl ~2.2 (background, log in $P/nmstatectl-install.log)"
    cargo install nmstatectl --locked --version '~2.2' --root "$P/cargo" >"$P/nmstatectl-install.log" 2>&1 &
    nm_pid=$!
fi

need=()
for c in ip:iproute2 netplan:netplan.io hyperfine:hyperfine; do
    command -v "${c%%:*}" >/dev/null || need+=("${c#*:}")
done
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ ! -d "$P/cloud-init/usr/lib/python3/dist-packages/cloudinit" ]; then
    mkdir -p "$P/deb"
    (cd "$P/deb" && { apt-get download cloud-init 2>/dev/null || { apt-get update -qq && apt-get download cloud-init; }; })
    rm -rf "$P/cloud-init"
    dpkg-deb -x "$P"/deb/cloud-init_*.deb "$P/cloud-init"
fi

if [ ! -x "$P/venv/bin/python" ] || ! "$P/venv/bin/python" -c 'import yaml, configobj, requests, jsonschema, jinja2, jsonpatch, netifaces, matplotlib' 2>/dev/null; then
    python3 -m venv "$P/venv"
    "$P/venv/bin/pip" install -q pyyaml configobj requests jsonschema jinja2 jsonpatch netifaces matplotlib
fi

if [ -n "$nm_pid" ]; then
    echo "setup: waiting for nmstatectl's build"
    wait "$nm_pid" || { tail -20 "$P/nmstatectl-install.log" >&2; exit 1; }
fi

echo "nmstatectl:  $("$P/cargo/bin/nmstatectl" --version)"
echo "cloud-init:  $(PYTHONPATH=$P/cloud-init/usr/lib/python3/dist-packages "$P/venv/bin/python" -c 'from cloudinit import version; print(version.version_string())') (Debian $(dpkg-deb -f "$P"/deb/cloud-init_*.deb Version), extracted)"
echo "python:      $("$P/venv/bin/python" --version), PyYAML $("$P/venv/bin/python" -c 'import yaml; print(yaml.__version__)')"
echo "iproute2:    $(ip -V)"
echo "netplan.io:  $(dpkg-query -W -f '${Version}' netplan.io 2>/dev/null || echo '?')"
echo "hyperfine:   $(hyperfine --version)"
