//! The connectivity guard end to end: `plumber apply` in a node namespace whose veth `va`
//! (10.9.9.9/24, default route via 10.9.9.1) has its peer `vb` in a second namespace holding the
//! gateway's 10.9.9.1/24, so that the gateway really answers ARP (and, for `--reach`, a TCP listener
//! there accepts connections). A plan that cuts the node off is refused before any change; with
//! `--allow-disconnect` it is carried out, the probes fail, and everything is rolled back; a harmless
//! plan passes the guard.

use std::process::Output;
use std::time::Instant;

use crate::common::*;
use crate::in_netns;
use crate::uplink::{Gateway, Node};

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The node's links, addresses and routes.
fn node_state() -> String {
    yaml(&discover())
}

/// Moves va's only address off the gateway's subnet (its unlisted `proto boot` default route goes
/// too).
const RENUMBER: &str = "  interfaceConfig: [{name: va, ipv4: {address: [10.8.8.8/24]}}]\n";

#[test]
fn moving_the_only_address_off_the_gateways_subnet_is_refused_or_rolled_back() {
    in_netns!(
        "moving_the_only_address_off_the_gateways_subnet_is_refused_or_rolled_back",
        || {
            let _gw = Gateway::new("renumber");
            let node = Node::new();
            let t = node.template(RENUMBER);
            let before = node_state();
            let files = node.files();

            // Refused before any change, naming the probe, the changes on its path and the flag.
            for extra in [&["--dry-run"][..], &[]] {
                let (out, _) = node.plumber(&t, extra);
                assert_eq!(out.status.code(), Some(1), "{}", text(&out));
                let err = stderr(&out);
                for want in [
                    "connectivity guard: the plan cuts the node off from default gateway 10.9.9.1 via va",
                    "remove address 10.9.9.9/24 from va",
                    "remove route 0.0.0.0/0 via 10.9.9.1 dev va metric 0",
                    "nothing was changed. If this is meant, pass --allow-disconnect",
                ] {
                    assert!(err.contains(want), "no {want:?} in {}", text(&out));
                }
                assert_eq!(node_state(), before);
                assert_eq!(node.files(), files);
            }
            assert_eq!(node.record()["result"], "refused");

            // Meant: carried out, the gateway no longer answers, everything is rolled back.
            let (out, took) = node.plumber(&t, &["--allow-disconnect", "--guard-timeout", "1"]);
            assert_eq!(out.status.code(), Some(3), "{}", text(&out));
            assert_eq!(node_state(), before, "{}", text(&out));
            assert_eq!(node.files(), files);
            let rec = node.record();
            assert_eq!(rec["result"], "rolled-back");
            let lost = rec["connectivity_lost"].as_str().unwrap();
            assert!(
                lost.starts_with(
                    "default gateway 10.9.9.1 via va no longer answers (it did before the apply): \
                     the node has no usable IPv4 default route"
                ),
                "{rec:#}"
            );
            let error = rec["error"].as_str().unwrap();
            assert!(
                error.starts_with(&format!("connectivity guard: {lost}; rolled back the ")),
                "{rec:#}"
            );
            assert!(stderr(&out).contains(error), "{}", text(&out));
            eprintln!("guard timing: rolled back after {took:?}: {}", rec["guard"]);
        }
    );
}

