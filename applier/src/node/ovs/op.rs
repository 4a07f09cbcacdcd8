//! `OvsOp`: one change to OVSDB. Each knows its inverse (rollback), prints as one line like the netlink
//! ops, and turns into ovs-vsctl commands.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::state::{IfaceState, PortState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum OvsOp {
    /// `Open_vSwitch . other_config:dpdk-init`; `None` removes the key.
    SetDpdkInit {
        value: Option<String>,
        previous: Option<String>,
    },
    /// `add-br`, then `datapath_type`.
    AddBridge { name: String, datapath_type: String },
    /// As the inverse of [`OvsOp::AddBridge`], and for a bridge plumber created that no template lists
    /// any more and that holds no other software's ports ([`release`](fn@super::release)).
    DelBridge { name: String, datapath_type: String },
    SetDatapath {
        bridge: String,
        datapath_type: String,
        previous: String,
    },
    /// Creates the port with its interfaces and every setting in `port` (with its rows' UUIDs when it
    /// undoes a deletion).
    AddPort { bridge: String, port: PortState },
    /// `port` is the snapshot the inverse re-creates.
    DelPort { bridge: String, port: PortState },
    /// `None` clears the column.
    SetBondMode {
        port: String,
        value: Option<String>,
        previous: Option<String>,
    },
    SetLacp {
        port: String,
        value: Option<String>,
        previous: Option<String>,
    },
    /// Interface `type` (`dpdk`, or empty for a system interface).
    SetIfaceType {
        iface: String,
        kind: String,
        previous: String,
    },
    /// `options:dpdk-devargs`; `None` removes the key.
    SetDevargs {
        iface: String,
        value: Option<String>,
        previous: Option<String>,
    },
    /// `None` clears the column.
    SetMtuRequest {
        iface: String,
        value: Option<u32>,
        previous: Option<u32>,
    },
}

impl OvsOp {
    /// The op that undoes this one.
    pub(crate) fn inverse(&self) -> OvsOp {
        match self {
            OvsOp::SetDpdkInit { value, previous } => OvsOp::SetDpdkInit {
                value: previous.clone(),
                previous: value.clone(),
            },
            OvsOp::AddBridge {
                name,
                datapath_type,
            } => OvsOp::DelBridge {
                name: name.clone(),
                datapath_type: datapath_type.clone(),
            },
            OvsOp::DelBridge {
                name,
                datapath_type,
            } => OvsOp::AddBridge {
                name: name.clone(),
                datapath_type: datapath_type.clone(),
            },
            OvsOp::SetDatapath {
                bridge,
                datapath_type,
                previous,
            } => OvsOp::SetDatapath {
                bridge: bridge.clone(),
                datapath_type: previous.clone(),
                previous: datapath_type.clone(),
            },
            OvsOp::AddPort { bridge, port } => OvsOp::DelPort {
                bridge: bridge.clone(),
                port: port.clone(),
            },
            OvsOp::DelPort { bridge, port } => OvsOp::AddPort {
                bridge: bridge.clone(),
                port: port.clone(),
            },
            OvsOp::SetBondMode {
                port,
                value,
                previous,
            } => OvsOp::SetBondMode {
                port: port.clone(),
                value: previous.clone(),
                previous: value.clone(),
            },
            OvsOp::SetLacp {
                port,
                value,
                previous,
            } => OvsOp::SetLacp {
                port: port.clone(),
                value: previous.clone(),
                previous: value.clone(),
            },
            OvsOp::SetIfaceType {
                iface,
                kind,
                previous,
            } => OvsOp::SetIfaceType {
                iface: iface.clone(),
                kind: previous.clone(),
                previous: kind.clone(),
            },
            OvsOp::SetDevargs {
                iface,
                value,
                previous,
            } => OvsOp::SetDevargs {
                iface: iface.clone(),
                value: previous.clone(),
                previous: value.clone(),
            },
            OvsOp::SetMtuRequest {
                iface,
                value,
                previous,
            } => OvsOp::SetMtuRequest {
                iface: iface.clone(),
                value: *previous,
                previous: *value,
            },
        }
    }

    /// Every bridge, port and interface name the op hands to ovs-vsctl.
    pub(crate) fn names(&self) -> Vec<&str> {
        match self {
            OvsOp::SetDpdkInit { .. } => vec![],
            OvsOp::AddBridge { name, .. } | OvsOp::DelBridge { name, .. } => vec![name],
            OvsOp::SetDatapath { bridge, .. } => vec![bridge],
            OvsOp::AddPort { bridge, port } | OvsOp::DelPort { bridge, port } => {
                let mut v = vec![bridge.as_str(), port.name.as_str()];
                v.extend(port.interfaces.iter().map(|i| i.name.as_str()));
                v
            }
            OvsOp::SetBondMode { port, .. } | OvsOp::SetLacp { port, .. } => vec![port],
            OvsOp::SetIfaceType { iface, .. }
            | OvsOp::SetDevargs { iface, .. }
            | OvsOp::SetMtuRequest { iface, .. } => vec![iface],
        }
    }

