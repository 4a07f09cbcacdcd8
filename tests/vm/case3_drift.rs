//! Case 3: drift. `plumber apply --watch` in the guest; a managed VLAN and an address are deleted by
//! hand; both are back within 1 s.

use crate::harness::*;

#[test]
fn case3_watch_repairs_drift_within_a_second() {
    let p = Payload::new("case3");
    p.copy_tree(&top().join("tests/vm/case3"), "case3");
    std::fs::copy(top().join("tests/vm/case3/case.sh"), p.dir.join("case.sh")).unwrap();
    let o = p.run(180);
    eprintln!("case3: VM {:.1} s", o.elapsed.as_secs_f64());
    assert_eq!(o.rc, 0, "the guest script failed; see {}", o.dir.display());
    assert_eq!(o.get("done"), "1", "the guest script did not finish");
    o.assert_rc("apply1", 0);
    assert_eq!(
        o.get("watch.alive"),
        "1",
        "--watch exited: {}",
        o.text("watch.err")
    );
    for key in ["drift.vlan_ms", "drift.addr_ms"] {
        let ms: i64 = o.get(key).parse().unwrap();
        eprintln!("case3: {key} = {ms}");
        assert!(
            (0..=1000).contains(&ms),
            "{key}: {ms} ms (-1: never); watch log:\n{}",
            o.text("watch.err")
        );
    }
}
