//! Why the kernel refused to create a link with "Operation not supported": for a link kind whose
//! driver is a module (8021q for VLANs, bonding, bridge), most often that the module is not loaded and
//! could not be loaded. The bare errno sends the user looking at the template; this names the module
//! and the command that loads it.

use std::path::Path;

use plumber_render::node::LinkKind;

/// The kernel module that provides links of `kind`, and what the kind is called in messages.
fn module_of(kind: &LinkKind) -> Option<(&'static str, &'static str)> {
    match kind {
        LinkKind::Vlan { .. } => Some(("8021q", "VLAN")),
        LinkKind::Bond { .. } => Some(("bonding", "bond")),
        LinkKind::Bridge { .. } => Some(("bridge", "bridge")),
        LinkKind::Device => None,
    }
}

/// The message for creating `kind` failing with EOPNOTSUPP (`errno`: the kernel's text for it), or
/// `None` when the kind has no module. `modules`: the kernel's list of loaded modules (/sys/module):
/// a VLAN refused although 8021q is loaded is refused by its parent, which cannot carry VLANs.
pub(crate) fn explain(kind: &LinkKind, errno: &str, modules: &Path) -> Option<String> {
    let (module, what) = module_of(kind)?;
    if let LinkKind::Vlan { parent, .. } = kind {
        if modules.join(module).exists() {
            return Some(format!(
                "{parent} cannot carry VLANs ({errno}; 8021q is loaded): put the VLAN on another \
                 link"
            ));
        }
    }
    Some(format!(
        "the kernel has no {module} support for a {what} ({errno}): load it with `modprobe \
         {module}` (and list it in /etc/modules-load.d/ to load it at boot)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vlan() -> LinkKind {
        LinkKind::Vlan {
            parent: "eno1".into(),
            id: 100,
        }
    }

    #[test]
    fn a_missing_module_is_named_with_the_command_that_loads_it() {
        let none = tempfile::tempdir().unwrap();
        let m = explain(
            &vlan(),
            "Operation not supported (os error 95)",
            none.path(),
        )
        .unwrap();
        assert_eq!(
            m,
            "the kernel has no 8021q support for a VLAN (Operation not supported (os error 95)): \
             load it with `modprobe 8021q` (and list it in /etc/modules-load.d/ to load it at boot)"
        );
        assert!(explain(&LinkKind::Device, "x", none.path()).is_none());
    }

    #[test]
    fn with_8021q_loaded_the_parent_is_blamed() {
        let loaded = tempfile::tempdir().unwrap();
        std::fs::create_dir(loaded.path().join("8021q")).unwrap();
        let m = explain(
            &vlan(),
            "Operation not supported (os error 95)",
            loaded.path(),
        )
        .unwrap();
        assert!(m.starts_with("eno1 cannot carry VLANs"), "{m}");
    }
}
