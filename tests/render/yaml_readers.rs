//! Every YAML plumber-render writes reads the same in a YAML 1.1 reader (PyYAML, so Ansible and many
//! scripts) as in the JSON output of the same data: `--node-config` against `--node-config -o json`, and
//! the netplan files against a YAML 1.2 reader's reading. No string comes back a number, a boolean, a
//! date or null.

use assert_cmd::Command;

use crate::common::*;

mod py {
    include!("../support/pyyaml.rs");
}

/// Names, addresses and MACs a YAML 1.1 reader mistypes when they are written plain: `on` (true),
/// `0o12`/`1e3`/`1_000` (numbers), `2024-01-01` (a date), `0000:03:00.0` (180.0, sexagesimal),
/// `12:34:50:00:00:01` (an integer, sexagesimal).
const TEMPLATE: &str = "\
apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: readers}
spec:
  interfaceConfig:
    - {name: \"on\", mtu: 9000}
    - {name: \"0o12\"}
    - {name: \"1e3\"}
    - {name: \"1_000\"}
    - name: \"2024-01-01\"
      ipv4: {address: [192.0.2.10/24]}
  sriovConfig:
    - pciAddr: \"0000:03:00.0\"
      numVfs: 4
    - pfName: ens2f0
      numVfs: 2
      vfs:
        - {id: 0, mac: \"12:34:50:00:00:01\"}
";

fn node_config(dir: &std::path::Path, format: &[&str]) -> String {
    let t = dir.join("t.yaml");
    std::fs::write(&t, TEMPLATE).unwrap();
    let out = Command::cargo_bin("plumber-render")
        .unwrap()
        .args(["--distro", "ubuntu", "--node-config"])
        .args(format)
        .arg(&t)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn node_config_yaml_reads_in_pyyaml_as_its_json_output() {
    let dir = scratch();
    let yaml = node_config(dir.path(), &[]);
    let json: serde_json::Value =
        serde_json::from_str(&node_config(dir.path(), &["-o", "json"])).unwrap();
    // The hazards are in there, as strings.
    let text = json.to_string();
    for s in [
        "\"on\"",
        "\"0000:03:00.0\"",
        "\"12:34:50:00:00:01\"",
        "\"2024-01-01\"",
    ] {
        assert!(text.contains(s), "{s} not in {text}");
    }
    py::assert_pyyaml_reads(&yaml, &json);
    // `-o yaml` is the default, said or not.
    assert_eq!(node_config(dir.path(), &["--output", "yaml"]), yaml);
}

/// The emitter's decision and escaping, against the YAML 1.1 reader itself: every string a reader could
/// mistype, and every character that needs an escape, comes back the same string.
#[test]
fn every_hazardous_string_reads_back_in_pyyaml() {
    let strings = [
        "on",
        "off",
        "On",
        "OFF",
        "yes",
        "No",
        "y",
        "n",
        "Y",
        "N",
        "true",
        "False",
        "~",
        "null",
        "NULL",
        "",
        "1_000",
        "0o12",
        "012",
        "0x1f",
        "1:20",
        "190:20:30",
        ".5",
        "1e3",
        "0b101",
        ".inf",
        "-.inf",
        ".nan",
        "2024-01-01",
        "2001-12-14t21:59:43.10-05:00",
        "=",
        "<<",
        "0000:03:00.0",
        "12:34:50:00:00:01",
        "02:00:00:00:00:10",
        "192.0.2.1",
        "10.0.0.0/8",
        "2001:db8::1/64",
        "::",
        "a: b",
        "a #b",
        "#x",
        "- x",
        "? x",
        "!x",
        "&x",
        "*x",
        "|",
        ">",
        "%x",
        "@x",
        "`x`",
        "[a]",
        "{a}",
        "'a'",
        "\"a\"",
        "a\\b",
        " lead",
        "trail ",
        "a\nb",
        "a\tb\r",
        "\0\u{1}\u{1b}\u{7f}",
        "\u{85}\u{a0}\u{2028}\u{2029}\u{feff}",
        "é ✓ 😀",
        "\u{fffe}",
        "eno2",
        "eno2.1000",
        "layer3+4",
    ];
    let strings = &strings[..];
    let yaml = plumber_render::yaml::to_string(strings).unwrap();
    py::assert_pyyaml_reads(&yaml, &serde_json::to_value(strings).unwrap());
}

#[test]
fn output_format_is_only_for_node_config() {
    let out = Command::cargo_bin("plumber-render")
        .unwrap()
        .args(["--distro", "ubuntu", "-o", "json"])
        .arg(examples_dir().join("vlans.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--node-config"), "{err}");
}

#[test]
fn netplan_files_read_in_pyyaml_as_in_a_yaml_1_2_reader() {
    let mut checked = 0;
    let mut check = |text: &str| {
        let json: serde_json::Value = serde_yaml::from_str(text).unwrap();
        py::assert_pyyaml_reads(text, &json);
        checked += 1;
    };
    // The one with the hazards, and every golden case's.
    let t = plumber_render::load(&[plumber_render::Source {
        name: "t".into(),
        text: TEMPLATE.into(),
    }])
    .unwrap();
    let node = plumber_render::node_config(&t, None, None).unwrap();
    let ubuntu = plumber_render::distro::Distro::by_name("ubuntu").unwrap();
    let arts = plumber_render::render::render(&node, &ubuntu).unwrap();
    let np = arts
        .iter()
        .find(|a| a.path.starts_with("/etc/netplan/"))
        .expect("a netplan file");
    let text = np.content.clone();
    assert!(text.contains("\"on\":"), "{text}");
    check(&text);
    for case in cases() {
        let arts = render_case(&case, &ubuntu);
        if let Some(np) = arts.iter().find(|a| a.path.starts_with("/etc/netplan/")) {
            check(&np.content);
        }
    }
    assert!(checked > 3, "only {checked} netplan files checked");
}
