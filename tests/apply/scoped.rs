//! The scoped discovery (`netlink::Scoped`, fed by `plan::scope::links_read`) against a full one in the
//! same namespace: planning on either gives the same plan and the same letting go, link for link and op
//! for op, and what the scoped one reports of a link or route is what the full one reports of it.

use std::collections::BTreeSet;

use plumber::node::netlink::{self, Indexes};
use plumber::node::plan::{self, scope, Owned};
use plumber::node::state::CurrentState;
use plumber_render::node::NodeConfig;

use crate::common::{desired, discover, sh, veth};
use crate::in_netns;

/// Waits until each of `links` has its IPv6 link-local address and the route of its prefix, which
/// the kernel adds asynchronously after the link gets carrier (two discoveries in a row must see the
/// same node).
fn settled(links: &[String]) {
    let names: Vec<&str> = links.iter().map(String::as_str).collect();
    let start = std::time::Instant::now();
    loop {
        let s = crate::common::settled(&names);
        let routed = names.iter().all(|l| {
            s.routes
                .iter()
                .any(|r| r.dev == *l && r.dst.to_string() == "fe80::/64")
        });
        if routed {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "no fe80::/64 route on one of {links:?}: {s:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The scoped discovery of `first`, then `names` (as an apply asks for the NICs' links, then for the
/// links the templates name).
fn scoped_after(first: &BTreeSet<String>, names: &BTreeSet<String>) -> (CurrentState, Indexes) {
    netlink::run(async {
        let mut s = netlink::Scoped::new().unwrap();
        s.add(first).await.unwrap();
        s.add(names).await.unwrap();
        s.finish().await.unwrap()
    })
}

/// The scoped discovery for `node` and `owned` on this namespace, checked against the full one: every
/// link it reports is the full discovery's, and so is every route through those links; the plan and
/// the letting go made from it are the full discovery's. Returns it.
fn equivalent(node: &NodeConfig, owned: &Owned) -> CurrentState {
    equivalent_after(&BTreeSet::new(), node, owned)
}

/// [`equivalent`], with the links `first` asked for first.
fn equivalent_after(first: &BTreeSet<String>, node: &NodeConfig, owned: &Owned) -> CurrentState {
    let full = discover();
    let names = scope::links_read(node, owned, &[]);
    let (part, indexes) = scoped_after(first, &names);
    for (name, l) in &part.links {
        assert_eq!(Some(l), full.links.get(name), "{name}");
        assert!(indexes.contains_key(name), "{name} has no index");
    }
    let through: Vec<_> = full
        .routes
        .iter()
        .filter(|r| part.links.contains_key(&r.dev))
        .collect();
    assert_eq!(part.routes.iter().collect::<Vec<_>>(), through);
    assert_eq!(
        format!("{:#?}", plan::plan(node, &part)),
        format!("{:#?}", plan::plan(node, &full))
    );
    assert_eq!(
        format!("{:#?}", plan::release(owned, node, &part)),
        format!("{:#?}", plan::release(owned, node, &full))
    );
    part
}

/// A namespace with something of everything a plan reads, and as much that it must not: a bridge the
/// templates replace (its members released first, outside the templates), a bridge plumber created
/// and lets go of (with a member, an address and a route), a NIC that is a port of the host's bridge,
/// routes of a stated link in the main table and another one, an address the templates want that
/// another link has too, the default gateway, and links and routes no one names.
#[test]
fn a_plan_from_the_scoped_discovery_is_the_full_discoverys() {
    in_netns!(
        "a_plan_from_the_scoped_discovery_is_the_full_discoverys",
        || {
            for i in 0..10 {
                veth(&format!("v{i}"), &format!("p{i}"));
            }
            // br7: the templates want a VLAN of that name; v3 and v4 are its ports.
            sh("link add br7 type bridge");
            sh("link set v3 master br7");
            sh("link set v4 master br7");
            sh("link set br7 up");
            // br8: plumber's, let go of, with port v6, an address and a route.
            sh("link add br8 type bridge");
            sh("link set v6 master br8");
            sh("link set br8 up");
            sh("address add 10.8.0.1/24 dev br8");
            sh("route add 10.88.0.0/16 via 10.8.0.254 dev br8 proto static");
            // hostbr: the host's bridge, v1's controller (named by index only).
            sh("link add hostbr type bridge");
            sh("link set v1 master hostbr");
            sh("link set v8 master hostbr");
            sh("link set hostbr up");
            // v0: stated by the templates; the default gateway is on it.
            sh("address add 10.1.0.1/24 dev v0");
            sh("address add 10.1.0.9/24 dev v0");
            sh("route add default via 10.1.0.254 dev v0");
            sh("route add 10.100.0.0/16 via 10.1.0.254 dev v0 table 100 proto static");
            sh("route add 10.101.0.0/16 via 10.1.0.254 dev v0 proto boot");
            // v7: plumber's address and route, let go of.
            sh("address add 10.7.0.2/24 dev v7");
            sh("route add 10.77.0.0/16 via 10.7.0.1 dev v7 proto static");
            // v9: no one's, with the address the templates want on v0 and a route.
            sh("address add 10.1.0.1/24 dev v9");
            sh("route add 10.99.0.0/16 via 10.1.0.254 dev v9 proto static");
            let mut up: Vec<String> = (0..10).map(|i| format!("v{i}")).collect();
            up.extend(["br7", "br8", "hostbr"].map(String::from));
            settled(&up);

            let node = desired(
                "  interfaceConfig:
    - name: v0
      ipv4:
        address: [10.1.0.1/24]
        routes:
          - {to: 10.50.0.0/16, via: 10.1.0.254}
    - name: v1
      mtu: 1400
    - name: v2
      vlan:
        - id: 7
          name: br7
",
            );
            let owned: Owned = serde_json::from_str(
                r#"{"links": {"br8": "bridge"}, "addresses": {"v7": ["10.7.0.2/24"]},
                "routes": [{"dev": "v7", "dst": "10.77.0.0/16", "via": "10.7.0.1", "metric": 0,
                            "table": 254, "proto": "static"}]}"#,
            )
            .unwrap();
            let part = equivalent(&node, &owned);

            // What the plan needs came from the kernel's closure, and nothing else did.
            let got: BTreeSet<&str> = part.links.keys().map(String::as_str).collect();
            let want: BTreeSet<&str> = [
                "br7", "br8", "hostbr", "v0", "v1", "v2", "v3", "v4", "v6", "v7",
            ]
            .into();
            assert_eq!(got, want);
            // The plan is not empty: the equivalence holds for the ops, not only for "nothing to do".
            let ops = plan::plan(&node, &part).unwrap();
            let lines: Vec<String> = ops.iter().map(|o| o.to_string()).collect();
            let text = lines.join("\n");
            for want in ["br7", "v3", "10.1.0.9/24", "10.101.0.0/16", "10.100.0.0/16"] {
                assert!(text.contains(want), "no {want} in\n{text}");
            }
            let released: Vec<String> = plan::release(&owned, &node, &part)
                .iter()
                .map(|o| o.to_string())
                .collect();
            let text = released.join("\n");
            for want in ["br8", "v6", "10.7.0.2/24", "10.77.0.0/16"] {
                assert!(text.contains(want), "no {want} in\n{text}");
            }

            // A bridge found first as a controller (by index), then named: its ports are read all the
            // same (replaced by a VLAN of that name, it releases them first).
            let first: BTreeSet<String> = ["v1".to_string()].into();
            let replaced =
            desired("  interfaceConfig:\n    - name: v2\n      vlan:\n        - {id: 9, name: hostbr}\n");
            let part = equivalent_after(&first, &replaced, &Owned::default());
            assert!(part.links.contains_key("v8"), "{part:#?}");
            let ops = plan::plan(&replaced, &part).unwrap();
            assert!(ops.iter().any(|o| o.to_string().contains("v8")), "{ops:#?}");

            // A link the templates name that the node lacks: the same refusal from both.
            let missing = desired("  interfaceConfig:\n    - name: nope0\n      mtu: 1400\n");
            equivalent(&missing, &Owned::default());
            // A link of the wrong kind: the same refusal from both.
            let wrong = desired("  bridgeConfig:\n    - name: v5\n      members: [v8]\n");
            equivalent(&wrong, &Owned::default());
            // Nothing named, nothing owned: nothing read, nothing planned.
            let none = equivalent(&desired("  interfaceConfig: []\n"), &Owned::default());
            assert!(none.links.is_empty() && none.routes.is_empty(), "{none:#?}");
        }
    );
}

/// The node as the templates name it, once applied: the scoped discovery's plan is empty, as the full
/// one's, and its links are only the named ones (the peers, the other links are not read).
#[test]
fn an_applied_node_plans_nothing_from_the_scoped_discovery() {
    in_netns!(
        "an_applied_node_plans_nothing_from_the_scoped_discovery",
        || {
            for i in 0..40 {
                veth(&format!("v{i}"), &format!("p{i}"));
            }
            settled(&(0..20).map(|i| format!("v{i}")).collect::<Vec<_>>());
            let node = desired(
                "  interfaceConfig:
    - name: v3
      mtu: 9000
      ipv4:
        address: [10.3.0.2/24]
        routes:
          - {to: 10.33.0.0/16, via: 10.3.0.1}
",
            );
            let ops = plan::plan(&node, &discover()).unwrap();
            crate::common::apply(&ops).unwrap();
            let part = equivalent(&node, &Owned::of(&node));
            assert_eq!(part.links.keys().collect::<Vec<_>>(), ["v3"]);
            assert!(plan::plan(&node, &part).unwrap().is_empty());

            // 20 links named: more than the scoped discovery reads with dumps filtered by link, so
            // their addresses and routes come from whole dumps kept for them; the same plan again
            // (not empty: 19 links to change), v3's routes and addresses among the rest.
            let mut spec = String::from("  interfaceConfig:\n");
            for i in 0..20 {
                spec +=
                    &format!("    - name: v{i}\n      ipv4:\n        address: [10.{i}.0.2/24]\n");
            }
            let many = desired(&spec);
            let part = equivalent(&many, &Owned::of(&node));
            assert_eq!(part.links.len(), 20);
            assert!(part.routes.iter().any(|r| r.dev == "v3" && r.via.is_some()));
            assert!(!plan::plan(&many, &part).unwrap().is_empty());
        }
    );
}
