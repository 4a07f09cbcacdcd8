//! Open vSwitch through ovs-vsctl: discovery, a pure plan, and execution as one OVSDB transaction.
