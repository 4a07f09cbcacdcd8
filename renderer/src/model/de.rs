//! Small serde helpers shared by the API types.

use serde::{Deserialize, Deserializer};

/// `field:` with no value (YAML null) is read as the field's default, as the Kubernetes API server does for
/// omitted lists and maps.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
