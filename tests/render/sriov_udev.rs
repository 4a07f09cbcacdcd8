//! Real consumer for SR-IOV: the rendered helper runs (under dash and bash) against a fixture sysfs tree
//! that plays the kernel, with the arguments the rendered udev rule gives it, parsed out of the rules
//! file, so the test shows the rule and the helper agree.
//!
//! Plain files cannot create VFs, so the fixture has the `virtfnK` links and VF directories up front.
//! `drivers_probe` and a driver's `unbind` are FIFOs read by a thread, which records every write; `ip` and
//! `modprobe` are scripts that log their arguments.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;
use plumber_render::distro::Distro;
use plumber_render::render::Artifact;

mod nic_driver;
mod vf_mtu;

const RULES: &str = "/81-plumber-sriov.rules";

// ---------------------------------------------------------------------------------------------------
// The rules file

/// One `KEY[{attr}]OP"value"` of a rule.
#[derive(Debug, Clone, PartialEq)]
struct Pair {
    key: String,
    attr: Option<String>,
    op: String,
    value: String,
}

const MATCH_KEYS: &[&str] = &[
    "ACTION",
    "SUBSYSTEM",
    "NAME",
    "KERNEL",
    "KERNELS",
    "SUBSYSTEMS",
    "ATTRS",
    "TEST",
];

/// A rule line: pairs separated by ", ", values in double quotes without a quote or backslash inside.
fn parse_rule(line: &str) -> Result<Vec<Pair>, String> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let key_end = rest
            .find(|c: char| !(c.is_ascii_uppercase() || c == '_'))
            .ok_or("a key without an operator")?;
        let key = &rest[..key_end];
        if key.is_empty() {
            return Err(format!("no key at {rest:?}"));
        }
        rest = &rest[key_end..];
        let mut attr = None;
        if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').ok_or("an unclosed {")?;
            let a = &r[..end];
            if a.is_empty()
                || !a
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_/.-".contains(c))
            {
                return Err(format!("bad attribute {a:?}"));
            }
            attr = Some(a.to_string());
            rest = &r[end + 1..];
        }
        let op = ["==", "!=", "+=", "-=", ":=", "="]
            .into_iter()
            .find(|o| rest.starts_with(o))
            .ok_or_else(|| format!("no operator at {rest:?}"))?;
        rest = &rest[op.len()..];
        let r = rest
            .strip_prefix('"')
            .ok_or_else(|| format!("value of {key} is not quoted"))?;
        let end = r
            .find('"')
            .ok_or_else(|| format!("value of {key} is not terminated"))?;
        let value = &r[..end];
        if value.contains('\\') {
            return Err(format!("value of {key} holds a backslash"));
        }
        let is_match = MATCH_KEYS.contains(&key);
        match (key, op) {
            ("RUN", "+=") | ("GOTO", "=") => {}
            (_, "==" | "!=") if is_match => {}
            (k, o) => return Err(format!("{k}{o} is not a use plumber makes of udev")),
        }
        if (key == "ATTRS") != attr.is_some() && key != "TEST" {
            return Err(format!("{key} and its {{attribute}} do not go together"));
        }
        out.push(Pair {
            key: key.to_string(),
            attr,
            op: op.to_string(),
            value: value.to_string(),
        });
        rest = &r[end + 1..];
        if rest.is_empty() {
            return Ok(out);
        }
        rest = rest
            .strip_prefix(", ")
            .ok_or_else(|| format!("expected \", \" at {rest:?}"))?;
    }
}

fn rules_of(arts: &[Artifact]) -> Option<&Artifact> {
    arts.iter().find(|a| a.path.ends_with(RULES))
}

fn helper_of(arts: &[Artifact]) -> &Artifact {
    arts.iter()
        .find(|a| a.path.ends_with("/plumber-sriov"))
        .expect("a rules file without its helper")
}

const END: &str = "plumber_sriov_end";

