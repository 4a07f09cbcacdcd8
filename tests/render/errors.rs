//! The bad-input corpus: `tests/bad/<rule>.yaml`, one file per rejection rule, its first line
//! `# expect: <text>` naming the message. Each must make the CLI exit 1 with that text on stderr and write
//! no file. A mutation test then shows no input makes the library panic.

use assert_cmd::Command;

use crate::common::*;
use plumber_render::distro::Distro;

#[test]
fn every_bad_input_is_rejected_with_path_and_value_and_writes_nothing() {
    let dir = repo_root().join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "the corpus has only {} cases",
        files.len()
    );
    let mut failures = String::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no `# expect:` first line", f.display()));
        let out = scratch();
        let target = out.path().join("root");
        let r = Command::cargo_bin("plumber-render")
            .unwrap()
            .args(["--distro", "ubuntu", "--out"])
            .arg(&target)
            .arg(&f)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&r.stderr);
        let name = f.file_name().unwrap().to_string_lossy();
        if r.status.code() != Some(1) {
            failures.push_str(&format!(
                "{name}: exit {:?}, want 1\n{stderr}\n",
                r.status.code()
            ));
        }
        if !stderr.contains(expect) {
            failures.push_str(&format!("{name}: stderr lacks {expect:?}:\n{stderr}\n"));
        }
        if target.exists() {
            failures.push_str(&format!("{name}: files were written\n"));
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// Every error names its file, document and template.
#[test]
fn errors_name_the_file_document_and_template() {
    let f = repo_root().join("tests/bad/vlan-id-range.yaml");
    let r = Command::cargo_bin("plumber-render")
        .unwrap()
        .args(["--distro", "rhel9"])
        .arg(&f)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(
        stderr.contains(&format!(
            "{}#1 (bad): spec.interfaceConfig[0].vlan[2].id: 5000 is not in 1..=4094",
            f.display()
        )),
        "{stderr}"
    );
}

/// The gateways the kernel reaches directly are accepted (the off-link one is in the bad corpus): inside
/// an address's subnet, inside an on-link route's, an IPv6 link-local one, and any gateway on a DHCP link
/// (its subnet is the lease's).
#[test]
fn gateways_the_kernel_reaches_are_accepted() {
    let template = "apiVersion: plumber.k8s.pf9.io/v1
kind: HostNetworkTemplate
metadata: {name: gw}
spec:
  interfaceConfig:
    - name: eno2
      ipv4:
        address: [10.9.1.2/24]
        routes:
          - {to: default, via: 10.9.1.1}
          - {to: 10.61.0.0/16, via: 172.16.0.1}
          - {to: 172.16.0.0/12}
      ipv6:
        address: [fd00:1::2/64]
        routes:
          - {to: default, via: fe80::1}
          - {to: fd00:9::/64, via: fd00:1::1}
    - name: eno3
      ipv4:
        dhcp: true
        routes:
          - {to: 10.70.0.0/16, via: 192.168.200.1}
";
    let r = Command::cargo_bin("plumber-render")
        .unwrap()
        .args(["--distro", "ubuntu", "-"])
        .write_stdin(template)
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
}

/// Small deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// Mutate every golden input thousands of times (drop, duplicate and swap lines, replace values with
/// hostile ones) and run the whole pipeline for every distro: errors are fine, panics are bugs.
#[test]
fn no_input_makes_the_pipeline_panic() {
    let hostile = [
        "0",
        "-1",
        "99999999999999999999",
        "1e400",
        "\"\"",
        "null",
        "~",
        "[]",
        "{}",
        "\"$(reboot)\"",
        "\"a\\nb\"",
        "\"../../etc/passwd\"",
        "0000:03:00.0",
        "eno1,eno1",
        "\",\"",
        "4095",
        "4094",
        "65535",
        "68",
        "\"0-1023\"",
        "\"5-2\"",
        "true",
        "\"fe80::1/64\"",
        "\"0.0.0.0/0\"",
        "default",
        "!!binary aGk=",
        "&a [*a]",
        "\"\\u0000\"",
        "\"é\"",
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
    ];
    let distros = Distro::all();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut runs = 0;
    for case in cases() {
        let text = std::fs::read_to_string(case.dir.join("input.yaml")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for _ in 0..300 {
            let mut l: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
            for _ in 0..(1 + rng.next() % 3) {
                let i = (rng.next() % l.len() as u64) as usize;
                match rng.next() % 4 {
                    0 => {
                        l.remove(i);
                    }
                    1 => {
                        let d = l[i].clone();
                        l.insert(i, d);
                    }
                    2 => {
                        if let Some((k, _)) = l[i].split_once(": ") {
                            l[i] = format!("{k}: {}", rng.pick(&hostile));
                        }
                    }
                    _ => {
                        let j = (rng.next() % l.len() as u64) as usize;
                        l.swap(i, j);
                    }
                }
                if l.is_empty() {
                    break;
                }
            }
            let src = plumber_render::Source {
                name: "m".into(),
                text: l.join("\n"),
            };
            for d in &distros {
                let _ = plumber_render::render_sources(std::slice::from_ref(&src), d, None, None);
            }
            runs += 1;
        }
    }
    assert!(runs > 1000);
}
