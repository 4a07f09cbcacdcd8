//! NetworkManager keyfiles (rhel9, rhel10) against their real consumer, nmcli 1.42 in offline mode.
//!
//! `nmcli --offline connection modify connection.autoconnect yes < FILE` reads one keyfile on standard
//! input with NetworkManager's own keyfile reader, applies the change, normalizes and verifies the
//! profile as the daemon does when it loads a file, and prints the resulting keyfile; it exits non-zero
//! on a file GLib cannot parse or a profile NetworkManager refuses. The change is a no-op for plumber's
//! profiles, which all say `autoconnect=true`. Both files are then parsed as GLib key files and the
//! settings that matter compared, so a key NetworkManager dropped or read differently fails the test.
//! The comparison is not optional: NetworkManager's reader drops a value it cannot use (an unknown bond
//! mode, a malformed address or route) with a warning and still exits 0.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;
use plumber_render::distro::Distro;
use plumber_render::render::Artifact;

#[allow(dead_code)]
mod glib_keyfile {
    include!("../support/glib_keyfile.rs");
}
use glib_keyfile::{get, parse, Keyfile};

/// Load a keyfile the way the test validates it: the nmcli invocation of the module documentation.
/// `Ok` with the keyfile nmcli prints back, `Err` with its error output.
fn nmcli_load(keyfile: &str) -> Result<String, String> {
    let nmcli = require_tool("nmcli");
    let mut child = Command::new(nmcli)
        .args([
            "--offline",
            "connection",
            "modify",
            "connection.autoconnect",
            "yes",
        ])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nmcli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(keyfile.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        assert!(
            stdout.contains("[connection]"),
            "nmcli succeeded without printing a keyfile:\n{stdout}{stderr}"
        );
        Ok(stdout)
    } else {
        assert!(!stderr.trim().is_empty(), "nmcli failed without saying why");
        Err(stderr)
    }
}

/// The settings compared between plumber's file and nmcli's: every key of these groups.
const COMPARED: &[&str] = &[
    "connection",
    "ethernet",
    "vlan",
    "bond",
    "bridge",
    "ipv4",
    "ipv6",
];

/// Keys NetworkManager's writer leaves out when they hold their default, with that default.
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("connection", "autoconnect", "true"),
    ("bridge", "stp", "true"),
];

/// `group.key` -> value over [`COMPARED`], defaults filled in for groups the file has.
fn settings(kf: &Keyfile) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (g, keys) in kf.iter().filter(|(g, _)| COMPARED.contains(&g.as_str())) {
        for (k, v) in keys {
            m.insert(format!("{g}.{k}"), v.clone());
        }
        for (dg, dk, dv) in DEFAULTS {
            if dg == g {
                m.entry(format!("{g}.{dk}"))
                    .or_insert_with(|| dv.to_string());
            }
        }
    }
    m
}

/// The settings whose values differ, one line each; empty when NetworkManager reads what plumber wrote.
fn differences(ours: &BTreeMap<String, String>, theirs: &BTreeMap<String, String>) -> Vec<String> {
    let keys: BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    keys.into_iter()
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .map(|k| format!("{k}: plumber {:?}, nmcli {:?}", ours.get(k), theirs.get(k)))
        .collect()
}

fn keyfiles(arts: &[Artifact], distro: &Distro) -> Vec<Artifact> {
    let dir = format!("{}/", distro.paths.network);
    arts.iter()
        .filter(|a| a.path.ends_with(".nmconnection"))
        .cloned()
        .inspect(|a| {
            assert!(a.path.starts_with(&dir), "{} is not under {dir}", a.path);
            assert_eq!(
                a.mode, 0o600,
                "{}: NetworkManager ignores keyfiles others can read",
                a.path
            );
            assert!(a.symlink.is_none(), "{}", a.path);
        })
        .collect()
}

fn keyfile_distros() -> Vec<Distro> {
    ["rhel9", "rhel10"]
        .iter()
        .map(|n| Distro::by_name(n).unwrap())
        .collect()
}

