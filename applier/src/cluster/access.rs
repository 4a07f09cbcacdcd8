//! What plumber asks of the API server, in RBAC terms: the single source the RBAC under `deploy/` is
//! checked against (it must grant exactly this, no more), and that the agent's tests check every request
//! they see against (it must be granted).
//!
//! Two identities: the node agent (the DaemonSet, [`AGENT`]) and the rollup (the one-replica Deployment
//! that writes each `HostNetworkTemplate`'s status, [`ROLLUP`]). The agent never writes a template: the
//! per-template rollup is computed from every node's `HostNetwork` by one writer, so that a thousand
//! agents do not fight over one status and an idle agent writes nothing at all.
//!
//! ```yaml
//! # deploy/rbac.yaml, the agent's ClusterRole, as [`AGENT`] says
//! rules:
//! - apiGroups: [plumber.k8s.pf9.io]
//!   resources: [hostnetworktemplates]
//!   verbs: [list, watch]
//! ```

/// Access to one resource (or subresource: `hostnetworks/status`) of one API group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// The API group (`""`: the core group).
    pub group: &'static str,
    /// The resource, with `/subresource` when it is one.
    pub resource: &'static str,
    /// The verbs, sorted.
    pub verbs: &'static [&'static str],
    /// Granted in the agent's own namespace only (a Role), not cluster-wide (a ClusterRole).
    pub namespaced: bool,
}

const PLUMBER: &str = "plumber.k8s.pf9.io";

/// The ClusterRole deploy/ grants to whoever may read the agent's and the rollup's `/metrics` (bound
/// by the cluster's admin to a scraper, never to plumber itself): `get` on the non-resource URL
/// [`crate::cluster::metrics_access::METRICS_PATH`].
pub const METRICS_READER: &str = "plumber-metrics-reader";

/// `/metrics` for whom the API server says may read it (`--metrics-access kubernetes`, the default),
/// for the agent and the rollup: who the bearer token is (a TokenReview), then whether that user may
/// `get /metrics` (a SubjectAccessReview), as kube-rbac-proxy does.
const TOKEN_REVIEWS: Access = Access {
    group: "authentication.k8s.io",
    resource: "tokenreviews",
    verbs: &["create"],
    namespaced: false,
};
const ACCESS_REVIEWS: Access = Access {
    group: "authorization.k8s.io",
    resource: "subjectaccessreviews",
    verbs: &["create"],
    namespaced: false,
};

/// The node agent.
pub const AGENT: &[Access] = &[
    // The reflector over every template.
    Access {
        group: PLUMBER,
        resource: "hostnetworktemplates",
        verbs: &["list", "watch"],
        namespaced: false,
    },
    // Its own Node's labels (a watch with a field selector), and whether the node holding a rollout
    // slot still exists (get).
    Access {
        group: "",
        resource: "nodes",
        verbs: &["get", "list", "watch"],
        namespaced: false,
    },
    // Its own HostNetwork: read on start, created by a server-side apply of the main resource (which
    // needs `create` as well as `patch`).
    Access {
        group: PLUMBER,
        resource: "hostnetworks",
        verbs: &["create", "get", "patch"],
        namespaced: false,
    },
    Access {
        group: PLUMBER,
        resource: "hostnetworks/status",
        verbs: &["patch"],
        namespaced: false,
    },
    // kube's Recorder creates an Event and patches it when it repeats (a series). Events about a
    // cluster-scoped object go to `default`, so this one is cluster-wide.
    Access {
        group: "events.k8s.io",
        resource: "events",
        verbs: &["create", "patch"],
        namespaced: false,
    },
    // `/metrics` for whom the API server says may read it.
    TOKEN_REVIEWS,
    ACCESS_REVIEWS,
    // Rollout slots (`maxUnavailable`): one Lease per slot in the agent's namespace, listed by label
    // (one request for all of them), created, taken over (update) and given back (delete).
    Access {
        group: "coordination.k8s.io",
        resource: "leases",
        verbs: &["create", "delete", "list", "update"],
        namespaced: true,
    },
];

/// The rollup: reads templates, nodes and HostNetworks, writes template statuses.
pub const ROLLUP: &[Access] = &[
    Access {
        group: PLUMBER,
        resource: "hostnetworktemplates",
        verbs: &["list", "watch"],
        namespaced: false,
    },
    Access {
        group: PLUMBER,
        resource: "hostnetworktemplates/status",
        verbs: &["patch"],
        namespaced: false,
    },
    Access {
        group: PLUMBER,
        resource: "hostnetworks",
        verbs: &["list", "watch"],
        namespaced: false,
    },
    Access {
        group: "",
        resource: "nodes",
        verbs: &["list", "watch"],
        namespaced: false,
    },
    // The templates' NetworkAttachmentDefinitions (Multus), in whichever namespaces they name.
    Access {
        group: "k8s.cni.cncf.io",
        resource: "network-attachment-definitions",
        verbs: &["create", "delete", "list", "patch"],
        namespaced: false,
    },
    // `/metrics` for whom the API server says may read it.
    TOKEN_REVIEWS,
    ACCESS_REVIEWS,
];

