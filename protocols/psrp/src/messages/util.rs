//! Helpers shared by the typed bodies: building `<Obj><MS>…</MS></Obj>` bodies and reading members.

use crate::clixml::{ClixmlObject, ClixmlValue, Property};

pub(crate) const ENUM_BASES: [&str; 3] = ["System.Enum", "System.ValueType", "System.Object"];

/// `<Obj RefId="0"><MS>…</MS></Obj>` from (name, value) pairs.
pub(crate) fn ms(members: Vec<(&str, ClixmlValue)>) -> ClixmlValue {
    ClixmlValue::obj(ClixmlObject::with_ms(
        members.into_iter().map(|(n, v)| Property::new(n, v)).collect(),
    ))
}

/// A .NET enum member of type `type_name` with its ToString and value.
pub(crate) fn enum_obj(type_name: &str, to_string: &str, value: i32) -> ClixmlValue {
    let mut names = vec![type_name];
    names.extend(ENUM_BASES);
    ClixmlValue::obj(ClixmlObject::enum_value(&names, to_string, value))
}

pub(crate) fn list_obj(type_names: &[&str], items: Vec<ClixmlValue>) -> ClixmlValue {
    ClixmlValue::obj(ClixmlObject::list(type_names, items))
}

pub(crate) fn s(text: &str) -> ClixmlValue {
    ClixmlValue::S(text.to_owned())
}

pub(crate) fn opt_s(text: &Option<String>) -> ClixmlValue {
    text.as_deref().map_or(ClixmlValue::Nil, s)
}

pub(crate) fn opt(v: &Option<ClixmlValue>) -> ClixmlValue {
    v.clone().unwrap_or(ClixmlValue::Nil)
}

/// A member by name, case-insensitively when no exact match exists (pypsrp writes `CI`, PowerShell `ci`).
pub(crate) fn member<'a>(v: Option<&'a ClixmlValue>, name: &str) -> Option<&'a ClixmlValue> {
    let v = v?;
    v.prop(name).or_else(|| {
        let o = v.as_object()?;
        o.ms.iter()
            .chain(o.props.iter())
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| &p.value)
    })
}

pub(crate) fn get_i32(v: Option<&ClixmlValue>, name: &str) -> Option<i32> {
    member(v, name).and_then(ClixmlValue::as_i32)
}

pub(crate) fn get_i64(v: Option<&ClixmlValue>, name: &str) -> Option<i64> {
    member(v, name).and_then(ClixmlValue::as_i64)
}

pub(crate) fn get_bool(v: Option<&ClixmlValue>, name: &str) -> Option<bool> {
    member(v, name).and_then(ClixmlValue::as_bool)
}

pub(crate) fn get_str(v: Option<&ClixmlValue>, name: &str) -> Option<String> {
    member(v, name).and_then(ClixmlValue::as_str).map(str::to_owned)
}

/// A member that is present and not `<Nil>`.
pub(crate) fn get_value(v: Option<&ClixmlValue>, name: &str) -> Option<ClixmlValue> {
    member(v, name).filter(|x| !x.is_nil()).cloned()
}

/// A required member: an error naming it when absent.
pub(crate) fn require<T>(found: Option<T>, name: &str) -> Result<T, String> {
    found.ok_or_else(|| format!("the body lacks the `{name}` member"))
}

/// The strings of a list member (`<Obj><LST><S>…`).
pub(crate) fn get_strings(v: Option<&ClixmlValue>, name: &str) -> Vec<String> {
    member(v, name)
        .and_then(ClixmlValue::as_list)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