/// The rules of a rules file, checking every line is a comment, blank or a well-formed rule that runs
/// `helper` with `$id $name` first and then skips to the end label, which comes last.
fn rules(text: &str, helper: &str) -> Vec<Vec<Pair>> {
    let mut out = Vec::new();
    let mut label = false;
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        assert!(
            !label,
            "line {}: a rule after the end label:\n{line}",
            n + 1
        );
        if line == format!("LABEL=\"{END}\"") {
            label = true;
            continue;
        }
        let rule = parse_rule(line).unwrap_or_else(|e| panic!("line {}: {e}:\n{line}", n + 1));
        let get = |k: &str| rule.iter().find(|p| p.key == k).map(|p| p.value.as_str());
        assert_eq!(get("ACTION"), Some("add"), "{line}");
        assert_eq!(get("SUBSYSTEM"), Some("net"), "{line}");
        assert_eq!(get("SUBSYSTEMS"), Some("pci"), "{line}");
        let [.., run, goto] = &rule[..] else {
            panic!("{line}")
        };
        assert_eq!((run.key.as_str(), run.op.as_str()), ("RUN", "+="), "{line}");
        assert_eq!(
            (goto.key.as_str(), goto.value.as_str()),
            ("GOTO", END),
            "{line}"
        );
        assert_eq!(rule.iter().filter(|p| p.key == "RUN").count(), 1, "{line}");
        let words: Vec<&str> = run.value.split(' ').collect();
        assert_eq!(&words[..3], [helper, "$id", "$name"], "{line}");
        assert!(
            words[3..]
                .iter()
                .all(|w| !w.is_empty() && !w.contains(['$', '%'])),
            "{line}"
        );
        let by_ids = rule.iter().any(|p| p.key == "ATTRS");
        if by_ids {
            assert!(
                rule.iter()
                    .any(|p| p.key == "TEST" && p.value == "device/sriov_totalvfs"),
                "VFs not excluded: {line}"
            );
        }
        out.push(rule);
    }
    assert!(label, "no LABEL=\"{END}\" at the end:\n{text}");
    out
}

fn run_of(rule: &[Pair]) -> &str {
    &rule.iter().find(|p| p.key == "RUN").unwrap().value
}

/// The helper's arguments in a rule, with udev's `$id` and `$name` substituted.
fn run_args(rule: &[Pair], pci: &str, ifname: &str) -> Vec<String> {
    run_of(rule)
        .split(' ')
        .skip(1)
        .map(|w| match w {
            "$id" => pci.to_string(),
            "$name" => ifname.to_string(),
            w => w.to_string(),
        })
        .collect()
}

#[test]
fn every_rules_file_is_comments_blanks_and_well_formed_rules() {
    let mut checked = 0;
    for case in cases() {
        for distro in Distro::all() {
            let arts = render_case(&case, &distro);
            let Some(r) = rules_of(&arts) else { continue };
            assert_eq!(r.mode, 0o644);
            assert_eq!(r.path, format!("{}{RULES}", distro.paths.udev_rules));
            let h = helper_of(&arts);
            assert_eq!(h.path, format!("{}/plumber-sriov", distro.paths.helpers));
            assert_eq!(h.mode, 0o755);
            assert!(
                !rules(&r.content, &h.path).is_empty(),
                "case {}: no rule",
                case.name
            );
            checked += 1;
        }
    }
    assert!(checked >= 6 * 5, "only {checked} rules files");
}