    /// The ovs-vsctl commands of this op (each one goes after a `--`). `ids` numbers the `@names` of
    /// rows created in the same invocation.
    pub(crate) fn commands(&self, ids: &mut usize) -> Vec<Vec<String>> {
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
        match self {
            OvsOp::SetDpdkInit { value: Some(v), .. } => vec![s(&[
                "set",
                "Open_vSwitch",
                ".",
                &format!("other_config:dpdk-init={}", quote(v)),
            ])],
            OvsOp::SetDpdkInit { value: None, .. } => {
                vec![s(&[
                    "remove",
                    "Open_vSwitch",
                    ".",
                    "other_config",
                    "dpdk-init",
                ])]
            }
            OvsOp::AddBridge {
                name,
                datapath_type,
            } => vec![
                s(&["add-br", name]),
                s(&[
                    "set",
                    "Bridge",
                    name,
                    &format!("datapath_type={}", quote(datapath_type)),
                ]),
            ],
            OvsOp::DelBridge { name, .. } => vec![s(&["del-br", name])],
            OvsOp::SetDatapath {
                bridge,
                datapath_type,
                ..
            } => vec![s(&[
                "set",
                "Bridge",
                bridge,
                &format!("datapath_type={}", quote(datapath_type)),
            ])],
            OvsOp::AddPort { bridge, port } => add_port(bridge, port, ids),
            // With the bridge: fails (and with it the transaction) if the port moved meanwhile.
            OvsOp::DelPort { bridge, port } => vec![s(&["del-port", bridge, &port.name])],
            OvsOp::SetBondMode { port, value, .. } => {
                set_or_clear("Port", port, "bond_mode", value)
            }
            OvsOp::SetLacp { port, value, .. } => set_or_clear("Port", port, "lacp", value),
            OvsOp::SetIfaceType { iface, kind, .. } => vec![s(&[
                "set",
                "Interface",
                iface,
                &format!("type={}", quote(kind)),
            ])],
            OvsOp::SetDevargs {
                iface,
                value: Some(v),
                ..
            } => vec![s(&[
                "set",
                "Interface",
                iface,
                &format!("options:dpdk-devargs={}", quote(v)),
            ])],
            OvsOp::SetDevargs {
                iface, value: None, ..
            } => vec![s(&[
                "remove",
                "Interface",
                iface,
                "options",
                "dpdk-devargs",
            ])],
            OvsOp::SetMtuRequest {
                iface,
                value: Some(m),
                ..
            } => vec![s(&["set", "Interface", iface, &format!("mtu_request={m}")])],
            OvsOp::SetMtuRequest {
                iface, value: None, ..
            } => vec![s(&["clear", "Interface", iface, "mtu_request"])],
        }
    }
}

/// A string as an ovs-vsctl value: JSON-quoted, so that no character of it is syntax.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn set_or_clear(
    table: &str,
    record: &str,
    column: &str,
    value: &Option<String>,
) -> Vec<Vec<String>> {
    let mut v = vec![String::new(), table.to_string(), record.to_string()];
    match value {
        Some(x) => {
            v[0] = "set".into();
            v.push(format!("{column}={}", quote(x)));
        }
        None => {
            v[0] = "clear".into();
            v.push(column.to_string());
        }
    }
    vec![v]
}

/// The `--id` of a created row: its old UUID when restoring, else a fresh `@name`.
fn row_id(uuid: &Option<String>, ids: &mut usize) -> String {
    match uuid {
        Some(u) => u.clone(),
        None => {
            *ids += 1;
            format!("@plumber{ids}")
        }
    }
}

/// `create Interface ...` for each interface, `create Port ...`, `add Bridge B ports`: generic commands,
/// so that the rows get exactly the listed settings (and, when restoring, their old UUIDs), and a port of
/// one interface may name it differently from the port.
fn add_port(bridge: &str, port: &PortState, ids: &mut usize) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    let mut refs = Vec::new();
    for i in &port.interfaces {
        let id = row_id(&i.uuid, ids);
        cmds.push(create_iface(&id, i));
        refs.push(id);
    }
    let pid = row_id(&port.uuid, ids);
    let mut c = vec![
        format!("--id={pid}"),
        "create".into(),
        "Port".into(),
        format!("name={}", quote(&port.name)),
        format!("interfaces=[{}]", refs.join(",")),
    ];
    if let Some(m) = &port.bond_mode {
        c.push(format!("bond_mode={}", quote(m)));
    }
    if let Some(l) = &port.lacp {
        c.push(format!("lacp={}", quote(l)));
    }
    for (col, v) in &port.extra {
        c.push(format!("{col}={}", vsctl_value(v)));
    }
    cmds.push(c);
    cmds.push(vec![
        "add".into(),
        "Bridge".into(),
        bridge.to_string(),
        "ports".into(),
        pid,
    ]);
    cmds
}

