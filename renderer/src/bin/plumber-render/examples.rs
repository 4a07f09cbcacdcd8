//! `--examples`: the HostPlumber README's examples, compiled in, each rendered on its own (several of them
//! reuse the template name `hostconfig-kernel-eno2`, so together they would be one object).

use std::path::Path;

use plumber_render::distro::Distro;
use plumber_render::{render_sources, Source};

use crate::args::Args;

pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "comprehensive.yaml",
        include_str!("../../../../examples/comprehensive.yaml"),
    ),
    (
        "sriov-pfname.yaml",
        include_str!("../../../../examples/sriov-pfname.yaml"),
    ),
    (
        "sriov-vendor-device.yaml",
        include_str!("../../../../examples/sriov-vendor-device.yaml"),
    ),
    (
        "sriov-pciaddr.yaml",
        include_str!("../../../../examples/sriov-pciaddr.yaml"),
    ),
    (
        "ip-addresses.yaml",
        include_str!("../../../../examples/ip-addresses.yaml"),
    ),
    (
        "vlans.yaml",
        include_str!("../../../../examples/vlans.yaml"),
    ),
    ("ovs.yaml", include_str!("../../../../examples/ovs.yaml")),
];

pub fn run(args: &Args, distro: &str) -> anyhow::Result<u8> {
    let distros = if distro == "all" {
        Distro::all()
    } else {
        vec![Distro::by_name(distro)?]
    };
    let mut stdout = std::io::stdout().lock();
    for d in &distros {
        for (name, text) in EXAMPLES {
            let src = Source {
                name: format!("examples/{name}"),
                text: text.to_string(),
            };
            let arts = render_sources(&[src], d, None, None)?;
            match &args.out {
                Some(dir) => {
                    let stem = name.trim_end_matches(".yaml");
                    let target = dir.join(&d.name).join(stem);
                    let root = crate::rooted::Root::create(dir)?;
                    let sub = root.subroot(&Path::new(&d.name).join(stem))?;
                    let written = crate::output::write_tree(&sub, &arts)?;
                    for p in crate::stale::remove(&sub, d, &arts, &written)? {
                        eprintln!("plumber-render: {name} for {}: removed stale {p}", d.name);
                    }
                    eprintln!(
                        "plumber-render: {} for {}: {} files under {}",
                        name,
                        d.name,
                        arts.len(),
                        target.display()
                    );
                }
                None => {
                    use std::io::Write;
                    writeln!(stdout, "######## examples/{name} for {} ########", d.name)?;
                    crate::output::print_review(&mut stdout, &arts)?;
                    writeln!(stdout)?;
                }
            }
        }
    }
    Ok(0)
}
