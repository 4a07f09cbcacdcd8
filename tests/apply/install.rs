//! The installer against a temp root: ownership, drift, rollback, and crash safety under SIGKILL.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{env_or, Rng};
use plumber::node::install::{InstallReport, Installer, Recovery, DEFAULT_STATE_DIR, TMP_PREFIX};
use plumber::node::Error;
use plumber_render::render::Artifact;
use sha2::{Digest, Sha256};

fn file(path: &str, mode: u32, content: &str) -> Artifact {
    Artifact::file(path.to_string(), mode, content.to_string())
}

fn link(path: &str, target: &str) -> Artifact {
    Artifact {
        path: path.to_string(),
        mode: 0o777,
        content: String::new(),
        symlink: Some(target.to_string()),
    }
}

/// What is at one path under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(String),
}

/// Every path under `root` (absolute from root), without following symlinks.
fn listing(root: &Path) -> BTreeMap<String, Node> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = format!("/{}", path.strip_prefix(root).unwrap().display());
            let meta = fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let t = fs::read_link(&path).unwrap();
                out.insert(rel, Node::Link(t.to_string_lossy().into_owned()));
            } else if meta.is_dir() {
                out.insert(rel, Node::Dir(mode));
                walk(root, &path, out);
            } else {
                out.insert(rel, Node::File(mode, fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Files and symlinks only, outside the state dir: what a set of artifacts should produce.
fn files_only(root: &Path) -> BTreeMap<String, Node> {
    listing(root)
        .into_iter()
        .filter(|(p, n)| !matches!(n, Node::Dir(_)) && !p.starts_with(DEFAULT_STATE_DIR))
        .collect()
}

fn expected(arts: &[Artifact]) -> BTreeMap<String, Node> {
    arts.iter()
        .map(|a| {
            let node = match &a.symlink {
                Some(t) => Node::Link(t.clone()),
                None => Node::File(a.mode, a.content.as_bytes().to_vec()),
            };
            (a.path.clone(), node)
        })
        .collect()
}

fn installer(root: &Path) -> Installer {
    Installer::with_default_state(root)
}

fn install(inst: &Installer, arts: &[Artifact]) -> InstallReport {
    inst.install(arts).unwrap().commit().unwrap()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn basic() -> Vec<Artifact> {
    vec![
        file("/etc/netplan/50-plumber.yaml", 0o600, "network: {}\n"),
        file("/etc/plumber/hook.sh", 0o755, "#!/bin/sh\nexit 0\n"),
        file("/etc/udev/rules.d/70-plumber.rules", 0o644, "# rules\n"),
        link(
            "/etc/systemd/system/multi-user.target.wants/plumber.service",
            "/etc/systemd/system/plumber.service",
        ),
    ]
}

#[test]
fn install_into_empty_root() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    let arts = basic();
    let report = install(&inst, &arts);
    let mut paths: Vec<String> = arts.iter().map(|a| a.path.clone()).collect();
    paths.sort();
    assert_eq!(report.written, paths);
    assert!(report.unchanged.is_empty() && report.removed.is_empty() && report.drifted.is_empty());
    assert_eq!(files_only(dir.path()), expected(&arts));
    let all = listing(dir.path());
    assert_eq!(all["/etc/netplan"], Node::Dir(0o755));
    assert_eq!(
        all["/etc/systemd/system/multi-user.target.wants"],
        Node::Dir(0o755)
    );
    // The manifest: every path with its hash and mode.
    let m = inst.manifest().unwrap();
    assert_eq!(m.files.keys().cloned().collect::<Vec<_>>(), paths);
    let hook = &m.files["/etc/plumber/hook.sh"];
    assert_eq!(hook.mode, 0o755);
    let hash: String = Sha256::digest(b"#!/bin/sh\nexit 0\n")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(hook.sha256, hash);
    let raw = fs::read_to_string(dir.path().join("var/lib/plumber/manifest.json")).unwrap();
    assert!(raw.contains("/etc/plumber/hook.sh"), "{raw}");
    // Nothing else left in the state dir.
    assert!(!dir.path().join("var/lib/plumber/txn").exists());
}

#[test]
fn second_install_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    let arts = basic();
    install(&inst, &arts);
    let stamp = |root: &Path| -> BTreeMap<String, (u64, i64, i64)> {
        listing(root)
            .into_keys()
            .map(|p| {
                let m = fs::symlink_metadata(root.join(&p[1..])).unwrap();
                (p, (m.ino(), m.mtime(), m.mtime_nsec()))
            })
            .collect()
    };
    let before = stamp(dir.path());
    let tree = listing(dir.path());
    std::thread::sleep(Duration::from_millis(20));
    let installed = inst.install(&arts).unwrap();
    assert!(installed.report.is_noop());
    assert_eq!(installed.report.unchanged.len(), arts.len());
    installed.commit().unwrap();
    assert_eq!(stamp(dir.path()), before, "inodes or mtimes changed");
    assert_eq!(listing(dir.path()), tree);
}

#[test]
fn removed_artifact_is_deleted_and_only_it() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    fs::create_dir_all(dir.path().join("etc/plumber")).unwrap();
    fs::write(dir.path().join("etc/plumber/admin.conf"), "mine").unwrap();
    let mut arts = basic();
    install(&inst, &arts);
    let gone = arts.remove(1);
    let report = install(&inst, &arts);
    assert_eq!(report.removed, vec![gone.path.clone()]);
    assert!(report.written.is_empty());
    assert!(!dir.path().join(&gone.path[1..]).exists());
    assert_eq!(
        fs::read_to_string(dir.path().join("etc/plumber/admin.conf")).unwrap(),
        "mine"
    );
    assert!(!inst.manifest().unwrap().files.contains_key(&gone.path));
}

#[test]
fn foreign_file_is_refused_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    fs::create_dir_all(dir.path().join("etc/plumber")).unwrap();
    fs::write(dir.path().join("etc/plumber/hook.sh"), "admin's").unwrap();
    let before = listing(dir.path());
    match inst.install(&basic()) {
        Err(Error::Foreign(p)) => assert_eq!(p, "/etc/plumber/hook.sh"),
        other => panic!("{other:?}"),
    }
    assert_eq!(listing(dir.path()), before);

    // Same content, other mode: still foreign.
    fs::write(
        dir.path().join("etc/plumber/hook.sh"),
        "#!/bin/sh\nexit 0\n",
    )
    .unwrap();
    let before = listing(dir.path());
    assert!(matches!(inst.install(&basic()), Err(Error::Foreign(_))));
    assert_eq!(listing(dir.path()), before);

    // Identical: adopted, untouched, and owned from then on.
    fs::set_permissions(
        dir.path().join("etc/plumber/hook.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let ino = fs::metadata(dir.path().join("etc/plumber/hook.sh"))
        .unwrap()
        .ino();
    let report = install(&inst, &basic());
    assert_eq!(report.adopted, strs(&["/etc/plumber/hook.sh"]));
    assert!(!report.written.contains(&"/etc/plumber/hook.sh".to_string()));
    let hook = dir.path().join("etc/plumber/hook.sh");
    assert_eq!(fs::metadata(&hook).unwrap().ino(), ino);
    assert!(inst
        .manifest()
        .unwrap()
        .files
        .contains_key("/etc/plumber/hook.sh"));
    let report = install(&inst, &basic()[..1]);
    assert!(report.removed.contains(&"/etc/plumber/hook.sh".to_string()));
}

#[test]
fn symlinks_out_of_root_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("etc/netplan")).unwrap();
    let inst = installer(&root);
    // A symlink at the target.
    std::os::unix::fs::symlink(
        outside.path().join("victim"),
        root.join("etc/netplan/50-plumber.yaml"),
    )
    .unwrap();
    match inst.install(&basic()) {
        Err(Error::Foreign(p)) => assert_eq!(p, "/etc/netplan/50-plumber.yaml"),
        other => panic!("{other:?}"),
    }
    fs::remove_file(root.join("etc/netplan/50-plumber.yaml")).unwrap();
    // A symlinked directory on the way.
    std::os::unix::fs::symlink(outside.path(), root.join("etc/plumber")).unwrap();
    match inst.install(&basic()) {
        Err(Error::Foreign(p)) => assert_eq!(p, "/etc/plumber"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    assert!(!root.join("etc/netplan/50-plumber.yaml").exists());
}

#[test]
fn bad_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    for p in ["etc/x", "/etc/../../x", "/etc/./x", "/etc//x", "/"] {
        match inst.install(&[file(p, 0o644, "")]) {
            Err(Error::BadPath { path, .. }) => assert_eq!(path, p),
            other => panic!("{p}: {other:?}"),
        }
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn drift_is_overwritten_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    let arts = basic();
    install(&inst, &arts);
    let root = dir.path();
    fs::write(root.join("etc/udev/rules.d/70-plumber.rules"), "edited\n").unwrap();
    fs::set_permissions(
        root.join("etc/netplan/50-plumber.yaml"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    fs::remove_file(root.join("etc/plumber/hook.sh")).unwrap();
    let link = root.join("etc/systemd/system/multi-user.target.wants/plumber.service");
    fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/elsewhere", &link).unwrap();
    let report = install(&inst, &arts);
    let drifted = strs(&[
        "/etc/netplan/50-plumber.yaml",
        "/etc/plumber/hook.sh",
        "/etc/systemd/system/multi-user.target.wants/plumber.service",
        "/etc/udev/rules.d/70-plumber.rules",
    ]);
    assert_eq!(report.drifted, drifted);
    assert_eq!(report.written, drifted);
    assert_eq!(files_only(root), expected(&arts));
}

/// A tree and its successor touching every kind of change: content, mode, new files in new directories,
/// removed files, changed and removed symlinks, identical files.
fn before_after() -> (Vec<Artifact>, Vec<Artifact>) {
    let a = vec![
        file("/etc/a/changed", 0o644, "old\n"),
        file("/etc/a/mode", 0o644, "same\n"),
        file("/etc/a/same", 0o600, "same\n"),
        file("/etc/a/removed", 0o640, "bye\n"),
        link("/etc/a/link", "changed"),
        link("/etc/a/link-removed", "same"),
    ];
    let b = vec![
        file("/etc/a/changed", 0o644, "new, and longer\n"),
        file("/etc/a/mode", 0o755, "same\n"),
        file("/etc/a/same", 0o600, "same\n"),
        file("/etc/b/c/new", 0o600, "new\n"),
        link("/etc/a/link", "mode"),
        link("/etc/d/new-link", "/etc/a/same"),
    ];
    (a, b)
}

#[test]
fn rollback_restores_the_exact_previous_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inst = installer(root);
    let (a, b) = before_after();
    install(&inst, &a);
    // Drift and a foreign file, which a rollback must also bring back exactly.
    fs::write(root.join("etc/a/changed"), "edited\n").unwrap();
    fs::write(root.join("etc/a/admin"), "admin\n").unwrap();
    let before = listing(root);
    let installed = inst.install(&b).unwrap();
    assert_eq!(installed.report.drifted, strs(&["/etc/a/changed"]));
    assert_eq!(
        installed.report.removed,
        strs(&["/etc/a/link-removed", "/etc/a/removed"])
    );
    let mut want = expected(&b);
    want.insert(
        "/etc/a/admin".into(),
        Node::File(0o644, b"admin\n".to_vec()),
    );
    assert_eq!(files_only(root), want);
    installed.rollback().unwrap();
    assert_eq!(listing(root), before);
    // The manifest is the old one again: reinstalling b sees the same drift.
    let report = install(&inst, &b);
    assert_eq!(report.drifted, strs(&["/etc/a/changed"]));
}

#[test]
fn rollback_of_a_first_install_empties_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let inst = installer(dir.path());
    inst.install(&basic()).unwrap().rollback().unwrap();
    // Only the (empty) state dir remains.
    let left: Vec<String> = listing(dir.path()).into_keys().collect();
    assert_eq!(left, strs(&["/var", "/var/lib", "/var/lib/plumber"]));
}

#[test]
fn recover_after_a_crash_mid_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (a, b) = before_after();
    install(&installer(root), &a);
    let before = listing(root);
    // "Crash": the transaction is never committed, the process is gone.
    std::mem::forget(installer(root).install(&b).unwrap());
    // ...in the middle of a rollback-like state: one file already back, a temp file left behind.
    fs::write(root.join("etc/a/changed"), "old\n").unwrap();
    fs::write(root.join("etc/a/.plumber-tmp-mode-4242"), "partial").unwrap();
    fs::write(root.join("etc/b/c/.plumber-tmp-new-4242"), "partial").unwrap();
    let inst = installer(root);
    assert!(matches!(inst.install(&a), Err(Error::Transaction(_))));
    match inst.recover().unwrap() {
        Recovery::RolledBack(paths) => assert_eq!(paths.len(), 7, "{paths:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(listing(root), before);
    assert_eq!(inst.recover().unwrap(), Recovery::Clean);
    assert!(install(&inst, &a).is_noop());
}

// ---------------------------------------------------------------------------------------------------
// Crash safety: a child process installs trees A and B alternately; the parent SIGKILLs it at a random
// moment, recovers, and checks the tree is exactly A or exactly B.

const CHILD_ROOT: &str = "PLUMBER_INSTALL_CRASH_ROOT";
const CHILD_START: &str = "PLUMBER_INSTALL_CRASH_START";
const READY: &str = "plumber-crash-child-ready";

/// Tree 0 (A) or 1 (B): 37 files of 0 B to 20 kB, some in both with other content or mode, some
/// identical, some only in one (B's in directories A does not have), and symlinks.
fn crash_tree(which: usize) -> Vec<Artifact> {
    const SIZES: [usize; 10] = [0, 1, 17, 100, 511, 1000, 4096, 4097, 8192, 20_000];
    let body = |tag: &str, size: usize, seed: usize| -> String {
        let mut s = format!("{tag}\n");
        let mut i = 0;
        while s.len() < size {
            s.push((b'a' + ((seed + i * 7) % 26) as u8) as char);
            i += 1;
            if i % 64 == 0 {
                s.push('\n');
            }
        }
        s.truncate(size.max(1));
        s
    };
    let mut out = Vec::new();
    for i in 0..30 {
        let size = SIZES[i % SIZES.len()];
        let (tag, mode) = match i % 10 {
            3 => (format!("same {i}"), 0o644),
            5 => (format!("mode {i}"), if which == 0 { 0o644 } else { 0o600 }),
            _ => (
                format!("tree {which} file {i}"),
                0o644 | ((i as u32 % 2) * 0o111),
            ),
        };
        let content = body(&tag, size + which * 3 * (i % 2), i + which);
        out.push(file(&format!("/etc/crash/common/f{i:02}"), mode, &content));
    }
    for i in 0..5 {
        let path = if which == 0 {
            format!("/etc/crash/a-only/f{i}")
        } else {
            format!("/etc/crash/b-only/deep/f{i}")
        };
        out.push(file(&path, 0o640, &body(&path, SIZES[(i * 3) % 10], i)));
    }
    out.push(link("/etc/crash/link", &format!("common/f0{which}")));
    if which == 0 {
        out.push(link("/etc/crash/a-only/link", "../common/f09"));
    } else {
        out.push(link("/etc/crash/b-only/link", "deep/f0"));
    }
    out
}

fn child_name() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, m)| m);
    format!("{module}::crash_child")
}

