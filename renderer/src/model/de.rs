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

/// The words Kubernetes reads as `true`: the API server reads manifests with go-yaml v2 (YAML 1.1),
/// which resolves these unquoted scalars to booleans.
pub const TRUE_WORDS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
];
/// The words Kubernetes reads as `false`.
pub const FALSE_WORDS: &[&str] = &[
    "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
];

/// A boolean as Kubernetes reads one: `true`/`false`, or one of the YAML 1.1 words in [`TRUE_WORDS`] and
/// [`FALSE_WORDS`] (`spoofchk: off`), which serde_yaml (YAML 1.2) hands over as strings.
///
/// serde_yaml cannot tell `off` from `"off"`, so a quoted word is accepted too, although the API server
/// would take it as a string and refuse it: accepting a spelling the user meant as a boolean is the
/// lesser harm. Anything else is an error naming the value and the accepted spellings.
pub fn yaml11_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    d.deserialize_any(BoolVisitor)
}

/// [`yaml11_bool`] for an optional field (`trust:` with no value is absent).
pub fn yaml11_bool_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    d.deserialize_option(OptBoolVisitor)
}

struct BoolVisitor;

impl<'de> serde::de::Visitor<'de> for BoolVisitor {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        if TRUE_WORDS.contains(&v) {
            Ok(true)
        } else if FALSE_WORDS.contains(&v) {
            Ok(false)
        } else {
            Err(E::custom(not_a_bool(&crate::escape::printable(v))))
        }
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
        Err(E::custom(not_a_bool(&v.to_string())))
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
        Err(E::custom(not_a_bool(&v.to_string())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<bool, E> {
        Err(E::custom(not_a_bool(&v.to_string())))
    }
}

struct OptBoolVisitor;

impl<'de> serde::de::Visitor<'de> for OptBoolVisitor {
    type Value = Option<bool>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a boolean")
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<Option<bool>, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<bool>, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<bool>, D::Error> {
        yaml11_bool(d).map(Some)
    }
}

fn not_a_bool(shown: &str) -> String {
    format!(
        "{shown} is not a boolean: write true or false (Kubernetes also reads {} as true and {} as false)",
        TRUE_WORDS.join(" "),
        FALSE_WORDS.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct T {
        #[serde(default, deserialize_with = "yaml11_bool_opt")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "yaml11_bool")]
        c: bool,
    }

    fn b(yaml: &str) -> Result<Option<bool>, String> {
        serde_yaml::from_str::<T>(yaml)
            .map(|t| t.b)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_yaml_1_1_word_is_read_as_kubernetes_reads_it() {
        for w in TRUE_WORDS {
            assert_eq!(b(&format!("b: {w}")), Ok(Some(true)), "{w}");
        }
        for w in FALSE_WORDS {
            assert_eq!(b(&format!("b: {w}")), Ok(Some(false)), "{w}");
        }
        assert_eq!(b("b:"), Ok(None));
        assert_eq!(b("{}"), Ok(None));
        let t: T = serde_yaml::from_str("c: off").unwrap();
        assert!(!t.c);
        let t: T = serde_json::from_str(r#"{"b": true, "c": true}"#).unwrap();
        assert_eq!((t.b, t.c), (Some(true), true));
    }

    #[test]
    fn other_values_name_themselves_and_the_accepted_spellings() {
        for (yaml, shown) in [("b: maybe", "maybe"), ("b: 1", "1"), ("b: oN", "oN")] {
            let e = b(yaml).unwrap_err();
            assert!(
                e.contains(&format!(
                    "{shown} is not a boolean: write true or false (Kubernetes also reads y Y yes"
                )),
                "{e}"
            );
            assert!(e.contains("off Off OFF as false"), "{e}");
        }
    }
}