/// One HTTP request to the API server in RBAC terms: `(group, resource[/subresource], verb)`, or `None`
/// for a path that is not a resource (discovery, `/version`).
///
/// `GET` of a collection is `list` (`watch` with `watch=true` or `watch=1` in `query`), of a named object
/// `get`; `POST` is `create`, `PUT` `update`, `PATCH` `patch` (server-side apply included), `DELETE`
/// `delete` (`deletecollection` on a collection).
pub fn request_verb(method: &str, path: &str, query: &str) -> Option<(String, String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    // /api/v1/... or /apis/GROUP/VERSION/...
    let (group, rest) = match parts.as_slice() {
        ["api", _v, rest @ ..] => ("", rest),
        ["apis", g, _v, rest @ ..] => (*g, rest),
        _ => return None,
    };
    let rest = match rest {
        ["namespaces", _ns, r @ ..] if !r.is_empty() => r,
        r => r,
    };
    let (resource, named) = match rest {
        [r] => (r.to_string(), false),
        [r, _name] => (r.to_string(), true),
        [r, _name, sub] => (format!("{r}/{sub}"), true),
        _ => return None,
    };
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let verb = match (method, named) {
        ("GET", false) if watch => "watch",
        ("GET", false) => "list",
        ("GET", true) => "get",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", false) => "deletecollection",
        ("DELETE", true) => "delete",
        _ => return None,
    };
    Some((group.to_string(), resource, verb.to_string()))
}

/// Whether `table` grants a request (see [`request_verb`]).
pub fn grants(table: &[Access], group: &str, resource: &str, verb: &str) -> bool {
    table
        .iter()
        .any(|a| a.group == group && a.resource == resource && a.verbs.contains(&verb))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(m: &str, p: &str, q: &str) -> Option<(String, String, String)> {
        request_verb(m, p, q)
    }

    #[test]
    fn requests_map_to_rbac_verbs() {
        let t = |g: &str, r: &str, vb: &str| Some((g.to_string(), r.to_string(), vb.to_string()));
        assert_eq!(
            v(
                "GET",
                "/apis/plumber.k8s.pf9.io/v1/hostnetworktemplates",
                "limit=500"
            ),
            t(PLUMBER, "hostnetworktemplates", "list")
        );
        assert_eq!(
            v("GET", "/api/v1/nodes", "fieldSelector=x&watch=true"),
            t("", "nodes", "watch")
        );
        assert_eq!(v("GET", "/api/v1/nodes/n1", ""), t("", "nodes", "get"));
        assert_eq!(
            v(
                "PATCH",
                "/apis/plumber.k8s.pf9.io/v1/hostnetworks/n1/status",
                ""
            ),
            t(PLUMBER, "hostnetworks/status", "patch")
        );
        assert_eq!(
            v(
                "POST",
                "/apis/events.k8s.io/v1/namespaces/default/events",
                ""
            ),
            t("events.k8s.io", "events", "create")
        );
        assert_eq!(
            v(
                "DELETE",
                "/apis/coordination.k8s.io/v1/namespaces/plumber/leases/x",
                ""
            ),
            t("coordination.k8s.io", "leases", "delete")
        );
        assert_eq!(
            v(
                "PUT",
                "/apis/coordination.k8s.io/v1/namespaces/plumber/leases/x",
                ""
            ),
            t("coordination.k8s.io", "leases", "update")
        );
        assert_eq!(v("GET", "/version", ""), None);
    }

    #[test]
    fn tables_are_sorted_and_unique() {
        for table in [AGENT, ROLLUP] {
            for a in table {
                let mut s = a.verbs.to_vec();
                s.sort();
                s.dedup();
                assert_eq!(s, a.verbs, "{a:?}");
            }
            for (i, a) in table.iter().enumerate() {
                assert!(
                    !table[i + 1..]
                        .iter()
                        .any(|b| b.group == a.group && b.resource == a.resource),
                    "{a:?} twice"
                );
            }
        }
        assert!(grants(AGENT, "", "nodes", "watch"));
        assert!(!grants(
            AGENT,
            PLUMBER,
            "hostnetworktemplates/status",
            "patch"
        ));
    }
}
