//! `plumber apply --watch`: re-enforce on netlink events, debounced, with a periodic backstop.