#[test]
fn the_rule_parser_used_above_does_fail() {
    for bad in [
        "ACTION==\"add\" SUBSYSTEM==\"net\"",
        "ACTION==\"add\", RUN+=\"/x \"y\"\"",
        "ACTION==add",
        "ATTRS==\"0x8086\"",
        "NAME=\"x\"",
        "ACTION==\"add\",",
        "ACTION==\"a\\\"b\"",
    ] {
        assert!(parse_rule(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse_rule("ATTRS{vendor}==\"0x8086\"").unwrap()[0]
            .attr
            .as_deref(),
        Some("vendor")
    );
}

// ---------------------------------------------------------------------------------------------------
// The fixture kernel

/// Reads everything written to a FIFO, in a thread, until `finish`.
struct Recorder {
    path: PathBuf,
    rx: Option<mpsc::Receiver<Vec<String>>>,
}

const STOP: &str = "plumber-test-stop";
const O_NONBLOCK: i32 = 0o4000; // Linux

impl Recorder {
    fn start(path: &Path) -> Recorder {
        let (tx, rx) = mpsc::channel();
        let p = path.to_path_buf();
        thread::spawn(move || {
            let mut lines = Vec::new();
            'outer: loop {
                let mut s = String::new();
                // Blocks until a writer opens the FIFO; returns at its last close.
                match fs::File::open(&p) {
                    Ok(mut f) => {
                        let _ = f.read_to_string(&mut s);
                    }
                    Err(_) => break,
                }
                for l in s.lines() {
                    if l == STOP {
                        break 'outer;
                    }
                    if !l.is_empty() {
                        lines.push(l.to_string());
                    }
                }
            }
            let _ = tx.send(lines);
        });
        Recorder {
            path: path.to_path_buf(),
            rx: Some(rx),
        }
    }

    /// The lines written since `start`; stops the thread.
    fn finish(&mut self) -> Vec<String> {
        self.stop().expect("the FIFO reader did not stop")
    }

    fn stop(&mut self) -> Option<Vec<String>> {
        let rx = self.rx.take()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        // A non-blocking open for writing fails while the reader is between two opens: retry.
        while Instant::now() < deadline {
            if let Ok(mut f) = fs::OpenOptions::new()
                .write(true)
                .custom_flags(O_NONBLOCK)
                .open(&self.path)
            {
                let _ = f.write_all(format!("\n{STOP}\n").as_bytes());
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        rx.recv_timeout(Duration::from_secs(10)).ok()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A fake `/sys` with one SR-IOV PF and `vfs` VF functions.
struct Kernel {
    root: PathBuf,
    pf: PathBuf,
    pci: String,
    ifname: String,
    vfs: Vec<String>,
    probe: Recorder,
    unbind: Recorder,
    /// Fake tools: `ip`, `modprobe`; each logs its arguments to `<tool>.log`.
    tools: PathBuf,
    /// Last: the recorders stop before their FIFOs go.
    _dir: tempfile::TempDir,
}

fn write(p: &Path, s: &str) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, s).unwrap();
}

fn mkfifo(p: &Path) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    let st = Command::new(require_tool("mkfifo"))
        .arg(p)
        .status()
        .unwrap();
    assert!(st.success());
}

fn vf_addr(k: u32) -> String {
    format!("0000:3f:{:02x}.{}", k / 8, k % 8)
}

impl Kernel {
    /// `bound_elsewhere`: VFs bound to `ixgbevf`. `drivers`: driver directories that exist (loaded).
    fn new(
        pci: &str,
        ifname: &str,
        total: u32,
        numvfs: u32,
        vfs: u32,
        bound_elsewhere: &[u32],
        drivers: &[&str],
    ) -> Kernel {
        let dir = scratch();
        let root = dir.path().join("sys");
        let devs = root.join("devices/pci0000:00");
        let pf = devs.join(pci);
        write(&pf.join("sriov_totalvfs"), &format!("{total}\n"));
        write(&pf.join("sriov_numvfs"), &format!("{numvfs}\n"));
        write(&pf.join("sriov_drivers_autoprobe"), "1\n");
        fs::create_dir_all(root.join("bus/pci/devices")).unwrap();
        symlink(
            format!("../../../devices/pci0000:00/{pci}"),
            root.join("bus/pci/devices").join(pci),
        )
        .unwrap();
        let mut addrs = Vec::new();
        for k in 0..vfs {
            let a = vf_addr(k);
            write(&devs.join(&a).join("driver_override"), "(null)\n");
            symlink(format!("../{a}"), pf.join(format!("virtfn{k}"))).unwrap();
            if bound_elsewhere.contains(&k) {
                symlink(
                    "../../../bus/pci/drivers/ixgbevf",
                    devs.join(&a).join("driver"),
                )
                .unwrap();
            }
            addrs.push(a);
        }
        mkfifo(&root.join("bus/pci/drivers_probe"));
        mkfifo(&root.join("bus/pci/drivers/ixgbevf/unbind"));
        for d in drivers {
            fs::create_dir_all(root.join("bus/pci/drivers").join(d)).unwrap();
        }
        write(&root.join("class/net").join(ifname).join("mtu"), "1500\n");
        let tools = dir.path().join("tools");
        for t in ["ip", "modprobe"] {
            let p = tools.join(t);
            write(&p, "#!/bin/sh\nprintf '%s\\n' \"$*\" >>\"$0.log\"\n");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let probe = Recorder::start(&root.join("bus/pci/drivers_probe"));
        let unbind = Recorder::start(&root.join("bus/pci/drivers/ixgbevf/unbind"));
        Kernel {
            root,
            pf,
            pci: pci.into(),
            ifname: ifname.into(),
            vfs: addrs,
            probe,
            unbind,
            tools,
            _dir: dir,
        }
    }

    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.pf.join(rel))
            .unwrap()
            .trim_end()
            .to_string()
    }

    fn mtu(&self) -> String {
        fs::read_to_string(self.root.join("class/net").join(&self.ifname).join("mtu"))
            .unwrap()
            .trim_end()
            .to_string()
    }

    fn override_of(&self, k: usize) -> String {
        fs::read_to_string(
            self.root
                .join("devices/pci0000:00")
                .join(&self.vfs[k])
                .join("driver_override"),
        )
        .unwrap()
        .trim_end()
        .to_string()
    }

    /// Lines a fake tool was called with, clearing its log.
    fn calls(&self, tool: &str) -> Vec<String> {
        let p = self.tools.join(format!("{tool}.log"));
        let s = fs::read_to_string(&p).unwrap_or_default();
        let _ = fs::remove_file(&p);
        s.lines().map(str::to_string).collect()
    }

    /// What was written to drivers_probe and unbind since the last call; starts recording again.
    fn probes(&mut self) -> (Vec<String>, Vec<String>) {
        let p = self.probe.finish();
        let u = self.unbind.finish();
        self.probe = Recorder::start(&self.root.join("bus/pci/drivers_probe"));
        self.unbind = Recorder::start(&self.root.join("bus/pci/drivers/ixgbevf/unbind"));
        (p, u)
    }

    /// Every regular file's content and every link's target (FIFOs left out).
    fn snapshot(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.root.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let t = fs::symlink_metadata(&p).unwrap().file_type();
                if t.is_symlink() {
                    out.insert(
                        p.clone(),
                        format!("-> {}", fs::read_link(&p).unwrap().display()),
                    );
                } else if t.is_dir() {
                    stack.push(p);
                } else if !t.is_fifo() {
                    out.insert(p.clone(), fs::read_to_string(&p).unwrap());
                }
            }
        }
        out
    }

    fn run(&self, shell: &Shell, helper: &Path, args: &[String]) -> Run {
        let mut cmd = Command::new(&shell.path);
        cmd.args(&shell.args)
            .arg(helper)
            .args(args)
            .current_dir(self.root.parent().unwrap())
            .env("PLUMBER_SYSFS", &self.root)
            .env("PLUMBER_IP", self.tools.join("ip"))
            .env("PLUMBER_MODPROBE", self.tools.join("modprobe"))
            .env("PLUMBER_LOGGER", "");
        let out = run_with_timeout(cmd, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        Run {
            ok: out.status.success(),
            stderr,
        }
    }
}

