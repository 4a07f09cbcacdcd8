//! OVS against a real ovsdb-server on a private socket.