#[test]
fn every_golden_keyfile_loads_in_nmcli_and_reads_back_the_same() {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0;
    for d in keyfile_distros() {
        for case in cases() {
            for a in keyfiles(&render_case(&case, &d), &d) {
                let what = format!("{} for {}: {}", case.name, d.name, a.path);
                let ours =
                    parse(&a.content).unwrap_or_else(|e| panic!("{what}: {e}\n{}", a.content));
                let printed = nmcli_load(&a.content)
                    .unwrap_or_else(|e| panic!("{what}: nmcli refuses it: {e}\n{}", a.content));
                let theirs = parse(&printed)
                    .unwrap_or_else(|e| panic!("{what}: nmcli printed {e}\n{printed}"));

                // The file is named after the connection, which is named after the interface.
                let ifname = get(&ours, "connection", "interface-name")
                    .unwrap_or_else(|| panic!("{what}: no interface-name"));
                let file = a.path.rsplit('/').next().unwrap();
                assert_eq!(file, format!("plumber-{ifname}.nmconnection"), "{what}");
                assert_eq!(
                    get(&ours, "connection", "id"),
                    Some(format!("plumber-{ifname}").as_str()),
                    "{what}"
                );

                let (s_ours, s_theirs) = (settings(&ours), settings(&theirs));
                for key in [
                    "connection.interface-name",
                    "connection.type",
                    "connection.uuid",
                ] {
                    assert!(s_ours.contains_key(key), "{what}: no {key}");
                }
                let diff = differences(&s_ours, &s_theirs);
                assert!(
                    diff.is_empty(),
                    "{what}: NetworkManager reads it differently:\n{}\n--- plumber:\n{}\n--- nmcli:\n{printed}",
                    diff.join("\n"),
                    a.content
                );

                for (k, v) in &s_ours {
                    if k == "connection.type" || k.ends_with(".method") || k.ends_with("_options") {
                        seen.insert(format!("{k}={v}"));
                    }
                    if k.starts_with("connection.slave-type") || k == "ethernet.mtu" {
                        seen.insert(k.clone());
                    }
                }
                checked += 1;
            }
        }
    }
    // The goldens exercise every kind, method and option this renderer writes: a test over nothing
    // would pass too.
    for want in [
        "connection.type=ethernet",
        "connection.type=vlan",
        "connection.type=bond",
        "connection.type=bridge",
        "connection.slave-type",
        "ethernet.mtu",
        "ipv4.method=manual",
        "ipv4.method=auto",
        "ipv4.method=disabled",
        "ipv6.method=manual",
        "ipv6.method=auto",
        "ipv6.method=link-local",
        "ipv4.route3_options=table=100",
    ] {
        assert!(
            seen.contains(want),
            "no golden case produces {want}; seen: {seen:?}"
        );
    }
    assert!(checked >= 40, "only {checked} keyfiles checked");
}

#[test]
fn nmcli_rejects_broken_keyfiles() {
    let d = Distro::by_name("rhel9").unwrap();
    let case = cases()
        .into_iter()
        .find(|c| c.name == "bond-bridge")
        .expect("golden case bond-bridge");
    let arts = keyfiles(&render_case(&case, &d), &d);
    let file = |name: &str| {
        arts.iter()
            .find(|a| a.path.ends_with(&format!("/plumber-{name}.nmconnection")))
            .unwrap_or_else(|| panic!("no keyfile for {name}"))
            .content
            .clone()
    };
    let (bond, vlan) = (file("bond0"), file("bond0.100"));
    // Positive controls: the same invocation accepts the unbroken files.
    nmcli_load(&bond).unwrap();
    nmcli_load(&vlan).unwrap();

    // Each with a piece of nmcli's error message, so the failure is the one intended.
    let broken = [
        (
            "a line that is not a key-value pair",
            bond.replace("mtu=9000", "mtu 9000"),
            "not a key-value pair",
        ),
        (
            "an unknown IP method",
            bond.replace("method=manual", "method=static"),
            "ipv4.method",
        ),
        (
            "an 802.3ad option in another mode",
            bond.replace("mode=802.3ad", "mode=balance-rr"),
            "lacp_rate",
        ),
        (
            "an invalid escape in the id",
            bond.replace("id=plumber-bond0", "id=plumber\\qbond0"),
            "connection.id",
        ),
        (
            "a VLAN id out of range",
            vlan.replace("id=100\n", "id=4095\n"),
            "vlan.id",
        ),
        (
            "a manual method without a usable address",
            bond.replace("address1=10.10.0.5/24", "address1=10.10.0.500/24"),
            "ipv4.addresses",
        ),
    ];
    for (what, text, reason) in broken {
        assert!(
            text != bond && text != vlan,
            "{what}: the replacement did not apply"
        );
        match nmcli_load(&text) {
            Ok(printed) => {
                panic!("nmcli accepted a keyfile with {what}:\n{text}\n--- printed:\n{printed}")
            }
            Err(e) => assert!(
                e.contains(reason),
                "{what}: refused for another reason: {e}"
            ),
        }
    }
}

#[test]
fn the_read_back_comparison_catches_values_networkmanager_drops() {
    // NetworkManager's keyfile reader drops a value it cannot use, with a warning, and carries on with
    // the default: nmcli exits 0. Only comparing what it prints back catches these.
    let d = Distro::by_name("rhel9").unwrap();
    let case = cases()
        .into_iter()
        .find(|c| c.name == "bond-bridge")
        .expect("golden case bond-bridge");
    let arts = keyfiles(&render_case(&case, &d), &d);
    let file = |name: &str| {
        arts.iter()
            .find(|a| a.path.ends_with(&format!("/plumber-{name}.nmconnection")))
            .unwrap_or_else(|| panic!("no keyfile for {name}"))
            .content
            .clone()
    };
    for (what, name, from, to, key) in [
        (
            "an unknown bond mode",
            "bond1",
            "mode=active-backup",
            "mode=fastest",
            "bond.mode",
        ),
        (
            "an invalid second-family address",
            "br-mgmt",
            "address1=fd00:10::5/64",
            "address1=fd00:10::5/129",
            "ipv6.address1",
        ),
        (
            "an invalid route",
            "br-mgmt",
            "route1=0.0.0.0/0,192.168.10.1",
            "route1=0.0.0.0/0,192.168.10.256",
            "ipv4.route1",
        ),
    ] {
        // Without `primary=`, which NetworkManager refuses outright outside of active-backup.
        let text = file(name).replace(from, to).replace("primary=eno3\n", "");
        assert!(text.contains(to), "{what}: the replacement did not apply");
        let ours = settings(&parse(&text).unwrap());
        let printed = nmcli_load(&text).unwrap_or_else(|e| {
            panic!("{what}: expected nmcli to load it with a warning, it refused: {e}")
        });
        let diff = differences(&ours, &settings(&parse(&printed).unwrap()));
        assert!(
            diff.iter().any(|l| l.starts_with(&format!("{key}:"))),
            "{what}: the comparison does not see it: {diff:?}\n{printed}"
        );
    }
}