struct Run {
    ok: bool,
    stderr: String,
}

impl Run {
    /// Values written to sysfs files whose path ends with `file`, in order, from the helper's log.
    fn writes_to(&self, file: &str) -> Vec<String> {
        self.stderr
            .lines()
            .filter_map(|l| l.split_once(": write ").map(|(_, w)| w))
            .filter_map(|w| w.split_once(" to "))
            .filter(|(_, p)| p.ends_with(&format!("/{file}")))
            .map(|(v, _)| v.to_string())
            .collect()
    }
}

fn run_with_timeout(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the helper did not finish in {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

struct Shell {
    path: PathBuf,
    args: Vec<&'static str>,
}

/// dash (Debian/Ubuntu's /bin/sh) and bash in POSIX mode (RHEL's /bin/sh).
fn shells() -> Vec<Shell> {
    vec![
        Shell {
            path: require_tool("dash"),
            args: vec![],
        },
        Shell {
            path: require_tool("bash"),
            args: vec!["--posix"],
        },
    ]
}

fn install(dir: &Path, a: &Artifact) -> PathBuf {
    let p = dir.join(a.path.trim_start_matches('/').replace('/', "_"));
    fs::write(&p, &a.content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(a.mode)).unwrap();
    p
}

fn case(name: &str) -> Case {
    cases().into_iter().find(|c| c.name == name).unwrap()
}

// ---------------------------------------------------------------------------------------------------
// The helper

#[test]
fn helper_passes_sh_n_in_every_case() {
    let d = scratch();
    for case in cases() {
        let arts = render_case(&case, &Distro::by_name("ubuntu").unwrap());
        if rules_of(&arts).is_none() {
            continue;
        }
        let h = install(d.path(), helper_of(&arts));
        assert!(h.exists());
        for sh in shells() {
            let out = Command::new(&sh.path)
                .args(&sh.args)
                .arg("-n")
                .arg(&h)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                case.name,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(helper_of(&arts)
            .content
            .starts_with("#!/bin/sh\n# Generated by plumber-render "));
    }
}

#[test]
fn helper_creates_binds_and_sets_up_vfs_as_the_rule_says() {
    let arts = render_case(&case("sriov-vfs"), &Distro::by_name("ubuntu").unwrap());
    let helper = helper_of(&arts);
    let rules = rules(&rules_of(&arts).unwrap().content, &helper.path);
    let rule = rules
        .iter()
        .find(|r| r.iter().any(|p| p.key == "NAME" && p.value == "ens2f0"))
        .expect("a rule matching ens2f0 by NAME");
    let fallback = rules
        .iter()
        .find(|r| r.iter().any(|p| p.key == "KERNEL" && p.value == "ens2f0"))
        .expect("a rule matching ens2f0 by KERNEL when nothing set NAME");
    assert!(fallback
        .iter()
        .any(|p| p.key == "NAME" && p.value.is_empty()));
    assert_eq!(
        run_of(rule),
        run_of(fallback),
        "both rules run the same command"
    );

    let want_ip = [
        "link set dev ens2f0 vf 0 mac 02:00:00:00:00:10 vlan 100 qos 3 spoofchk off trust on max_tx_rate 1000 min_tx_rate 100",
        "link set dev ens2f0 vf 1 spoofchk on trust off",
        "link set dev ens2f0 vf 2 spoofchk on trust off",
        "link set dev ens2f0 vf 3 spoofchk on trust off",
    ];
    for sh in shells() {
        let d = scratch();
        let h = install(d.path(), helper);
        // VF 4 is bound to another driver; vfio-pci is not loaded yet.
        let mut k = Kernel::new("0000:03:00.0", "ens2f0", 64, 0, 8, &[4], &[]);
        let args = run_args(rule, &k.pci, &k.ifname);
        let sh_name = sh.path.display().to_string();

        // First event: 0 -> 8 VFs.
        let r = k.run(&sh, &h, &args);
        assert!(r.ok, "{sh_name}: {}", r.stderr);
        assert_eq!(k.read("sriov_numvfs"), "8");
        assert_eq!(
            r.writes_to("sriov_numvfs"),
            ["8"],
            "{sh_name}: no 0 first when there were no VFs:\n{}",
            r.stderr
        );
        assert_eq!(k.read("sriov_drivers_autoprobe"), "0", "{sh_name}");
        assert_eq!(k.mtu(), "9000", "{sh_name}");
        // The MTU and autoprobe come before the VFs.
        let order: Vec<&str> = r
            .stderr
            .lines()
            .filter(|l| l.contains(": write "))
            .collect();
        assert!(
            order[0].ends_with("/mtu") && order[1].ends_with("/sriov_drivers_autoprobe"),
            "{sh_name}: {order:#?}"
        );
        assert!(order[2].ends_with("/sriov_numvfs"), "{sh_name}: {order:#?}");
        for v in 0..8 {
            assert_eq!(k.override_of(v), "vfio-pci", "{sh_name}: VF {v}");
        }
        let (probed, unbound) = k.probes();
        assert_eq!(probed, k.vfs, "{sh_name}: drivers_probe");
        assert_eq!(unbound, [k.vfs[4].clone()], "{sh_name}: unbind");
        assert_eq!(k.calls("ip"), want_ip, "{sh_name}");
        assert_eq!(k.calls("modprobe"), ["vfio-pci"], "{sh_name}");
        // VF settings go through the PF before the VF driver binds.
        let ip_at = r.stderr.find(": ip link set").unwrap();
        let override_at = r.stderr.find("/driver_override").unwrap();
        assert!(ip_at < override_at, "{sh_name}: {}", r.stderr);

        // The same event again (udevadm trigger): nothing is written, nothing is called.
        let before = k.snapshot();
        let r = k.run(&sh, &h, &args);
        assert!(r.ok, "{sh_name}: {}", r.stderr);
        assert!(
            r.stderr.contains("nothing to do"),
            "{sh_name}: {}",
            r.stderr
        );
        assert_eq!(
            k.snapshot(),
            before,
            "{sh_name}: a repeated event changed sysfs"
        );
        assert_eq!(k.probes(), (vec![], vec![]), "{sh_name}");
        assert!(k.calls("ip").is_empty(), "{sh_name}");

        // A PF with another number of VFs goes through 0.
        write(&k.pf.join("sriov_numvfs"), "4\n");
        let r = k.run(&sh, &h, &args);
        assert!(r.ok, "{sh_name}: {}", r.stderr);
        assert_eq!(
            r.writes_to("sriov_numvfs"),
            ["0", "8"],
            "{sh_name}: {}",
            r.stderr
        );
        assert!(
            r.writes_to("sriov_drivers_autoprobe").is_empty(),
            "{sh_name}: already 0"
        );
        assert!(r.writes_to("mtu").is_empty(), "{sh_name}: already 9000");
        assert!(
            r.writes_to("driver_override").is_empty(),
            "{sh_name}: already vfio-pci"
        );
        assert_eq!(k.read("sriov_numvfs"), "8");
        assert_eq!(k.calls("ip"), want_ip, "{sh_name}");
        // The fixture does not move the driver links, so every VF is probed again and VF 4 unbound again.
        assert_eq!(k.probes().0, k.vfs, "{sh_name}");
        assert!(k.calls("modprobe").len() == 1, "{sh_name}");
    }
}

#[test]
fn without_a_driver_autoprobe_stays_on_and_nothing_is_bound() {
    let arts = render_case(&case("sriov-vfs"), &Distro::by_name("ubuntu").unwrap());
    let helper = helper_of(&arts);
    let rules = rules(&rules_of(&arts).unwrap().content, &helper.path);
    let rule = rules
        .iter()
        .find(|r| {
            r.iter()
                .any(|p| p.key == "KERNELS" && p.value == "0000:5e:00.1")
        })
        .unwrap();
    for sh in shells() {
        let d = scratch();
        let h = install(d.path(), helper);
        let mut k = Kernel::new("0000:5e:00.1", "ens5f1", 64, 2, 16, &[], &[]);
        write(&k.pf.join("sriov_drivers_autoprobe"), "0\n");
        let r = k.run(&sh, &h, &run_args(rule, &k.pci, &k.ifname));
        assert!(r.ok, "{}", r.stderr);
        assert_eq!(r.writes_to("sriov_numvfs"), ["0", "16"]);
        assert_eq!(
            k.read("sriov_drivers_autoprobe"),
            "1",
            "the kernel's default without a vfDriver"
        );
        assert_eq!(k.mtu(), "1500");
        assert_eq!(k.probes(), (vec![], vec![]));
        assert!(k.calls("ip").is_empty() && k.calls("modprobe").is_empty());
        assert_eq!(k.override_of(0), "(null)");
    }
}

#[test]
fn numvfs_above_totalvfs_fails_without_writing() {
    let arts = render_case(&case("sriov-vfs"), &Distro::by_name("ubuntu").unwrap());
    let helper = helper_of(&arts);
    let rules = rules(&rules_of(&arts).unwrap().content, &helper.path);
    for sh in shells() {
        let d = scratch();
        let h = install(d.path(), helper);
        let mut k = Kernel::new("0000:03:00.0", "ens2f0", 4, 2, 8, &[], &[]);
        let before = k.snapshot();
        let pf_rule = rules
            .iter()
            .find(|r| r.iter().any(|p| p.key == "NAME" && p.value == "ens2f0"))
            .unwrap();
        let r = k.run(&sh, &h, &run_args(pf_rule, &k.pci, &k.ifname));
        assert!(!r.ok, "8 VFs on a PF with 4 succeeded:\n{}", r.stderr);
        assert!(r.stderr.contains("at most 4 VFs, not 8"), "{}", r.stderr);
        assert_eq!(k.snapshot(), before, "something was written");
        assert_eq!(k.probes(), (vec![], vec![]));
        assert!(k.calls("ip").is_empty() && k.calls("modprobe").is_empty());
    }
}

#[test]
fn arguments_are_checked_before_anything_is_written() {
    let arts = render_case(&case("sriov-vfs"), &Distro::by_name("ubuntu").unwrap());
    let helper = helper_of(&arts);
    let good = ["0000:03:00.0", "ens2f0", "8", "vfio-pci", "9000"];
    let with = |i: usize, v: &str| {
        let mut a: Vec<String> = good.iter().map(|s| s.to_string()).collect();
        a[i] = v.to_string();
        a
    };
    let vf = |extra: &str| {
        let mut a: Vec<String> = good.iter().map(|s| s.to_string()).collect();
        a.extend(extra.split(' ').map(str::to_string));
        a
    };
    let bad: Vec<Vec<String>> = vec![
        good[..4].iter().map(|s| s.to_string()).collect(),
        with(0, "0000:03:00.0/../../x"),
        with(0, "03:00.0"),
        with(1, "../x"),
        with(1, "ens2f0;touch x"),
        with(1, ""),
        with(1, "a23456789012345x"),
        with(2, "8;touch x"),
        with(2, "-1"),
        with(2, "1e3"),
        with(3, "vfio/pci"),
        with(3, "$(touch x)"),
        with(4, "9000 x"),
        vf("vf 8 trust on"),
        vf("vf x trust on"),
        vf("trust on"),
        vf("vf 0 mac 02:00:00:00:00:1g"),
        vf("vf 0 mac 02:00:00:00:00:10;x"),
        vf("vf 0 qos 3"),
        vf("vf 0 vlan 4096"),
        vf("vf 0 trust yes"),
        vf("vf 0 spoofchk 1"),
        vf("vf 0 max_tx_rate -5"),
        vf("vf 0 bogus 1"),
        vf("vf 0 mac"),
        vf("vf 0 trust on vf 9 trust on"),
    ];
    let sh = &shells()[0];
    let d = scratch();
    let h = install(d.path(), helper);
    let mut k = Kernel::new("0000:03:00.0", "ens2f0", 64, 0, 8, &[], &["vfio-pci"]);
    let before = k.snapshot();
    for args in &bad {
        let r = k.run(sh, &h, args);
        assert!(!r.ok, "{args:?} was accepted:\n{}", r.stderr);
        assert!(
            r.stderr.contains("invalid") || r.stderr.contains("usage"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(k.snapshot(), before, "{args:?} wrote something");
        assert!(
            !k.root.parent().unwrap().join("x").exists(),
            "{args:?} ran a command"
        );
    }
    assert_eq!(k.probes(), (vec![], vec![]));
    assert!(k.calls("ip").is_empty());
    // The good arguments do pass, so the refusals above are about the values.
    let r = k.run(
        sh,
        &h,
        &vf("vf 0 mac 02:00:00:00:00:10 vlan 4095 qos 7 trust on spoofchk off"),
    );
    assert!(r.ok, "{}", r.stderr);
}

/// Every rule of every golden case drives the helper to the state its arguments name.
#[test]
fn every_rule_of_every_case_drives_the_helper() {
    let mut ran = 0;
    for case in cases() {
        let arts = render_case(&case, &Distro::by_name("ubuntu").unwrap());
        let Some(r) = rules_of(&arts) else { continue };
        let helper = helper_of(&arts);
        let d = scratch();
        let h = install(d.path(), helper);
        for rule in rules(&r.content, &helper.path) {
            let name = rule
                .iter()
                .find(|p| (p.key == "NAME" || p.key == "KERNEL") && !p.value.is_empty())
                .map(|p| p.value.clone())
                .unwrap_or_else(|| "enp1s0f0".into());
            let pci = rule
                .iter()
                .find(|p| p.key == "KERNELS")
                .map(|p| p.value.clone())
                .unwrap_or_else(|| "0000:01:00.0".into());
            let args = run_args(&rule, &pci, &name);
            if args[2] == "vf" || args[2] == "driver" {
                // The VF rule: `vf_mtu`; a NIC's own driver: `nic_driver`.
                continue;
            }
            let numvfs: u32 = args[2].parse().unwrap_or(0);
            let driver = args[3].clone();
            let vf_groups = args.iter().filter(|a| *a == "vf").count();
            let mut k = Kernel::new(&pci, &name, 64, 0, numvfs, &[], &[]);
            let run = k.run(&shells()[0], &h, &args);
            assert!(run.ok, "case {}: {args:?}:\n{}", case.name, run.stderr);
            assert_eq!(
                k.read("sriov_numvfs"),
                numvfs.to_string(),
                "case {}",
                case.name
            );
            let (probed, _) = k.probes();
            if driver != "-" {
                assert_eq!(probed, k.vfs, "case {}", case.name);
                for v in 0..numvfs as usize {
                    assert_eq!(k.override_of(v), driver, "case {}", case.name);
                }
            } else {
                assert!(probed.is_empty(), "case {}", case.name);
            }
            assert_eq!(k.calls("ip").len(), vf_groups, "case {}", case.name);
            if args[4] != "-" {
                assert_eq!(k.mtu(), args[4], "case {}", case.name);
            }
            ran += 1;
        }
    }
    assert!(ran >= 8, "only {ran} rules ran");
}

#[test]
fn a_driver_written_as_its_module_is_rendered_as_the_driver() {
    // driver_override compares driver names: `vfio_pci` (the module) must reach the helper as
    // `vfio-pci`, or the VFs would silently stay unbound at boot.
    let src = plumber_render::Source {
        name: "t.yaml".into(),
        text: "apiVersion: plumber.k8s.pf9.io/v1\nkind: HostNetworkTemplate\nmetadata: {name: t}\nspec:\n  sriovConfig:\n    - {pfName: eno2, numVfs: 2, vfDriver: vfio_pci}\n".into(),
    };
    let arts = plumber_render::render_sources(
        std::slice::from_ref(&src),
        &Distro::by_name("rhel9").unwrap(),
        None,
        None,
    )
    .unwrap();
    let rules = rules_of(&arts).unwrap();
    assert!(
        rules.content.contains("$id $name 2 vfio-pci -\""),
        "{}",
        rules.content
    );
    assert!(!rules.content.contains("vfio_pci"), "{}", rules.content);
}
