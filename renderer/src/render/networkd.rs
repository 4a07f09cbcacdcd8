//! (being written)

use crate::distro::Distro;
use crate::error::Result;
use crate::node::NodeConfig;

use super::Artifact;

pub fn render(_node: &NodeConfig, _distro: &Distro) -> Result<Vec<Artifact>> {
    Ok(Vec::new())
}