#[test]
fn uuids_are_deterministic_and_distinct() {
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    let mut total = 0;
    for d in keyfile_distros() {
        for case in cases() {
            let first = keyfiles(&render_case(&case, &d), &d);
            let again = keyfiles(&render_case(&case, &d), &d);
            assert_eq!(
                first, again,
                "{} for {}: rendering twice differs",
                case.name, d.name
            );
            let mut in_case = BTreeSet::new();
            for a in &first {
                let kf = parse(&a.content).unwrap();
                let id = get(&kf, "connection", "id").unwrap().to_string();
                let uuid = get(&kf, "connection", "uuid").unwrap().to_string();
                let parsed = uuid::Uuid::parse_str(&uuid)
                    .unwrap_or_else(|e| panic!("{}: {uuid}: {e}", a.path));
                assert_eq!(
                    parsed.get_version_num(),
                    5,
                    "{}: {uuid} is not a name-based (v5) UUID",
                    a.path
                );
                assert_eq!(
                    parsed.hyphenated().to_string(),
                    uuid,
                    "{}: not in canonical form",
                    a.path
                );
                assert!(
                    in_case.insert(uuid.clone()),
                    "{} for {}: UUID {uuid} twice",
                    case.name,
                    d.name
                );
                // The same connection has the same UUID in every case and on both distros.
                if let Some(prev) = by_id.insert(id.clone(), uuid.clone()) {
                    assert_eq!(prev, uuid, "{id} has two UUIDs");
                }
                total += 1;
            }
        }
    }
    // Different connections never share one.
    let uuids: BTreeSet<&String> = by_id.values().collect();
    assert_eq!(
        uuids.len(),
        by_id.len(),
        "two connection ids share a UUID: {by_id:?}"
    );
    assert!(
        by_id.len() >= 15 && total >= 40,
        "{} ids, {total} files",
        by_id.len()
    );
}

const HOSTILE: &str = " lead\nnext=line\n[section]\nkey=value;x\\y\\n\\\\ \t\r\n# not a comment\n[ipv4]\nmethod=auto ";

#[test]
fn hostile_text_in_the_template_is_data_for_nmcli() {
    // The template rendered with a hand-built context (the renderer itself only ever passes validated
    // names): `connection.id` is free text to NetworkManager, so nmcli must read the exact string back.
    let ctx = serde_json::json!({
        "id": HOSTILE,
        "uuid": "5d6c3f7e-9d0e-5d4b-8a53-0d7c3c6c4d21",
        "conn_type": "ethernet",
        "interface_name": "eno1",
        "autoconnect_priority": 100,
        "controller": null,
        "ethernet": true,
        "mtu": 1500,
        "vlan": null,
        "bond": null,
        "bridge": null,
        "ip": [
            {"section": "ipv4", "method": "manual", "addresses": ["192.0.2.5/24"],
             "routes": [{"value": "10.0.0.0/8,192.0.2.1", "table": null}], "addr_gen_mode": null},
            {"section": "ipv6", "method": "link-local", "addresses": [], "routes": [], "addr_gen_mode": "eui64"},
        ],
    });
    let text =
        plumber_render::render::render_template("keyfile.nmconnection.j2", "test", "# test", &ctx)
            .unwrap();
    let ours = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let groups: Vec<&str> = ours.iter().map(|(g, _)| g.as_str()).collect();
    assert_eq!(groups, ["connection", "ethernet", "ipv4", "ipv6"], "{text}");
    assert_eq!(get(&ours, "connection", "id"), Some(HOSTILE));
    assert_eq!(get(&ours, "ipv4", "method"), Some("manual"), "{text}");

    let printed = nmcli_load(&text).unwrap_or_else(|e| panic!("nmcli refuses it: {e}\n{text}"));
    let theirs = parse(&printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert_eq!(get(&theirs, "connection", "id"), Some(HOSTILE), "{printed}");
    assert_eq!(get(&theirs, "connection", "interface-name"), Some("eno1"));
    assert_eq!(get(&theirs, "ipv4", "method"), Some("manual"), "{printed}");
    assert_eq!(get(&theirs, "ipv4", "address1"), Some("192.0.2.5/24"));
    assert!(theirs.iter().all(|(g, _)| g != "section"), "{printed}");
}
