//! [`Change`]: one change an apply makes, in the one form both `plumber apply --dry-run -o json|yaml` (the
//! plan's `changes`) and the record (`last-apply.json`, `plumber apply -o json|yaml`) list it:
//!
//! ```json
//! {"stage": "file", "op": "create", "object": "/etc/netplan/60-plumber.yaml", "values": {"mode": "0600"},
//!  "text": "create /etc/netplan/60-plumber.yaml (mode 0600)"}
//! {"stage": "link", "op": "setMtu", "object": "ens1f0", "values": {"mtu": 9000, "previous": 1500},
//!  "text": "set mtu of ens1f0: 1500 -> 9000"}
//! ```
//!
//! `stage` is `file`, `sriov`, `link` or `ovs`; `op` what is done (a file's `create`, `update`, `chmod`,
//! `remove`, `symlink`; SR-IOV's `write`, `waitVfs`, `expectDriver`, `unbind`, `bindVfs`; the link and OVS
//! ops' names, `createLink`, `setMtu`, `addRoute`, `addBridge`, …); `object` what it touches (a path, a
//! link, a PCI device, a bridge, port or interface; a route's device); `values` the op's other fields (file
//! modes as octal strings, `"0600"`); `text` the line the text output prints for it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::files::FileChange;
use crate::node::ovs::OvsOp;
use crate::node::plan::Op;
use crate::node::sysfs::Step;

/// The stage of an apply a change belongs to, in the order an apply carries them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    File,
    Sriov,
    Link,
    Ovs,
}

/// One change (see the module documentation for the schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub stage: Stage,
    op: String,
    object: String,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    values: Map<String, Value>,
    /// The change as one line (what `plumber apply` prints after `file:`, `sriov:`, `link:`, `ovs:` or
    /// `done:`).
    pub text: String,
}

/// A file mode as the octal string the schema uses (`0o600` → `"0600"`).
fn octal(mode: u32) -> String {
    format!("{mode:04o}")
}