/// The child: installs from `CHILD_START` alternately until killed (or a deadline, in case the parent
/// died).
#[test]
#[ignore = "run by crash_safety as its child process"]
fn crash_child() {
    let Ok(root) = std::env::var(CHILD_ROOT) else {
        return;
    };
    let mut which: usize = std::env::var(CHILD_START).unwrap().parse().unwrap();
    let inst = installer(Path::new(&root));
    let trees = [crash_tree(0), crash_tree(1)];
    println!("{READY}");
    std::io::stdout().flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        inst.install(&trees[which]).unwrap().commit().unwrap();
        which ^= 1;
    }
}

/// After recover: exactly one of the trees, its manifest, no temp file, no transaction. Returns which.
fn check_consistent(
    root: &Path,
    inst: &Installer,
    trees: &[BTreeMap<String, Node>; 2],
) -> Result<usize, String> {
    let all = listing(root);
    if let Some(p) = all.keys().find(|p| {
        p.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with(TMP_PREFIX))
    }) {
        return Err(format!("temp file left: {p}"));
    }
    if all.contains_key(&format!("{DEFAULT_STATE_DIR}/txn")) {
        return Err("transaction dir left".into());
    }
    let files = files_only(root);
    let Some(which) = trees.iter().position(|t| *t == files) else {
        let diff: Vec<_> = files
            .keys()
            .chain(trees[0].keys())
            .filter(|p| files.get(*p) != trees[0].get(*p) && files.get(*p) != trees[1].get(*p))
            .collect();
        return Err(format!("neither tree A nor B; paths in neither: {diff:?}"));
    };
    let manifest = inst.manifest().map_err(|e| e.to_string())?;
    if !manifest.files.keys().eq(files.keys()) {
        return Err("manifest paths differ from the files".into());
    }
    for (path, owned) in &manifest.files {
        let ok = match &files[path] {
            Node::File(mode, content) => {
                let hash: String = Sha256::digest(content)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                *mode == owned.mode && hash == owned.sha256 && owned.symlink.is_none()
            }
            Node::Link(t) => owned.symlink.as_ref() == Some(t),
            Node::Dir(_) => false,
        };
        if !ok {
            return Err(format!("manifest entry for {path} does not match the disk"));
        }
    }
    Ok(which)
}

