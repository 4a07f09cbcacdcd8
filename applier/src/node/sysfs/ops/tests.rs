//! The pure planning functions: steps and their inverses, without a filesystem.

use super::*;

fn pci(s: &str) -> PciAddr {
    PciAddr::parse(s).unwrap()
}

fn drv(s: &str) -> DriverName {
    DriverName::parse(s).unwrap()
}

fn steps(plan: &[Planned]) -> Vec<String> {
    plan.iter().map(|p| p.step.to_string()).collect()
}

const NUMVFS: &str = "bus/pci/devices/0000:03:00.0/sriov_numvfs";

#[test]
fn num_vfs_from_zero_is_one_write_and_a_wait() {
    let plan = plan_num_vfs(pci("0000:03:00.0"), 0, 4, 64).unwrap();
    assert_eq!(
        steps(&plan),
        [
            format!("write \"4\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 4 VFs".to_string(),
        ]
    );
    assert_eq!(
        rollback_steps(&plan)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            format!("write \"0\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 0 VFs".to_string(),
        ]
    );
}

#[test]
fn num_vfs_n_to_m_goes_through_zero_both_ways() {
    let plan = plan_num_vfs(pci("0000:03:00.0"), 2, 8, 64).unwrap();
    assert_eq!(
        steps(&plan),
        [
            format!("write \"0\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 0 VFs".to_string(),
            format!("write \"8\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 8 VFs".to_string(),
        ]
    );
    let back: Vec<String> = rollback_steps(&plan)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        back,
        [
            format!("write \"0\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 0 VFs".to_string(),
            format!("write \"2\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 2 VFs".to_string(),
        ]
    );
    // Undoing only the first write (the second failed): back to 2.
    let back: Vec<String> = rollback_steps(&plan[..2])
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        back,
        [
            format!("write \"2\" to {NUMVFS}"),
            "wait for 0000:03:00.0 to have 2 VFs".to_string(),
        ]
    );
}

#[test]
fn num_vfs_to_zero_and_unchanged() {
    let plan = plan_num_vfs(pci("0000:03:00.0"), 8, 0, 64).unwrap();
    assert_eq!(plan.len(), 2);
    assert_eq!(steps(&plan)[0], format!("write \"0\" to {NUMVFS}"));
    assert!(plan_num_vfs(pci("0000:03:00.0"), 8, 8, 64)
        .unwrap()
        .is_empty());
    assert!(plan_num_vfs(pci("0000:03:00.0"), 0, 0, 0)
        .unwrap()
        .is_empty());
}

#[test]
fn num_vfs_bounded_by_total() {
    assert!(plan_num_vfs(pci("0000:03:00.0"), 0, 64, 64).is_ok());
    let e = plan_num_vfs(pci("0000:03:00.0"), 0, 65, 64)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at most 64"), "{e}");
}

#[test]
fn bind_from_another_driver_unbinds_first_and_inverts_in_order() {
    let plan = plan_bind_driver(pci("0000:03:02.0"), &drv("vfio-pci"), Some("iavf"), None);
    assert_eq!(
        steps(&plan),
        [
            "unbind 0000:03:02.0 from iavf",
            "write \"vfio-pci\" to bus/pci/devices/0000:03:02.0/driver_override",
            "write \"0000:03:02.0\" to bus/pci/drivers_probe",
            "wait for 0000:03:02.0 to be bound to vfio-pci",
        ]
    );
    let back: Vec<String> = rollback_steps(&plan)
        .iter()
        .map(ToString::to_string)
        .collect();
    // The override is cleared before the old driver binds again (the kernel refuses a bind the override
    // does not name).
    assert_eq!(
        back,
        [
            "unbind 0000:03:02.0 from vfio-pci",
            "write \"\" to bus/pci/devices/0000:03:02.0/driver_override",
            "write \"0000:03:02.0\" to bus/pci/drivers/iavf/bind",
            "wait for 0000:03:02.0 to be bound to iavf",
        ]
    );
    let clear = rollback_steps(&plan)[1].clone();
    assert_eq!(
        clear,
        Step::Write(SysfsWrite {
            path: "bus/pci/devices/0000:03:02.0/driver_override".into(),
            value: "\n".into()
        })
    );
}

#[test]
fn bind_unbound_device_and_idempotence() {
    let vf = pci("0000:03:02.1");
    let plan = plan_bind_driver(vf, &drv("vfio-pci"), None, Some("vfio-pci"));
    assert_eq!(
        steps(&plan),
        [
            "write \"0000:03:02.1\" to bus/pci/drivers_probe",
            "wait for 0000:03:02.1 to be bound to vfio-pci",
        ]
    );
    assert!(plan_bind_driver(vf, &drv("vfio-pci"), Some("vfio-pci"), None).is_empty());
    assert!(plan_bind_driver(vf, &drv("vfio-pci"), Some("vfio-pci"), Some("vfio-pci")).is_empty());
    // Bound, but an override naming another driver would move it on the next probe: fix the override.
    let plan = plan_bind_driver(vf, &drv("vfio-pci"), Some("vfio-pci"), Some("iavf"));
    assert_eq!(
        steps(&plan),
        ["write \"vfio-pci\" to bus/pci/devices/0000:03:02.1/driver_override"]
    );
    assert_eq!(
        rollback_steps(&plan)[0].to_string(),
        "write \"iavf\" to bus/pci/devices/0000:03:02.1/driver_override"
    );
}

#[test]
fn autoprobe() {
    let pf = pci("0000:03:00.0");
    assert!(plan_drivers_autoprobe(pf, Some(true), true).is_empty());
    let plan = plan_drivers_autoprobe(pf, Some(true), false);
    assert_eq!(
        steps(&plan),
        ["write \"0\" to bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe"]
    );
    assert_eq!(
        rollback_steps(&plan)[0].to_string(),
        "write \"1\" to bus/pci/devices/0000:03:00.0/sriov_drivers_autoprobe"
    );
    assert_eq!(plan_drivers_autoprobe(pf, None, true).len(), 1);
}