#[test]
fn a_harmless_change_passes_the_guard() {
    in_netns!("a_harmless_change_passes_the_guard", || {
        let gw = Gateway::new("harmless");
        let port = gw.listen("10.9.9.1");
        let reach = format!("10.9.9.1:{port}");
        let node = Node::new();
        // A smaller MTU and a second address; the default route as it is.
        let t = node.template(
            "  interfaceConfig:
    - name: va
      mtu: 1400
      ipv4:
        address: [10.9.9.9/24, 10.9.9.10/24]
        routes: [{to: default, via: 10.9.9.1}]
",
        );
        // A port nobody listens on: refused before the apply, so not required after it.
        let args = ["--reach", &reach, "--reach", "10.9.9.1:1"];

        let (dry, _) = node.plumber(&t, &[&["--dry-run"][..], &args].concat());
        assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
        let lines: Vec<String> = String::from_utf8_lossy(&dry.stdout)
            .lines()
            .filter(|l| l.starts_with("guard: "))
            .map(str::to_string)
            .collect();
        assert_eq!(
            lines,
            [
                "guard: check default gateway 10.9.9.1 via va".to_string(),
                format!("guard: check endpoint {reach}"),
                "guard: check endpoint 10.9.9.1:1".to_string(),
            ]
        );

        let (out, took) = node.plumber(&t, &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let s = discover();
        assert_eq!(s.links["va"].mtu, 1400);
        assert_eq!(cidrs(&s, "va"), ["10.9.9.9/24", "10.9.9.10/24"]);
        let rec = node.record();
        assert_eq!(rec["result"], "applied");
        let guard: Vec<&str> = rec["guard"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(guard.len(), 3, "{rec:#}");
        assert!(
            guard[0].starts_with("default gateway 10.9.9.1 via va: answered in "),
            "{rec:#}"
        );
        assert!(guard[0].contains(" after it"), "{rec:#}");
        assert!(
            guard[1].starts_with(&format!("endpoint {reach}: answered in ")),
            "{rec:#}"
        );
        assert!(
            guard[2].starts_with("endpoint 10.9.9.1:1: did not answer before the apply"),
            "{rec:#}"
        );
        assert!(guard[2].ends_with("not checked after it"), "{rec:#}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("guard: default gateway 10.9.9.1 via va"),
            "{}",
            text(&out)
        );
        eprintln!("guard timing: applied in {took:?}: {guard:?}");
    });
}

#[test]
fn a_plan_removing_the_route_to_a_reach_endpoint_is_refused() {
    in_netns!(
        "a_plan_removing_the_route_to_a_reach_endpoint_is_refused",
        || {
            let gw = Gateway::new("reach");
            // The endpoint is behind the gateway, reached by a route of its own (no default route).
            gw.ip("addr add 10.7.7.7/32 dev lo");
            let port = gw.listen("10.7.7.7");
            let reach = format!("10.7.7.7:{port}");
            sh("route del default");
            sh("route add 10.7.7.0/24 via 10.9.9.1");
            let node = Node::new();
            // The address as it is; the unlisted (proto boot) route to the endpoint is removed.
            let t =
                node.template("  interfaceConfig: [{name: va, ipv4: {address: [10.9.9.9/24]}}]\n");
            let before = node_state();

            let (out, _) = node.plumber(&t, &["--reach", &reach]);
            assert_eq!(out.status.code(), Some(1), "{}", text(&out));
            let err = stderr(&out);
            for want in [
            format!("the plan cuts the node off from endpoint {reach} (reached by route 10.7.7.0/24 via 10.9.9.1 dev va): remove route 10.7.7.0/24 via 10.9.9.1 dev va metric 0"),
            "pass --allow-disconnect".to_string(),
        ] {
            assert!(err.contains(&want), "no {want:?} in {}", text(&out));
        }
            assert_eq!(node_state(), before);

            // Meant: the endpoint no longer answers after the change, which is rolled back.
            let (out, took) = node.plumber(
                &t,
                &[
                    "--reach",
                    &reach,
                    "--allow-disconnect",
                    "--guard-timeout",
                    "1",
                ],
            );
            assert_eq!(out.status.code(), Some(3), "{}", text(&out));
            assert_eq!(node_state(), before);
            let rec = node.record();
            let lost = rec["connectivity_lost"].as_str().unwrap();
            assert!(
                lost.starts_with(&format!(
                    "endpoint {reach} no longer answers (it did before the apply): connecting: "
                )),
                "{rec:#}"
            );
            eprintln!("guard timing: rolled back after {took:?}: {}", rec["guard"]);
        }
    );
}

/// The kernel's verdict on the gateway, through `netlink::neigh::confirm`: fresh each time. A cached
/// `REACHABLE` entry is not an answer once the gateway is gone (the kernel's own probes fail it), and a
/// failed entry answers again once the gateway is back.
#[test]
fn a_neighbour_answers_only_while_the_gateway_does() {
    in_netns!("a_neighbour_answers_only_while_the_gateway_does", || {
        use plumber::node::netlink::neigh::{confirm, Verdict};
        use tokio::time::Instant as Deadline;
        let gw = Gateway::new("neigh");
        let index = plumber::node::netlink::run(async {
            let h = plumber::node::netlink::connection().unwrap();
            plumber::node::netlink::discover_indexed(&h)
                .await
                .unwrap()
                .1["va"]
        });
        let gateway: std::net::IpAddr = "10.9.9.1".parse().unwrap();
        let ask = |secs: f64| {
            let start = Instant::now();
            let v = plumber::node::netlink::run(confirm(
                index,
                gateway,
                Deadline::now() + std::time::Duration::from_secs_f64(secs),
            ))
            .unwrap();
            (v, start.elapsed())
        };

        // No entry yet: resolved (NTF_USE), answered.
        let (v, took) = ask(5.0);
        assert_eq!(v, Verdict::Answered);
        eprintln!("neighbour timing: answered in {took:?}");
        // REACHABLE now, and the gateway goes away: probed afresh, no answer.
        gw.ip("addr del 10.9.9.1/24 dev vb");
        let (v, _) = ask(0.2);
        assert!(matches!(v, Verdict::Pending(_)), "{v:?}");
        let (v, took) = ask(10.0);
        assert_eq!(v, Verdict::Failed);
        eprintln!("neighbour timing: failed after {took:?}");
        // Back: the failed entry is resolved again.
        gw.ip("addr add 10.9.9.1/24 dev vb");
        let (v, took) = ask(5.0);
        assert_eq!(v, Verdict::Answered);
        eprintln!("neighbour timing: answered again in {took:?}");
    });
}

/// The guard reads the whole node, not only what the templates name: a plan that changes only `vc`
/// still probes the default gateway behind `va`, a link no template names (the plan is made from a full
/// discovery whenever it changes something; only a plan that changes nothing comes from the scoped
/// one, and the re-apply here is that one).
#[test]
fn the_guard_probes_the_gateway_of_a_link_the_templates_do_not_name() {
    in_netns!(
        "the_guard_probes_the_gateway_of_a_link_the_templates_do_not_name",
        || {
            let _gw = Gateway::new("unnamed");
            veth("vc", "vd");
            let node = Node::new();
            let t = node.template("  interfaceConfig: [{name: vc, mtu: 1400}]\n");
            let (out, _) = node.plumber(&t, &[]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            let rec = node.record();
            assert_eq!(rec["result"], "applied", "{rec:#}");
            let guard = rec["guard"].as_array().unwrap();
            assert_eq!(guard.len(), 1, "{rec:#}");
            let probe = guard[0].as_str().unwrap();
            assert!(
                probe.starts_with("default gateway 10.9.9.1 via va: answered in ")
                    && probe.contains(" after it"),
                "{rec:#}"
            );
            assert_eq!(discover().links["vc"].mtu, 1400);

            // Again: nothing to do, nothing written.
            let (out, _) = node.plumber(&t, &[]);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out));
            let rec = node.record();
            assert_eq!(rec["result"], "applied", "{rec:#}");
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("plumber: nothing to do"),
                "{}",
                text(&out)
            );
        }
    );
}