fn create_iface(id: &str, i: &IfaceState) -> Vec<String> {
    let mut c = vec![
        format!("--id={id}"),
        "create".into(),
        "Interface".into(),
        format!("name={}", quote(&i.name)),
    ];
    if !i.kind.is_empty() {
        c.push(format!("type={}", quote(&i.kind)));
    }
    if !i.options.is_empty() {
        let kv: Vec<String> = i
            .options
            .iter()
            .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
            .collect();
        c.push(format!("options={{{}}}", kv.join(",")));
    }
    if let Some(m) = i.mtu_request {
        c.push(format!("mtu_request={m}"));
    }
    for (col, v) in &i.extra {
        c.push(format!("{col}={}", vsctl_value(v)));
    }
    c
}

/// An OVSDB JSON value (`"s"`, `1`, `["uuid","..."]`, `["set",[...]]`, `["map",[[k,v]...]]`) in
/// ovs-vsctl's syntax (`"s"`, `1`, `<uuid>`, `[a,b]`, `{k=v}`).
pub(crate) fn vsctl_value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "set" => {
            let items: Vec<String> = a[1]
                .as_array()
                .map(|x| x.iter().map(vsctl_value).collect())
                .unwrap_or_default();
            format!("[{}]", items.join(","))
        }
        Value::Array(a) if a.len() == 2 && a[0] == "map" => {
            let items: Vec<String> = a[1]
                .as_array()
                .map(|x| {
                    x.iter()
                        .filter_map(|kv| kv.as_array())
                        .filter(|kv| kv.len() == 2)
                        .map(|kv| format!("{}={}", vsctl_value(&kv[0]), vsctl_value(&kv[1])))
                        .collect()
                })
                .unwrap_or_default();
            format!("{{{}}}", items.join(","))
        }
        Value::Array(a) if a.len() == 2 && a[0] == "uuid" => a[1].as_str().unwrap_or("").into(),
        Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

/// A value as `--dry-run` shows it: `""` when empty.
fn shown(s: &str) -> &str {
    if s.is_empty() {
        "\"\""
    } else {
        s
    }
}

fn change<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    what: &str,
    value: &Option<T>,
    previous: &Option<T>,
) -> fmt::Result {
    match (value, previous) {
        (Some(v), Some(p)) => write!(f, "set {what} {p} -> {v}"),
        (Some(v), None) => write!(f, "set {what} {v}"),
        (None, Some(p)) => write!(f, "clear {what} (was {p})"),
        (None, None) => write!(f, "clear {what}"),
    }
}

fn port_summary(p: &PortState) -> String {
    let mut parts = vec![format!(
        "interfaces {}",
        p.interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>()
            .join(",")
    )];
    if let Some(m) = &p.bond_mode {
        parts.push(format!("bond_mode {m}"));
    }
    if let Some(l) = &p.lacp {
        parts.push(format!("lacp {l}"));
    }
    for i in &p.interfaces {
        if !i.kind.is_empty() {
            parts.push(format!("{} type {}", i.name, i.kind));
        }
        if let Some(d) = i.dpdk_devargs() {
            parts.push(format!("{} dpdk-devargs {d}", i.name));
        }
        if let Some(m) = i.mtu_request {
            parts.push(format!("{} mtu_request {m}", i.name));
        }
    }
    parts.join(", ")
}

impl fmt::Display for OvsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OvsOp::SetDpdkInit { value, previous } => {
                change(f, "Open_vSwitch other_config:dpdk-init", value, previous)
            }
            OvsOp::AddBridge {
                name,
                datapath_type,
            } => write!(f, "add bridge {name} (datapath_type {datapath_type})"),
            OvsOp::DelBridge { name, .. } => write!(f, "delete bridge {name}"),
            OvsOp::SetDatapath {
                bridge,
                datapath_type,
                previous,
            } => write!(
                f,
                "set bridge {bridge} datapath_type {} -> {}",
                shown(previous),
                shown(datapath_type)
            ),
            OvsOp::AddPort { bridge, port } => {
                let verb = if port.uuid.is_some() {
                    "re-create"
                } else {
                    "add"
                };
                write!(
                    f,
                    "{verb} port {} on {bridge}: {}",
                    port.name,
                    port_summary(port)
                )
            }
            OvsOp::DelPort { bridge, port } => write!(
                f,
                "delete port {} from {bridge} (interfaces {})",
                port.name,
                port.interfaces
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            OvsOp::SetBondMode {
                port,
                value,
                previous,
            } => change(f, &format!("port {port} bond_mode"), value, previous),
            OvsOp::SetLacp {
                port,
                value,
                previous,
            } => change(f, &format!("port {port} lacp"), value, previous),
            OvsOp::SetIfaceType {
                iface,
                kind,
                previous,
            } => write!(
                f,
                "set interface {iface} type {} -> {}",
                shown(previous),
                shown(kind)
            ),
            OvsOp::SetDevargs {
                iface,
                value,
                previous,
            } => change(
                f,
                &format!("interface {iface} options:dpdk-devargs"),
                value,
                previous,
            ),
            OvsOp::SetMtuRequest {
                iface,
                value,
                previous,
            } => change(
                f,
                &format!("interface {iface} mtu_request"),
                value,
                previous,
            ),
        }
    }
}
