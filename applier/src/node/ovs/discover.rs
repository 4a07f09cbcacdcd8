//! `discover`: one ovs-vsctl invocation (one consistent view) lists the Bridge, Port, Interface and
//! Open_vSwitch tables as JSON; [`parse_lists`] turns OVSDB's JSON values (`["set",[...]]`,
//! `["uuid","..."]`, `["map",[[k,v]...]]`) into an [`OvsState`].

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::state::{BridgeState, IfaceState, OvsState, PortState};
use super::Ovsdb;
use crate::node::{Error, Result};

/// Port columns that ovs-vswitchd writes (status), never restored.
const PORT_STATUS: &[&str] = &[
    "bond_active_slave",
    "statistics",
    "status",
    "rstp_statistics",
    "rstp_status",
];

/// Interface columns that ovs-vswitchd writes (status), never restored.
const IFACE_STATUS: &[&str] = &[
    "admin_state",
    "bfd_status",
    "cfm_fault",
    "cfm_fault_status",
    "cfm_flap_count",
    "cfm_health",
    "cfm_remote_mpids",
    "cfm_remote_opstate",
    "duplex",
    "error",
    "ifindex",
    "lacp_current",
    "link_resets",
    "link_speed",
    "link_state",
    "mac_in_use",
    "mtu",
    "ofport",
    "statistics",
    "status",
];

/// Reads OVSDB's bridges, ports, interfaces and `dpdk-init`.
pub fn discover(db: &Ovsdb) -> Result<OvsState> {
    let args: Vec<String> = [
        "--format=json",
        "--columns=name,datapath_type,ports",
        "list",
        "Bridge",
        "--",
        "list",
        "Port",
        "--",
        "list",
        "Interface",
        "--",
        "--columns=other_config",
        "list",
        "Open_vSwitch",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = db
        .run(&args)
        .map_err(|e| Error::Ovs(format!("reading OVSDB: {e}")))?;
    parse_lists(&out)
}

/// One `list` answer: rows as column name → value.
type Rows = Vec<BTreeMap<String, Value>>;

fn table(v: &Value) -> std::result::Result<Rows, String> {
    let headings: Vec<&str> = v["headings"]
        .as_array()
        .ok_or("no headings")?
        .iter()
        .map(|h| h.as_str().ok_or("a heading is not a string"))
        .collect::<std::result::Result<_, _>>()?;
    let data = v["data"].as_array().ok_or("no data")?;
    data.iter()
        .map(|row| {
            let cells = row.as_array().ok_or("a row is not an array")?;
            if cells.len() != headings.len() {
                return Err(format!(
                    "a row has {} cells for {} headings",
                    cells.len(),
                    headings.len()
                ));
            }
            Ok(headings
                .iter()
                .map(|h| h.to_string())
                .zip(cells.iter().cloned())
                .collect())
        })
        .collect()
}

/// The atoms of a set column (a single atom is a set of one).
fn set(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "set" => a[1]
            .as_array()
            .map(|x| x.iter().collect())
            .unwrap_or_default(),
        other => vec![other],
    }
}

fn uuid(v: &Value) -> Option<&str> {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "uuid" => a[1].as_str(),
        _ => None,
    }
}

fn string(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

/// An optional string column: `"x"`, or an empty set.
fn opt_string(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| set(v).first().and_then(|a| a.as_str()).map(str::to_string))
}

fn opt_u32(v: Option<&Value>) -> Option<u32> {
    v.and_then(|v| {
        set(v)
            .first()
            .and_then(|a| a.as_u64())
            .and_then(|n| u32::try_from(n).ok())
    })
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(Value::Array(a)) = v {
        if a.len() == 2 && a[0] == "map" {
            for kv in a[1].as_array().into_iter().flatten() {
                if let (Some(k), Some(v)) = (kv[0].as_str(), kv[1].as_str()) {
                    m.insert(k.to_string(), v.to_string());
                }
            }
        }
    }
    m
}

