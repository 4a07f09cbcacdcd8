//! A template the API server accepts but the agent's template type cannot be read from
//! (`tests/bad/route-host-bits.yaml`: a route prefix with host bits set, which OpenAPI cannot express and
//! `RouteDest`'s deserializer refuses). The agent should report it like any other invalid template and
//! keep watching; on its own API server, since while such a template exists every agent's watch of the
//! templates is affected.

use serde_json::{json, Value};

use crate::harness::assets::repo;
use crate::harness::cluster::{assets, Cluster};
use crate::harness::node::CASE;
use crate::harness::status::{self, condition};
use crate::harness::templates::Templates;
use crate::harness::wait;

#[test]
fn a_template_the_agent_cannot_deserialize_is_reported_and_its_watch_goes_on() {
    let Some(assets) = assets() else { return };
    let mut c = Cluster::start(&assets);
    c.start_rollup();
    let admin = c.admin();
    let templates = Templates::new(&c.cp.admin);
    let mut node = c.node("unreadable-1", &[(CASE, "unreadable")]);
    node.start_agent();
    status::wait_host_network(&admin, "unreadable-1", "Available NoTemplates", |hn| {
        status::is(hn, "Available", "True", "NoTemplates")
    });
    let text = std::fs::read_to_string(repo().join("tests/bad/route-host-bits.yaml")).unwrap();
    let want = text
        .lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .unwrap()
        .to_string();
    let mut bad: Value = serde_yaml::from_str(&text).unwrap();
    bad["spec"]["nodeSelector"] = json!({CASE: "unreadable"});
    templates
        .apply(&admin, "host-bits", bad["spec"].clone())
        .expect("the API server accepts it (OpenAPI cannot express host bits)");
    // The rollup reads only what it needs of a template: it sees this one, and the node it selects.
    wait::until("the rollup to count the node", status::CONVERGE, |last| {
        let t = admin.get(&status::template_path("host-bits"))?;
        *last = t["status"].to_string();
        (status::counts(&t).0 == 1).then_some(())
    });
    let hn = status::wait_host_network(&admin, "unreadable-1", "Degraded InvalidTemplate", |hn| {
        status::is(hn, "Degraded", "True", "InvalidTemplate")
    });
    let (_, _, message) = condition(&hn, "Degraded").unwrap();
    assert!(message.contains(&want), "{message:?} does not say {want:?}");
    // And the agent still sees the other templates.
    templates
        .apply(
            &admin,
            "host-bits-fixed",
            json!({"nodeSelector": {CASE: "unreadable"}, "interfaceConfig": [{"name": "eth1", "mtu": 9000}]}),
        )
        .unwrap();
    templates.delete(&admin, "host-bits");
    status::wait_applied(&admin, "unreadable-1", &["host-bits-fixed"]);
}
