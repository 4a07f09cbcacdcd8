//! deploy/components/sriov-device-plugin: the component lists its manifests, and the two scripts its
//! DaemonSet runs do what its comment promises, under dash (the device plugin's image is Alpine, whose
//! `sh` is busybox's POSIX shell): the launcher waits for a configuration, starts the plugin on a copy
//! of it, and the liveness probe fails once the host's file differs from that copy (changed or
//! removed), so that the kubelet restarts the plugin on the new file. The plugin is a stand-in script
//! that records the file it was given; the real plugin's reading of plumber's file is
//! tests/render/device_plugin.rs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

fn component() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/components/sriov-device-plugin")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Component {
    api_version: String,
    kind: String,
    resources: Vec<String>,
    #[serde(default)]
    images: Vec<serde_yaml::Value>,
}

#[test]
fn the_component_lists_its_manifests() {
    let text = std::fs::read_to_string(component().join("kustomization.yaml")).unwrap();
    let k: Component = serde_yaml::from_str(&text).unwrap();
    assert_eq!(
        (k.api_version.as_str(), k.kind.as_str()),
        ("kustomize.config.k8s.io/v1alpha1", "Component")
    );
    let mut files: Vec<String> = std::fs::read_dir(component())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    files.sort();
    let mut listed = k.resources.clone();
    listed.sort();
    assert_eq!(listed, files);
    assert_eq!(
        k.images.len(),
        1,
        "the device plugin's image is set in one place"
    );
}

/// The container's launcher and its liveness probe, as the DaemonSet has them.
fn scripts() -> (String, String) {
    let text = std::fs::read_to_string(component().join("daemonset.yaml")).unwrap();
    let ds: Value = serde_yaml::from_str(&text).unwrap();
    let c = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], serde_json::json!(["/bin/sh", "-c"]));
    let launcher = c["args"][0].as_str().unwrap().to_string();
    let probe = &c["livenessProbe"]["exec"]["command"];
    assert_eq!(probe[0], "/bin/sh");
    assert_eq!(probe[1], "-c");
    (launcher, probe[2].as_str().unwrap().to_string())
}

struct Pod {
    dir: tempfile::TempDir,
}

impl Pod {
    fn config(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }
    fn env(&self, c: &mut Command) {
        let d = self.dir.path();
        c.env("PCIDP_CONFIG", self.config())
            .env("PCIDP_STARTED", d.join("started.json"))
            .env("SRIOVDP", d.join("sriovdp"))
            .env("PCIDP_POLL", "0.1");
    }
    fn start(&self, launcher: &str) -> Child {
        let mut c = Command::new("dash");
        c.args(["-c", launcher]);
        self.env(&mut c);
        c.spawn().expect("dash (./ci-test.sh installs it)")
    }
    fn alive(&self, probe: &str) -> bool {
        let mut c = Command::new("dash");
        c.args(["-c", probe]);
        self.env(&mut c);
        c.status().unwrap().success()
    }
    /// What the stand-in plugin was started with, once it has been.
    fn started_with(&self, within: Duration) -> Option<String> {
        let log = self.dir.path().join("sriovdp.log");
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Ok(s) = std::fs::read_to_string(&log) {
                if s.ends_with('\n') {
                    return Some(s);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

#[test]
fn the_plugin_starts_on_a_copy_and_the_probe_fails_when_the_hosts_file_changes() {
    let (launcher, probe) = scripts();
    let pod = Pod {
        dir: tempfile::tempdir().unwrap(),
    };
    let d = pod.dir.path();
    // The stand-in plugin: records its arguments and the file's content, then runs until killed.
    std::fs::write(
        d.join("sriovdp"),
        format!(
            "#!/bin/sh\necho \"$*\" > {log}.tmp\ncat \"$2\" >> {log}.tmp\nmv {log}.tmp {log}\nexec sleep 600\n",
            log = d.join("sriovdp.log").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(d.join("sriovdp"), std::fs::Permissions::from_mode(0o755)).unwrap();

    // A node without pools: the plugin does not start, and the container is healthy.
    std::fs::write(pod.config(), "{\"resourceList\": [1]}\n").unwrap();
    std::fs::remove_file(pod.config()).unwrap();
    let mut child = pod.start(&launcher);
    assert!(pod.alive(&probe), "waiting for a configuration is healthy");
    assert_eq!(pod.started_with(Duration::from_millis(300)), None);

    // The file appears: the plugin starts (within the launcher's poll, 10 s in a pod) on a copy of it.
    std::fs::write(pod.config(), "{\"resourceList\": [1]}\n").unwrap();
    let started = pod
        .started_with(Duration::from_secs(15))
        .expect("the plugin started once the configuration appeared");
    let copy = d.join("started.json");
    assert_eq!(
        started,
        format!(
            "--config-file {} --logtostderr -v 4\n{{\"resourceList\": [1]}}\n",
            copy.display()
        )
    );
    assert!(pod.alive(&probe), "the same file: healthy");

    // plumber rewrites it with other pools: the probe fails, so the kubelet restarts the container.
    std::fs::write(pod.config(), "{\"resourceList\": [2]}\n").unwrap();
    assert!(
        !pod.alive(&probe),
        "a changed configuration must restart the plugin"
    );
    // Put back as it was: healthy again; removed (no pools any more): restart.
    std::fs::write(pod.config(), "{\"resourceList\": [1]}\n").unwrap();
    assert!(pod.alive(&probe));
    std::fs::remove_file(pod.config()).unwrap();
    assert!(
        !pod.alive(&probe),
        "a removed configuration must restart the plugin"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