/// A column's value is its default (empty set or map, `""`, `0`, `false`): nothing to restore.
fn is_default(v: &Value) -> bool {
    match v {
        Value::Array(a) if a.len() == 2 && (a[0] == "set" || a[0] == "map") => {
            a[1].as_array().is_none_or(|x| x.is_empty())
        }
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::Bool(b) => !b,
        Value::Null => true,
        _ => false,
    }
}

fn extra(
    row: &BTreeMap<String, Value>,
    known: &[&str],
    status: &[&str],
) -> BTreeMap<String, Value> {
    row.iter()
        .filter(|(k, v)| {
            !k.starts_with('_')
                && !known.contains(&k.as_str())
                && !status.contains(&k.as_str())
                && !is_default(v)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Parses the output of `ovs-vsctl --format=json list Bridge -- list Port -- list Interface -- list
/// Open_vSwitch` (one JSON object per command; Bridge needs only `name`, `datapath_type`, `ports`, and
/// Open_vSwitch only `other_config`).
pub fn parse_lists(text: &str) -> Result<OvsState> {
    let bad = |m: String| Error::Ovs(format!("cannot parse ovs-vsctl's JSON: {m}"));
    let values: Vec<Value> = serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if values.len() != 4 {
        return Err(bad(format!("{} tables, want 4", values.len())));
    }
    let tables: Vec<Rows> = values
        .iter()
        .map(table)
        .collect::<std::result::Result<_, _>>()
        .map_err(bad)?;

    let mut ifaces: HashMap<String, IfaceState> = HashMap::new();
    for row in &tables[2] {
        let Some(u) = row.get("_uuid").and_then(uuid) else {
            return Err(bad("an Interface row without _uuid".into()));
        };
        ifaces.insert(
            u.to_string(),
            IfaceState {
                name: string(row.get("name")),
                kind: string(row.get("type")),
                options: string_map(row.get("options")),
                mtu_request: opt_u32(row.get("mtu_request")),
                uuid: Some(u.to_string()),
                extra: extra(
                    row,
                    &["name", "type", "options", "mtu_request"],
                    IFACE_STATUS,
                ),
            },
        );
    }

    let mut ports: HashMap<String, PortState> = HashMap::new();
    for row in &tables[1] {
        let Some(u) = row.get("_uuid").and_then(uuid) else {
            return Err(bad("a Port row without _uuid".into()));
        };
        let mut interfaces: Vec<IfaceState> = row
            .get("interfaces")
            .map(set)
            .unwrap_or_default()
            .into_iter()
            .filter_map(uuid)
            .filter_map(|i| ifaces.get(i).cloned())
            .collect();
        interfaces.sort_by(|a, b| a.name.cmp(&b.name));
        ports.insert(
            u.to_string(),
            PortState {
                name: string(row.get("name")),
                interfaces,
                bond_mode: opt_string(row.get("bond_mode")),
                lacp: opt_string(row.get("lacp")),
                uuid: Some(u.to_string()),
                extra: extra(
                    row,
                    &["name", "interfaces", "bond_mode", "lacp"],
                    PORT_STATUS,
                ),
            },
        );
    }

    let mut bridges: Vec<BridgeState> = tables[0]
        .iter()
        .map(|row| {
            let mut ps: Vec<PortState> = row
                .get("ports")
                .map(set)
                .unwrap_or_default()
                .into_iter()
                .filter_map(uuid)
                .filter_map(|p| ports.get(p).cloned())
                .collect();
            ps.sort_by(|a, b| a.name.cmp(&b.name));
            BridgeState {
                name: string(row.get("name")),
                datapath_type: string(row.get("datapath_type")),
                ports: ps,
            }
        })
        .collect();
    bridges.sort_by(|a, b| a.name.cmp(&b.name));

    let dpdk_init = tables[3]
        .first()
        .and_then(|row| string_map(row.get("other_config")).remove("dpdk-init"));
    Ok(OvsState { bridges, dpdk_init })
}