impl Change {
    fn new(stage: Stage, op: &str, object: impl Into<String>, text: String) -> Change {
        Change {
            stage,
            op: op.to_string(),
            object: object.into(),
            values: Map::new(),
            text,
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Change {
        self.values.insert(key.to_string(), value.into());
        self
    }

    /// A file change.
    pub fn file(c: &FileChange) -> Change {
        let text = c.to_string();
        match c {
            FileChange::Create { path, mode } => {
                Change::new(Stage::File, "create", path, text).with("mode", octal(*mode))
            }
            FileChange::Symlink { path, target } => {
                Change::new(Stage::File, "symlink", path, text).with("target", target.as_str())
            }
            FileChange::Update { path } => Change::new(Stage::File, "update", path, text),
            FileChange::Chmod { path, from, to } => Change::new(Stage::File, "chmod", path, text)
                .with("from", octal(*from))
                .with("to", octal(*to)),
            FileChange::Remove { path } => Change::new(Stage::File, "remove", path, text),
        }
    }

    /// An SR-IOV sysfs step.
    pub(crate) fn sriov(s: &Step) -> Change {
        let text = s.to_string();
        match s {
            Step::Write(w) => {
                Change::new(Stage::Sriov, "write", w.path.display().to_string(), text)
                    .with("value", w.value.trim_end_matches('\n'))
            }
            Step::WaitVfs { pf, count } => {
                Change::new(Stage::Sriov, "waitVfs", pf.to_string(), text).with("count", *count)
            }
            Step::ExpectDriver { dev, driver } => {
                Change::new(Stage::Sriov, "expectDriver", dev.to_string(), text)
                    .with("driver", driver.as_str())
            }
            Step::Unbind { dev, driver } => {
                Change::new(Stage::Sriov, "unbind", dev.to_string(), text)
                    .with("driver", driver.as_str())
            }
        }
    }

    /// The plan's promise to bind the VFs an apply creates (their PCI addresses are known only once
    /// they appear; the record lists the steps done instead).
    pub(crate) fn bind_vfs(selector: &str, driver: &str) -> Change {
        Change::new(
            Stage::Sriov,
            "bindVfs",
            selector,
            format!("then bind the VFs of {selector} to {driver}"),
        )
        .with("driver", driver)
    }

    /// A netlink op.
    pub fn link(op: &Op) -> Change {
        tagged(Stage::Link, op, op.to_string(), &["name", "link", "pf"])
    }

    /// An OVSDB op.
    pub(crate) fn ovs(op: &OvsOp) -> Change {
        let mut c = tagged(
            Stage::Ovs,
            op,
            op.to_string(),
            &["name", "port", "iface", "bridge"],
        );
        if c.object.is_empty() {
            // `dpdk-init`, a key of the one `Open_vSwitch` row.
            c.object = "Open_vSwitch".to_string();
        }
        c
    }
}

/// A change from an op serialised with an `op` tag: the tag is `op`, the first of `keys` present is the
/// object (a port's or route's name inside it), the rest are the values.
fn tagged(stage: Stage, op: &impl Serialize, text: String, keys: &[&str]) -> Change {
    let Ok(Value::Object(mut values)) = serde_json::to_value(op) else {
        unreachable!("ops serialise as objects");
    };
    let name = match values.remove("op") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    let mut object = String::new();
    // A route's fields are the op's values; its device is the object.
    if let Some(Value::Object(route)) = values.remove("route") {
        values.extend(route);
        if let Some(Value::String(dev)) = values.remove("dev") {
            object = dev;
        }
    }
    for k in keys.iter().filter(|_| object.is_empty()) {
        match values.get(*k) {
            Some(Value::String(s)) => {
                object = s.clone();
                values.remove(*k);
                break;
            }
            Some(Value::Object(o)) => {
                if let Some(Value::String(s)) = o.get("name") {
                    object = s.clone();
                    break;
                }
            }
            _ => {}
        }
    }
    Change {
        stage,
        op: name,
        object,
        values,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plumber_render::model::IpCidr;
    use serde_json::json;

    fn cidr(s: &str) -> IpCidr {
        IpCidr::parse(s).unwrap()
    }

    #[test]
    fn file_modes_are_octal_strings() {
        let c = Change::file(&FileChange::Chmod {
            path: "/etc/x".into(),
            from: 0o644,
            to: 0o600,
        });
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"stage": "file", "op": "chmod", "object": "/etc/x",
                   "values": {"from": "0644", "to": "0600"}, "text": "chmod /etc/x 0644 -> 0600"})
        );
    }

    #[test]
    fn ops_name_their_object_and_keep_the_rest_as_values() {
        let c = Change::link(&Op::SetMtu {
            link: "eno2".into(),
            mtu: 9000,
            previous: Some(1500),
        });
        assert_eq!((c.op.as_str(), c.object.as_str()), ("setMtu", "eno2"));
        assert_eq!(
            c.values,
            json!({"mtu": 9000, "previous": 1500})
                .as_object()
                .unwrap()
                .clone()
        );
        let c = Change::link(&Op::AddRoute {
            route: crate::node::plan::RouteSpec {
                dev: "eno2".into(),
                dst: cidr("10.50.0.0/16"),
                via: Some("10.9.0.1".parse().unwrap()),
                metric: 0,
                table: 254,
                proto: Default::default(),
            },
        });
        assert_eq!((c.op.as_str(), c.object.as_str()), ("addRoute", "eno2"));
        assert_eq!(c.values["dst"], "10.50.0.0/16");
        assert_eq!(c.values["via"], "10.9.0.1");
        assert!(!c.values.contains_key("dev"));
        let c = Change::ovs(&OvsOp::SetDpdkInit {
            value: Some("true".into()),
            previous: None,
        });
        assert_eq!(
            (c.stage, c.op.as_str(), c.object.as_str()),
            (Stage::Ovs, "setDpdkInit", "Open_vSwitch")
        );
    }

    #[test]
    fn a_change_round_trips() {
        let c = Change::bind_vfs("pfName eno2", "vfio-pci");
        let back: Change = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
