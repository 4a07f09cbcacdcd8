//! `--watch` drift repair in network namespaces.
