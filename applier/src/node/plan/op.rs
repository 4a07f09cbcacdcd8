//! `Op`: one small, typed change to a node. Each knows its inverse, which is how rollback works, and
//! prints as one line for `--dry-run`.

use std::fmt;
use std::net::IpAddr;

use plumber_render::model::IpCidr;
use plumber_render::node::{LinkKind, VfSettings};

use crate::node::state::RouteProto;
use serde::{Deserialize, Serialize};

/// A route by what identifies it in the kernel (table, destination, metric) plus its gateway and device,
/// and who installed it. `proto` is not part of its identity (equality and order ignore it): a route
/// plumber finds and one it wants are the same route whoever added them, and a route put back by a
/// rollback gets the `proto` it had.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteSpec {
    pub dev: String,
    pub dst: IpCidr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<IpAddr>,
    pub metric: u32,
    pub table: u32,
    #[serde(default)]
    pub proto: RouteProto,
}

impl RouteSpec {
    fn key(&self) -> (&str, &IpCidr, &Option<IpAddr>, u32, u32) {
        (&self.dev, &self.dst, &self.via, self.metric, self.table)
    }
}

impl PartialEq for RouteSpec {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for RouteSpec {}

impl PartialOrd for RouteSpec {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for RouteSpec {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// What a deleted link had, so that rollback can put it back as it was (the kernel takes a link's
/// addresses and routes down with it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub mtu: u32,
    pub up: bool,
    pub addresses: Vec<IpCidr>,
    pub routes: Vec<RouteSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Op {
    /// A VLAN, bond or bridge (never `LinkKind::Device`: plumber does not create NICs). `restore` is set
    /// when this undoes a deletion.
    CreateLink {
        name: String,
        spec: LinkKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restore: Option<Snapshot>,
    },
    /// Only as the inverse of a creation, or to replace a link of the wrong kind that plumber owns.
    DeleteLink {
        name: String,
        spec: LinkKind,
        snapshot: Snapshot,
    },
    SetController {
        link: String,
        controller: Option<String>,
        previous: Option<String>,
    },
    /// `previous` is `None` when the link is created by the same plan (nothing to restore).
    SetMtu {
        link: String,
        mtu: u32,
        previous: Option<u32>,
    },
    SetUp {
        link: String,
        up: bool,
    },
    AddAddress {
        link: String,
        cidr: IpCidr,
    },
    /// `flushed`: the routes the kernel drops with this address (it was the link's last IPv4
    /// address), which rollback puts back after it.
    DelAddress {
        link: String,
        cidr: IpCidr,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        flushed: Vec<RouteSpec>,
    },
    AddRoute {
        route: RouteSpec,
    },
    DelRoute {
        route: RouteSpec,
    },
    /// SR-IOV VF settings on PF `pf` (only those that differ; `previous` undoes them).
    SetVf {
        pf: String,
        vf: u32,
        set: VfSettings,
        previous: VfSettings,
    },
}

impl Op {
    /// The op that undoes this one, or `None` when there is nothing to undo.
    pub(crate) fn inverse(&self) -> Option<Op> {
        Some(match self {
            Op::CreateLink { name, spec, .. } => Op::DeleteLink {
                name: name.clone(),
                spec: spec.clone(),
                snapshot: Snapshot::default(),
            },
            Op::DeleteLink {
                name,
                spec,
                snapshot,
            } => Op::CreateLink {
                name: name.clone(),
                spec: spec.clone(),
                restore: Some(snapshot.clone()),
            },
            Op::SetController {
                link,
                controller,
                previous,
            } => Op::SetController {
                link: link.clone(),
                controller: previous.clone(),
                previous: controller.clone(),
            },
            Op::SetMtu {
                link,
                mtu,
                previous,
            } => Op::SetMtu {
                link: link.clone(),
                mtu: (*previous)?,
                previous: Some(*mtu),
            },
            Op::SetUp { link, up } => Op::SetUp {
                link: link.clone(),
                up: !up,
            },
            Op::AddAddress { link, cidr } => Op::DelAddress {
                flushed: Vec::new(),
                link: link.clone(),
                cidr: *cidr,
            },
            Op::DelAddress { link, cidr, .. } => Op::AddAddress {
                link: link.clone(),
                cidr: *cidr,
            },
            Op::AddRoute { route } => Op::DelRoute {
                route: route.clone(),
            },
            Op::DelRoute { route } => Op::AddRoute {
                route: route.clone(),
            },
            Op::SetVf {
                pf,
                vf,
                set,
                previous,
            } => Op::SetVf {
                pf: pf.clone(),
                vf: *vf,
                set: previous.clone(),
                previous: set.clone(),
            },
        })
    }

    /// The link the op acts on (a route's device).
    pub fn link(&self) -> &str {
        match self {
            Op::CreateLink { name, .. } | Op::DeleteLink { name, .. } => name,
            Op::SetController { link, .. }
            | Op::SetMtu { link, .. }
            | Op::SetUp { link, .. }
            | Op::AddAddress { link, .. }
            | Op::DelAddress { link, .. } => link,
            Op::AddRoute { route } | Op::DelRoute { route } => &route.dev,
            Op::SetVf { pf, .. } => pf,
        }
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dst)?;
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        write!(f, " dev {} metric {}", self.dev, self.metric)?;
        if self.table != 254 {
            write!(f, " table {}", self.table)?;
        }
        Ok(())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::CreateLink {
                name,
                spec,
                restore: None,
            } => write!(f, "create {name}: {spec}"),
            Op::CreateLink {
                name,
                spec,
                restore: Some(s),
            } => write!(
                f,
                "recreate {name}: {spec}, mtu {}, {}, {} addresses, {} routes",
                s.mtu,
                if s.up { "up" } else { "down" },
                s.addresses.len(),
                s.routes.len()
            ),
            Op::DeleteLink { name, spec, .. } => write!(f, "delete {name} ({spec})"),
            Op::SetController {
                link,
                controller: Some(c),
                ..
            } => write!(f, "enslave {link} to {c}"),
            Op::SetController {
                link,
                controller: None,
                previous,
            } => {
                write!(
                    f,
                    "release {link} from {}",
                    previous.as_deref().unwrap_or("its controller")
                )
            }
            Op::SetMtu {
                link,
                mtu,
                previous: Some(p),
            } => write!(f, "set mtu of {link}: {p} -> {mtu}"),
            Op::SetMtu {
                link,
                mtu,
                previous: None,
            } => write!(f, "set mtu of {link}: {mtu}"),
            Op::SetUp { link, up } => write!(f, "set {link} {}", if *up { "up" } else { "down" }),
            Op::AddAddress { link, cidr } => write!(f, "add address {cidr} to {link}"),
            Op::DelAddress {
                link,
                cidr,
                flushed,
            } => {
                write!(f, "remove address {cidr} from {link}")?;
                if !flushed.is_empty() {
                    write!(
                        f,
                        " (the kernel drops {} route{} through {link} with it)",
                        flushed.len(),
                        if flushed.len() == 1 { "" } else { "s" }
                    )?;
                }
                Ok(())
            }
            Op::AddRoute { route } => write!(f, "add route {route}"),
            Op::DelRoute { route } => write!(f, "remove route {route}"),
            Op::SetVf { pf, vf, set, .. } => {
                write!(f, "set vf {vf} of {pf}: {}", super::vf::settings_text(set))
            }
        }
    }
}
