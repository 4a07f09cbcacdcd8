// PyYAML (Debian's python3-yaml under Debian's /usr/bin/python3), the YAML 1.1 reader of Ansible and of
// many scripts, shared by the render and apply integration tests: both `include!` this file, so there is
// one copy. A missing python3 or PyYAML fails the test (ci-test.sh installs python3-yaml).

/// `yaml` as PyYAML's `safe_load` reads it, as JSON.
pub fn pyyaml(yaml: &str) -> serde_json::Value {
    use std::io::Write;
    let python = std::path::Path::new("/usr/bin/python3");
    assert!(
        python.exists(),
        "/usr/bin/python3 is not installed; run ./ci-test.sh, which installs python3-yaml"
    );
    let mut child = std::process::Command::new(python)
        .args([
            "-c",
            "import yaml,json,sys; print(json.dumps(yaml.safe_load(sys.stdin)))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("No module named 'yaml'"),
        "PyYAML is not installed; run ./ci-test.sh, which installs python3-yaml"
    );
    assert!(out.status.success(), "PyYAML could not read:\n{yaml}\n{err}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Asserts that PyYAML reads `yaml` as `json` (the JSON output of the same data): every string comes
/// back a string, equal, every number a number.
pub fn assert_pyyaml_reads(yaml: &str, json: &serde_json::Value) {
    let read = pyyaml(yaml);
    if &read != json {
        let a = serde_json::to_string_pretty(&read).unwrap();
        let b = serde_json::to_string_pretty(json).unwrap();
        let diff = similar::TextDiff::from_lines(&b, &a)
            .unified_diff()
            .header("json", "pyyaml")
            .to_string();
        panic!("PyYAML reads the YAML differently from the JSON:\n{diff}\nYAML:\n{yaml}");
    }
}
