//! Payload preparation and the VM run.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn top() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds the VM once per test process (`vm/build.sh` is idempotent and quick when cached). Panics,
/// so the case fails, when it cannot be built.
pub fn ensure_vm() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let r = BUILT.get_or_init(|| {
        let t = Instant::now();
        let out = Command::new(top().join("vm/build.sh"))
            .output()
            .map_err(|e| format!("vm/build.sh: {e}"))?;
        eprintln!(
            "vm/build.sh: {:.1} s\n{}",
            t.elapsed().as_secs_f64(),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(format!(
                "vm/build.sh failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    });
    if let Err(e) = r {
        panic!("the test VM cannot be built: {e}");
    }
}

/// A payload directory, shared with the guest as /mnt.
pub struct Payload {
    pub dir: PathBuf,
}

/// What the guest left.
pub struct Outcome {
    pub rc: i32,
    pub dir: PathBuf,
    pub results: BTreeMap<String, String>,
    pub elapsed: Duration,
}

impl Payload {
    /// An empty payload for `case` with the guest library, the plumber binaries and their libraries.
    pub fn new(case: &str) -> Payload {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm").join(case);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("bin")).unwrap();
        let p = Payload { dir };
        p.copy_tree(&top().join("tests/vm/guest"), "guest");
        let plumber = PathBuf::from(env!("CARGO_BIN_EXE_plumber"));
        let render = plumber_render();
        for bin in [&plumber, &render] {
            let name = bin.file_name().unwrap();
            fs::copy(bin, p.dir.join("bin").join(name)).unwrap();
            p.sysroot_libs(bin);
        }
        // iproute2, for the guest's own checks (busybox's ip has no -d, -j or VF output).
        p.host_tool("/usr/bin/ip", "usr/local/bin/ip");
        p
    }

    /// Open vSwitch from the host's openvswitch-switch (ovsdb-server, ovs-vswitchd on the kernel
    /// datapath, the ctl tools, the schema); the guest starts them with `ovs_start`.
    pub fn with_ovs(&self) {
        for (src, dest) in [
            ("/usr/sbin/ovsdb-server", "usr/sbin/ovsdb-server"),
            ("/usr/sbin/ovs-vswitchd", "usr/sbin/ovs-vswitchd"),
            ("/usr/bin/ovs-vsctl", "usr/bin/ovs-vsctl"),
            ("/usr/bin/ovsdb-tool", "usr/bin/ovsdb-tool"),
            ("/usr/bin/ovs-appctl", "usr/bin/ovs-appctl"),
            ("/usr/bin/ovs-dpctl", "usr/bin/ovs-dpctl"),
        ] {
            self.host_tool(src, dest);
        }
        let schema = "/usr/share/openvswitch/vswitch.ovsschema";
        let d = self
            .dir
            .join("sysroot")
            .join(schema.trim_start_matches('/'));
        fs::create_dir_all(d.parent().unwrap()).unwrap();
        fs::copy(schema, d).unwrap_or_else(|e| panic!("{schema}: {e}"));
    }

    /// Copies `src` (a directory) to `rel` in the payload.
    pub fn copy_tree(&self, src: &Path, rel: &str) {
        let st = Command::new("cp")
            .arg("-a")
            .arg(src)
            .arg(self.dir.join(rel))
            .status()
            .unwrap();
        assert!(st.success(), "cp -a {}", src.display());
    }

    /// A host program at `dest` (relative to the guest's /) with its shared libraries.
    pub fn host_tool(&self, path: &str, dest: &str) {
        let src = fs::canonicalize(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let d = self.dir.join("sysroot").join(dest);
        fs::create_dir_all(d.parent().unwrap()).unwrap();
        fs::copy(&src, &d).unwrap_or_else(|e| panic!("{path}: {e}"));
        self.sysroot_libs(&src);
    }

    /// The shared libraries `bin` loads (as `ldd` lists them), at the same paths under sysroot/: the
    /// guest's /init copies sysroot/ into /. The binaries are the host's glibc builds, so the host's
    /// glibc goes with them.
    pub fn sysroot_libs(&self, bin: &Path) {
        let out = Command::new("ldd").arg(bin).output().expect("ldd");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            let Some(path) = path.filter(|p| p.starts_with('/')) else {
                continue;
            };
            let dest = self.dir.join("sysroot").join(path.trim_start_matches('/'));
            if dest.exists() {
                continue;
            }
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(path, &dest).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    /// An empty payload for `case` (the systemd guest brings its own programs).
    pub fn empty(case: &str) -> Payload {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm").join(case);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Payload { dir }
    }

    /// The systemd guest's root disk for this payload: a copy of the image `vm/build.sh` built, with
    /// the tree `files` (a `plumber-render --out` directory) installed into it by `vm/image-install.sh`.
    pub fn root_disk(&self, files: &Path) -> PathBuf {
        ensure_vm();
        let base = vm_dir().join("rootfs.ext4");
        let img = self.dir.join("root.ext4");
        let t = Instant::now();
        let out = Command::new(top().join("vm/image-install.sh"))
            .arg(&base)
            .arg(&img)
            .arg(files)
            .output()
            .expect("vm/image-install.sh");
        assert!(
            out.status.success(),
            "vm/image-install.sh failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("root disk: {:.1} s", t.elapsed().as_secs_f64());
        img
    }

    /// Boots the busybox VM on this payload (one VM at a time: the machine has two cores).
    pub fn run(&self, timeout_secs: u64) -> Outcome {
        self.boot(None, timeout_secs)
    }

    /// Boots the systemd VM from `disk` (see `root_disk`) on this payload.
    pub fn run_systemd(&self, disk: &Path, timeout_secs: u64) -> Outcome {
        self.boot(Some(disk), timeout_secs)
    }

    fn boot(&self, disk: Option<&Path>, timeout_secs: u64) -> Outcome {
        static ONE_VM: Mutex<()> = Mutex::new(());
        ensure_vm();
        let _g = ONE_VM.lock().unwrap_or_else(|e| e.into_inner());
        let t = Instant::now();
        let mut cmd = Command::new(top().join("vm/run.sh"));
        cmd.arg(&self.dir).arg(timeout_secs.to_string());
        match disk {
            Some(d) => cmd.env("PLUMBER_VM_DISK", d),
            None => cmd.env_remove("PLUMBER_VM_DISK"),
        };
        let st = cmd.status().expect("vm/run.sh");
        let elapsed = t.elapsed();
        let out = self.dir.join("out");
        let log = fs::read_to_string(out.join("guest.log")).unwrap_or_default();
        eprintln!(
            "---- guest log ({}) ----\n{log}---- VM {:.1} s, exit {:?} ----",
            self.dir.display(),
            elapsed.as_secs_f64(),
            st.code()
        );
        let results = fs::read_to_string(out.join("result.txt"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Outcome {
            rc: st.code().unwrap_or(-1),
            dir: out,
            results,
            elapsed,
        }
    }
}

impl Outcome {
    /// A result the guest recorded; panics (with the guest's result list) when it is missing.
    pub fn get(&self, key: &str) -> &str {
        self.results.get(key).unwrap_or_else(|| {
            panic!(
                "the guest recorded no {key} (exit {}); results: {:?}",
                self.rc, self.results
            )
        })
    }

    /// The exit code of guest step `name`.
    pub fn rc(&self, name: &str) -> i32 {
        self.get(&format!("{name}.rc")).parse().unwrap()
    }

    pub fn text(&self, file: &str) -> String {
        fs::read_to_string(self.dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    pub fn json(&self, file: &str) -> serde_json::Value {
        let t = self.text(file);
        serde_json::from_str(&t).unwrap_or_else(|e| panic!("{file}: {e}: {t}"))
    }

    /// Asserts guest step `name` exited `want`, showing its output when not.
    pub fn assert_rc(&self, name: &str, want: i32) {
        let rc = self.rc(name);
        assert_eq!(
            rc,
            want,
            "{name} exited {rc}, not {want}\nstdout:\n{}\nstderr:\n{}",
            self.text(&format!("{name}.out")),
            self.text(&format!("{name}.err"))
        );
    }
}

/// Where `vm/build.sh` leaves the VM (as `vm/run.sh` finds it).
pub fn vm_dir() -> PathBuf {
    std::env::var_os("PLUMBER_VM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| top().join(".cache/vm/current"))
}

/// The plumber-render binary beside plumber's (built by `cargo test --workspace`; built here when not).
pub fn plumber_render() -> PathBuf {
    let plumber = PathBuf::from(env!("CARGO_BIN_EXE_plumber"));
    let render = plumber.with_file_name("plumber-render");
    if !render.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "-p", "plumber-render", "--bin", "plumber-render"])
            .current_dir(top())
            .status()
            .expect("cargo build -p plumber-render");
        assert!(st.success(), "cargo build -p plumber-render failed");
    }
    assert!(render.exists(), "{} missing", render.display());
    render
}

/// Link `name` of a `plumber show -o json` HostNetwork.
pub fn show_link<'a>(show: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    show["status"]["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap_or_else(|| panic!("plumber show has no link {name}: {show}"))
}

/// Link `name` as the kernel reports it (`ip -j [-d] link`).
pub fn ip_link<'a>(links: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    links
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["ifname"] == name)
        .unwrap_or_else(|| panic!("ip link has no {name}"))
}