/// The scoped discovery is tried only where a plan that changes nothing is likely, after an apply that
/// ended well (README, "plans"): a first apply reads the whole node once, a re-apply after it only the
/// links the template names, and an apply after a refusal the whole node again (`PLUMBER_TIMING` names
/// each discovery's phases).
#[test]
fn the_scoped_discovery_is_tried_only_after_an_apply_that_ended_well() {
    in_netns!(
        "the_scoped_discovery_is_tried_only_after_an_apply_that_ended_well",
        || {
            veth("vc", "vd");
            let node = Node::new();
            let good = node.template("  interfaceConfig: [{name: vc, mtu: 1400}]\n");
            let apply = |t: &std::path::Path| {
                let out = assert_cmd::Command::cargo_bin("plumber")
                    .unwrap()
                    .env("PLUMBER_TIMING", "1")
                    .args(["apply", "--node-name", "node-1", "-f"])
                    .arg(t)
                    .arg("--root")
                    .arg(node.root())
                    .arg("--sysfs")
                    .arg(node.sysfs.root())
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr).to_string();
                (out.status.code(), err)
            };
            let scoped = |err: &str| err.contains("plumber timing: discover (scoped)");
            let full = |err: &str| err.contains("plumber timing: discover: ");

            let (code, err) = apply(&good);
            assert_eq!(code, Some(0), "{err}");
            assert!(!scoped(&err) && full(&err), "a first apply: {err}");
            let (code, err) = apply(&good);
            assert_eq!(code, Some(0), "{err}");
            assert!(scoped(&err) && !full(&err), "a re-apply: {err}");

            let missing = node.template("  interfaceConfig: [{name: nosuch0, mtu: 1400}]\n");
            let (code, err) = apply(&missing);
            assert_eq!(code, Some(1), "{err}");
            assert_eq!(node.record()["result"], "refused");
            let good = node.template("  interfaceConfig: [{name: vc, mtu: 1400}]\n");
            let (code, err) = apply(&good);
            assert_eq!(code, Some(0), "{err}");
            assert!(!scoped(&err) && full(&err), "after a refusal: {err}");
            assert_eq!(discover().links["vc"].mtu, 1400);
        }
    );
}
