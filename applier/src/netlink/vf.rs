//! SR-IOV VF settings over netlink (IFLA_VFINFO_LIST): reading them and building the set requests.
