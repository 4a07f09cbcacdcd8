use super::*;

fn art(path: &str, content: &str) -> Artifact {
    Artifact::file(path.to_string(), 0o644, content.to_string())
}

#[test]
fn paths_must_be_absolute_and_normal() {
    for ok in [
        "/etc/x",
        "/a",
        "/etc/systemd/network/10-eth0.network",
        "/a/..b/c..",
    ] {
        assert!(check_path(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "/",
        "etc/x",
        "./etc",
        "/etc/../x",
        "/etc/./x",
        "/etc//x",
        "/etc/x/",
        "/..",
        "/a/.",
        "/a\0b",
    ] {
        assert!(
            matches!(check_path(bad), Err(Error::BadPath { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn ancestors_shallowest_first() {
    assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a", "/a/b"]);
    assert_eq!(ancestors("/a").count(), 0);
}

#[test]
fn artifact_set_checks() {
    let state = "/var/lib/plumber";
    assert!(check_artifacts(&[art("/etc/a", ""), art("/etc/b", "")], state).is_ok());
    let err = |arts: &[Artifact]| match check_artifacts(arts, state) {
        Err(Error::BadPath { reason, .. }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(err(&[art("/etc/a", ""), art("/etc/a", "x")]).contains("twice"));
    assert!(err(&[art("/etc/a", ""), art("/etc/a/b", "")]).contains("also a directory"));
    assert!(err(&[art("/var/lib/plumber/manifest.json", "")]).contains("state dir"));
    assert!(err(&[art("/var/lib", "")]).contains("state dir"));
    assert!(err(&[art("/etc/../x", "")]).contains("normal"));
    // A sibling with the state dir as a name prefix is fine.
    assert!(check_artifacts(&[art("/var/lib/plumber2", "")], state).is_ok());
}

#[test]
fn matches_compares_content_mode_and_kind() {
    let a = art("/x", "hello");
    let o = owned_of(&a);
    let file = |c: &str, m| OnDisk::File {
        content: c.as_bytes().to_vec(),
        mode: m,
    };
    assert!(matches(&file("hello", 0o644), &o));
    assert!(!matches(&file("hello", 0o600), &o));
    assert!(!matches(&file("hellO", 0o644), &o));
    assert!(!matches(&OnDisk::Absent, &o));
    assert!(!matches(
        &OnDisk::Symlink {
            target: "hello".into()
        },
        &o
    ));
    let mut l = art("/l", "");
    l.symlink = Some("../t".into());
    let o = owned_of(&l);
    assert!(matches(
        &OnDisk::Symlink {
            target: "../t".into()
        },
        &o
    ));
    assert!(!matches(&file("", 0o777), &o));
}

#[test]
fn tmp_files_are_removed_by_name_only() {
    let dir = tempfile::tempdir().unwrap();
    for n in [
        ".plumber-tmp-a-12",
        ".plumber-tmp-a-",
        ".plumber-tmp-a-b-12",
        ".plumber-tmp-b-1",
        "a",
    ] {
        fs::write(dir.path().join(n), "x").unwrap();
    }
    fsutil::remove_tmp_files(dir.path(), "a").unwrap();
    let mut left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [
            ".plumber-tmp-a-",
            ".plumber-tmp-a-b-12",
            ".plumber-tmp-b-1",
            "a"
        ]
    );
}

#[test]
fn interrupted_before_journal_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let inst = Installer::with_default_state(dir.path());
    inst.install(&[art("/etc/a", "1")])
        .unwrap()
        .commit()
        .unwrap();
    // A crash while writing backups: txn/ exists, no journal.
    let paths = inst.paths().unwrap();
    fs::create_dir_all(&paths.backup).unwrap();
    fs::write(paths.backup.join("0"), "partial").unwrap();
    assert_eq!(inst.recover().unwrap(), Recovery::Discarded);
    assert!(!paths.txn.exists());
    assert_eq!(fs::read_to_string(dir.path().join("etc/a")).unwrap(), "1");
    assert_eq!(inst.recover().unwrap(), Recovery::Clean);
}

#[test]
fn pending_journal_blocks_install() {
    let dir = tempfile::tempdir().unwrap();
    let inst = Installer::with_default_state(dir.path());
    let pending = inst.install(&[art("/etc/a", "1")]).unwrap();
    drop(pending);
    assert!(matches!(
        inst.install(&[art("/etc/a", "2")]),
        Err(Error::Transaction(_))
    ));
    assert_eq!(
        inst.recover().unwrap(),
        Recovery::RolledBack(vec!["/etc/a".into()])
    );
    assert!(!dir.path().join("etc").exists());
    assert!(inst.manifest().unwrap().files.is_empty());
}