#[test]
fn crash_safety() {
    let trials: u32 = env_or("PLUMBER_CRASH_TRIALS", 200);
    let seed: u64 = env_or("PLUMBER_CRASH_SEED", 0x5eed_cafe);
    // tmpfs when there is one: SIGKILL does not lose the page cache, so fsync is irrelevant to what is
    // tested here, and on a disk it makes the test ten times slower.
    let base = Path::new("/dev/shm");
    let dir = if base.is_dir() {
        tempfile::tempdir_in(base).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let root: PathBuf = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let inst = installer(&root);
    let trees = [crash_tree(0), crash_tree(1)];
    let want = [expected(&trees[0]), expected(&trees[1])];

    // Calibrate: delays span a little more than one install of each tree.
    install(&inst, &trees[0]);
    let t = Instant::now();
    install(&inst, &trees[1]);
    install(&inst, &trees[0]);
    let cycle_us = t.elapsed().as_micros() as u64;
    let max_delay_us: u64 = env_or(
        "PLUMBER_CRASH_MAX_US",
        (cycle_us * 3 / 2).clamp(500, 200_000),
    );
    let mut current = 0;
    assert_eq!(check_consistent(&root, &inst, &want), Ok(0));

    let mut rng = Rng(seed);
    let (mut rolled_back, mut discarded, mut outcomes) = (0, 0, [0, 0]);
    let started = Instant::now();
    for trial in 0..trials {
        let delay = rng.next() % max_delay_us;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", &child_name(), "--ignored", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(CHILD_ROOT, &root)
            .env(CHILD_START, (1 - current).to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut ready = false;
        while stdout.read_line(&mut line).unwrap() > 0 {
            if line.contains(READY) {
                ready = true;
                break;
            }
            line.clear();
        }
        let why = format!("trial {trial} (seed {seed:#x}, delay {delay} us of {max_delay_us})");
        if ready {
            std::thread::sleep(Duration::from_micros(delay));
            child.kill().unwrap();
        }
        let status = child.wait().unwrap();
        if status.signal() != Some(9) {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("{why}: child exited on its own ({status}):\n{err}");
        }
        match inst.recover() {
            Ok(Recovery::RolledBack(_)) => rolled_back += 1,
            Ok(Recovery::Discarded) => discarded += 1,
            Ok(Recovery::Clean) => {}
            Err(e) => panic!("{why}: recover: {e}"),
        }
        current = check_consistent(&root, &inst, &want).unwrap_or_else(|e| panic!("{why}: {e}"));
        outcomes[current] += 1;
    }
    eprintln!(
        "crash_safety: {trials} trials in {:?} (install cycle {cycle_us} us, delays < {max_delay_us} us): \
         {rolled_back} rolled back, {discarded} discarded, ended on A {} / B {}",
        started.elapsed(),
        outcomes[0],
        outcomes[1]
    );
    // With the default delays, some kills must land inside transactions and both trees must occur.
    if trials >= 50 && std::env::var_os("PLUMBER_CRASH_MAX_US").is_none() {
        assert!(rolled_back > 0, "no kill landed inside a transaction");
        assert!(
            outcomes[0] > 0 && outcomes[1] > 0,
            "never ended on one of the trees"
        );
    }
}

/// A VLAN file HostPlumber left on RHEL 8 (its `createVlanIfFile`: exactly four lines) is replaced by
/// plumber's file of the same name, owned from then on, and put back by a rollback; an edited one is
/// the host's and refused; HostPlumber's file for a VLAN plumber does not render is left alone.
#[test]
fn hostplumbers_vlan_files_are_replaced_and_restored_on_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let inst = installer(root);
    let scripts = root.join("etc/sysconfig/network-scripts");
    fs::create_dir_all(&scripts).unwrap();
    let theirs = |vlan: &str| format!("DEVICE={vlan}\nBOOTPROTO=none\nONBOOT=yes\nVLAN=yes\n");
    fs::write(scripts.join("ifcfg-eno2.100"), theirs("eno2.100")).unwrap();
    fs::write(scripts.join("ifcfg-eno2.200"), theirs("eno2.200")).unwrap();
    let ours = [file(
        "/etc/sysconfig/network-scripts/ifcfg-eno2.100",
        0o644,
        "# Generated by plumber-render\nDEVICE=eno2.100\nVLAN=yes\nPHYSDEV=eno2\nVLAN_ID=100\n",
    )];
    let before = listing(root);
    let installed = inst.install(&ours).unwrap();
    assert_eq!(
        installed.report.written,
        strs(&["/etc/sysconfig/network-scripts/ifcfg-eno2.100"])
    );
    assert_eq!(
        fs::read_to_string(scripts.join("ifcfg-eno2.100")).unwrap(),
        ours[0].content
    );
    assert_eq!(
        fs::read_to_string(scripts.join("ifcfg-eno2.200")).unwrap(),
        theirs("eno2.200"),
        "a HostPlumber file plumber does not render is left alone"
    );
    installed.rollback().unwrap();
    let mut after = listing(root);
    // The (empty) state dir the first install made stays.
    after.retain(|p, _| !p.starts_with("/var"));
    assert_eq!(after, before, "the rollback puts HostPlumber's file back");
    install(&inst, &ours);
    assert!(inst
        .manifest()
        .unwrap()
        .files
        .contains_key("/etc/sysconfig/network-scripts/ifcfg-eno2.100"));

    // Edited by someone: no longer HostPlumber's exact file, so the host's, and refused.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let scripts = root.join("etc/sysconfig/network-scripts");
    fs::create_dir_all(&scripts).unwrap();
    fs::write(
        scripts.join("ifcfg-eno2.100"),
        theirs("eno2.100") + "MTU=9000\n",
    )
    .unwrap();
    let before = listing(root);
    match installer(root).install(&ours) {
        Err(Error::Foreign(p)) => assert_eq!(p, "/etc/sysconfig/network-scripts/ifcfg-eno2.100"),
        other => panic!("{other:?}"),
    }
    assert_eq!(listing(root), before);
}
