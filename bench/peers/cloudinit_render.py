#!/usr/bin/env python3
"""cloud-init's own renderers on N network-config v2 documents (the peer of plumber-render).

usage: cloudinit_render.py CLOUD_INIT_SITE RENDERER INPUT_DIR OUT_BASE RUNS

  CLOUD_INIT_SITE  the extracted Debian package's dist-packages (…/usr/lib/python3/dist-packages)
  RENDERER         sysconfig (flavor rhel, the rhel distro's renderer_configs: ifcfg-* files) or
                   netplan (50-cloud-init.yaml; no `netplan generate`: postcmds off)
  INPUT_DIR        node-*.yaml, network-config version 2
  OUT_BASE         a new directory per node per run is made under it (tmpfs in peers.sh)

Timed: only the loop over the nodes, per node `yaml.safe_load` of the document (cloud-init reads
network-config with it; plumber's time includes parsing its templates too),
`network_state.parse_net_config_data` and `Renderer.render_network_state` into the node's directory.
Not timed: Python's start and the imports (once per process), reading the files' bytes.
One warm-up pass, then RUNS passes; prints one JSON line with every pass's seconds and the phases
(load/parse/render) of the median pass.
"""
import json
import os
import shutil
import sys
import time


def main():
    site, renderer, indir, outbase, runs = sys.argv[1:6]
    runs = int(runs)
    sys.path.insert(0, site)
    import yaml
    from cloudinit import version
    from cloudinit.net import netplan, network_state, sysconfig

    if renderer == "sysconfig":
        # cloudinit/distros/rhel.py's renderer_configs, as cloud-init on a RHEL-family image uses it.
        cfg = {
            "flavor": "rhel",
            "control": "etc/sysconfig/network",
            "iface_templates": "%(base)s/network-scripts/ifcfg-%(name)s",
            "route_templates": {
                "ipv4": "%(base)s/network-scripts/route-%(name)s",
                "ipv6": "%(base)s/network-scripts/route6-%(name)s",
            },
        }
        make = lambda: sysconfig.Renderer(config=cfg)  # noqa: E731
    elif renderer == "netplan":
        # features=[]: no `netplan info` subprocess; postcmds False: no `netplan generate`.
        make = lambda: netplan.Renderer(config={"features": [], "postcmds": False})  # noqa: E731
    else:
        sys.exit(f"unknown renderer {renderer}")

    names = sorted(f for f in os.listdir(indir) if f.endswith(".yaml"))
    texts = [open(os.path.join(indir, f)).read() for f in names]

    def one_pass(tag):
        base = os.path.join(outbase, tag)
        os.makedirs(base)
        t_load = t_parse = t_render = 0.0
        t0 = time.perf_counter()
        for name, text in zip(names, texts):
            a = time.perf_counter()
            doc = yaml.safe_load(text)
            b = time.perf_counter()
            state = network_state.parse_net_config_data(doc)
            c = time.perf_counter()
            target = os.path.join(base, name[:-5])
            os.mkdir(target)
            make().render_network_state(state, target=target)
            d = time.perf_counter()
            t_load += b - a
            t_parse += c - b
            t_render += d - c
        total = time.perf_counter() - t0
        files = sum(len(fs) for _, _, fs in os.walk(base))
        shutil.rmtree(base)
        return total, {"load": t_load, "parse": t_parse, "render": t_render}, files

    one_pass("warmup")
    results = [one_pass(f"run{i}") for i in range(runs)]
    order = sorted(range(runs), key=lambda i: results[i][0])
    med = results[order[(runs - 1) // 2]] if runs % 2 else results[order[runs // 2 - 1]]
    print(json.dumps({
        "cloud_init": version.version_string(),
        "renderer": renderer,
        "nodes": len(names),
        "files": med[2],
        "times": [r[0] for r in results],
        "median_phases": med[1],
    }))


if __name__ == "__main__":
    main()
