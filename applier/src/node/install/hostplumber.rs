//! The boot files HostPlumber left on a node that plumber replaces as if they were its own.
//!
//! HostPlumber (platform9/luigi, `hostplumber/pkg/utils/link/link.go`, `createVlanIfFile`) wrote one
//! file per VLAN it created, on RHEL's network-scripts, with exactly four lines:
//!
//! ```text
//! /etc/sysconfig/network-scripts/ifcfg-eno2.100
//! DEVICE=eno2.100
//! BOOTPROTO=none
//! ONBOOT=yes
//! VLAN=yes
//! ```
//!
//! plumber's rhel8 profile writes a file of the same name for the same VLAN. Without this, the
//! installer would refuse it as a file plumber does not own. A file is HostPlumber's only when its
//! content is exactly those lines for the VLAN its name names (an edited file stays the host's and is
//! refused as before); it is then replaced like a file of plumber's, and restored on a rollback. A
//! HostPlumber file for a VLAN no template names is not plumber's and is left alone.

/// RHEL's network-scripts directory, where HostPlumber wrote (its `RhelNetworkScripts` under `/host`).
const NETWORK_SCRIPTS: &str = "/etc/sysconfig/network-scripts/";

/// Whether `content` at host path `path` is a VLAN file HostPlumber wrote.
pub(crate) fn is_hostplumber_vlan_file(path: &str, content: &[u8]) -> bool {
    let Some(name) = path
        .strip_prefix(NETWORK_SCRIPTS)
        .and_then(|f| f.strip_prefix("ifcfg-"))
    else {
        return false;
    };
    !name.is_empty()
        && !name.contains('/')
        && content == format!("DEVICE={name}\nBOOTPROTO=none\nONBOOT=yes\nVLAN=yes\n").as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hostplumbers_exact_vlan_file_is_recognised() {
        let path = "/etc/sysconfig/network-scripts/ifcfg-eno2.100";
        let theirs = b"DEVICE=eno2.100\nBOOTPROTO=none\nONBOOT=yes\nVLAN=yes\n";
        assert!(is_hostplumber_vlan_file(path, theirs));
        // Another VLAN's content, an edit, another directory: not HostPlumber's.
        assert!(!is_hostplumber_vlan_file(
            "/etc/sysconfig/network-scripts/ifcfg-eno2.200",
            theirs
        ));
        assert!(!is_hostplumber_vlan_file(
            path,
            b"DEVICE=eno2.100\nBOOTPROTO=none\nONBOOT=yes\nVLAN=yes\nMTU=9000\n"
        ));
        assert!(!is_hostplumber_vlan_file(
            "/etc/NetworkManager/system-connections/ifcfg-eno2.100",
            theirs
        ));
    }
}
