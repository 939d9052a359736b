//! The generic CLIXML value model (MS-PSRP §2.2.5). Its serde form is the JSON rendering used in
//! structured messages: an externally tagged enum whose tags are the CLIXML element names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One serialized value. Primitive variants hold the element text (already `_xHHHH_`-decoded for
/// strings); numbers that are not exact in JSON (Sg, Db, D) keep their text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum ClixmlValue {
    /// §2.2.5.1.20 Null value.
    Nil,
    /// §2.2.5.1.1 String.
    S(String),
    /// §2.2.5.1.2 Character (UTF-16 code unit).
    C(u16),
    /// §2.2.5.1.3 Boolean.
    B(bool),
    /// §2.2.5.1.4 Date/Time (xs:dateTime text).
    DT(String),
    /// §2.2.5.1.5 Duration (xs:duration text).
    TS(String),
    /// §2.2.5.1.6 Unsigned byte.
    By(u8),
    /// §2.2.5.1.7 Signed byte.
    SB(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    /// §2.2.5.1.14 Float (text kept).
    Sg(String),
    /// §2.2.5.1.15 Double (text kept).
    Db(String),
    /// §2.2.5.1.16 Decimal (text kept).
    D(String),
    /// §2.2.5.1.17 Array of bytes (hex in JSON, base64 on the wire).
    BA(
        #[serde(with = "hex_bytes")]
        #[schemars(with = "String")]
        Vec<u8>,
    ),
    /// §2.2.5.1.18 GUID (text).
    G(String),
    /// §2.2.5.1.19 URI.
    URI(String),
    /// §2.2.5.1.21 Version.
    Version(String),
    /// §2.2.5.1.22 XML document (text).
    XD(String),
    /// §2.2.5.1.23 ScriptBlock (text).
    SBK(String),
    /// §2.2.5.1.24 Secure string (base64 of the encrypted, or with 2.4 plain UTF-16LE, text).
    SS(String),
    /// §2.2.5.1.25 Progress record: child elements AV, AI, PI, PC, T, SR, SD (and CO) in order.
    PR(Vec<PrField>),
    /// SemanticVersion as PowerShell 7 emits it (ERRATA PSRP-9).
    SemanticVersion(String),
    /// §2.2.5.2 Complex object.
    Obj(Box<ClixmlObject>),
    /// §2.2.5.2.2 Reference to an earlier object's RefId.
    Ref(String),
}

/// One child of a PR element: its tag and text (`None` for `<Nil />`-style empty elements).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrField {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// §2.2.5.2 `<Obj>`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct ClixmlObject {
    /// RefId attribute; `None` lets the writer number objects in document order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_id: Option<String>,
    /// §2.2.5.2.3 TN / TNRef: type names, most derived first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_names: Option<Vec<String>>,
    /// RefId of the TN element (or of the TN a TNRef pointed to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tn_ref_id: Option<String>,
    /// True when the type names came from a `<TNRef>`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tn_is_ref: bool,
    /// §2.2.5.2.4 ToString.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_string: Option<String>,
    /// A primitive value inside the object (e.g. an enum's I32).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<ClixmlValue>,
    /// §2.2.5.2.6 container: LST / IE / STK / QUE / DCT.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// §2.2.5.2.8 Adapted properties (`<Props>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub props: Vec<Property>,
    /// §2.2.5.2.9 Extended properties (`<MS>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ms: Vec<Property>,
}

/// A named member (`N` attribute).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Property {
    pub name: String,
    pub value: ClixmlValue,
}

/// §2.2.5.2.6 Containers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub enum Container {
    LST(Vec<ClixmlValue>),
    IE(Vec<ClixmlValue>),
    STK(Vec<ClixmlValue>),
    QUE(Vec<ClixmlValue>),
    DCT(Vec<DictEntry>),
}

/// `<En><… N="Key"/><… N="Value"/></En>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DictEntry {
    pub key: ClixmlValue,
    pub value: ClixmlValue,
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(clean).map_err(serde::de::Error::custom)
    }
}

/// `{ tag: inner }`, the serde form of a newtype variant.
fn tagged(tag: &str, inner: serde_json::Value) -> serde_json::Value {
    let mut m = serde_json::Map::with_capacity(1);
    m.insert(tag.to_owned(), inner);
    serde_json::Value::Object(m)
}

impl ClixmlValue {
    /// The serde JSON form of the value (exactly what `serde_json::to_value` gives, key order
    /// included), built by moving the strings instead of copying them.
    pub fn into_json(self) -> serde_json::Value {
        use serde_json::Value as J;
        let (tag, inner) = match self {
            Self::Nil => return J::String("Nil".into()),
            Self::S(s) => ("S", J::String(s)),
            Self::C(v) => ("C", J::from(v)),
            Self::B(v) => ("B", J::Bool(v)),
            Self::DT(s) => ("DT", J::String(s)),
            Self::TS(s) => ("TS", J::String(s)),
            Self::By(v) => ("By", J::from(v)),
            Self::SB(v) => ("SB", J::from(v)),
            Self::U16(v) => ("U16", J::from(v)),
            Self::I16(v) => ("I16", J::from(v)),
            Self::U32(v) => ("U32", J::from(v)),
            Self::I32(v) => ("I32", J::from(v)),
            Self::U64(v) => ("U64", J::from(v)),
            Self::I64(v) => ("I64", J::from(v)),
            Self::Sg(s) => ("Sg", J::String(s)),
            Self::Db(s) => ("Db", J::String(s)),
            Self::D(s) => ("D", J::String(s)),
            Self::BA(b) => ("BA", J::String(hex::encode(b))),
            Self::G(s) => ("G", J::String(s)),
            Self::URI(s) => ("URI", J::String(s)),
            Self::Version(s) => ("Version", J::String(s)),
            Self::XD(s) => ("XD", J::String(s)),
            Self::SBK(s) => ("SBK", J::String(s)),
            Self::SS(s) => ("SS", J::String(s)),
            Self::PR(fields) => (
                "PR",
                J::Array(
                    fields
                        .into_iter()
                        .map(|f| {
                            let mut m = serde_json::Map::new();
                            m.insert("tag".into(), J::String(f.tag));
                            if let Some(t) = f.text {
                                m.insert("text".into(), J::String(t));
                            }
                            J::Object(m)
                        })
                        .collect(),
                ),
            ),
            Self::SemanticVersion(s) => ("SemanticVersion", J::String(s)),
            Self::Obj(o) => ("Obj", (*o).into_json()),
            Self::Ref(s) => ("Ref", J::String(s)),
        };
        tagged(tag, inner)
    }

    pub fn obj(o: ClixmlObject) -> Self {
        Self::Obj(Box::new(o))
    }

    pub fn as_object(&self) -> Option<&ClixmlObject> {
        match self {
            Self::Obj(o) => Some(o),
            _ => None,
        }
    }

    /// A member by name: extended (MS) first, then adapted (Props).
    pub fn prop(&self, name: &str) -> Option<&ClixmlValue> {
        let o = self.as_object()?;
        o.ms.iter()
            .chain(o.props.iter())
            .find(|p| p.name == name)
            .map(|p| &p.value)
    }

    /// Text of a string-like primitive (or an object's ToString).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::S(s)
            | Self::Version(s)
            | Self::G(s)
            | Self::URI(s)
            | Self::DT(s)
            | Self::TS(s)
            | Self::SBK(s)
            | Self::XD(s)
            | Self::SS(s)
            | Self::SemanticVersion(s) => Some(s),
            Self::Obj(o) => o
                .to_string
                .as_deref()
                .or_else(|| o.value.as_ref().and_then(Self::as_str)),
            _ => None,
        }
    }

    /// An integer primitive, or an enum object's underlying integer.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Self::By(v) => Some(v.into()),
            Self::SB(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::I16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::I32(v) => Some(v.into()),
            Self::U64(v) => i64::try_from(v).ok(),
            Self::I64(v) => Some(v),
            Self::Obj(ref o) => o.value.as_ref().and_then(Self::as_i64),
            _ => None,
        }
    }

    pub fn as_i32(&self) -> Option<i32> {
        self.as_i64().and_then(|v| i32::try_from(v).ok())
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::B(b) => Some(*b),
            _ => None,
        }
    }

    /// Items of a list-like container.
    pub fn as_list(&self) -> Option<&[ClixmlValue]> {
        match self.as_object()?.container.as_ref()? {
            Container::LST(v) | Container::IE(v) | Container::STK(v) | Container::QUE(v) => Some(v),
            Container::DCT(_) => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Self::Nil)
    }
}

fn members_json(members: Vec<Property>) -> serde_json::Value {
    serde_json::Value::Array(members.into_iter().map(Property::into_json).collect())
}

fn items_json(items: Vec<ClixmlValue>) -> serde_json::Value {
    serde_json::Value::Array(items.into_iter().map(ClixmlValue::into_json).collect())
}

impl Property {
    fn into_json(self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), serde_json::Value::String(self.name));
        m.insert("value".into(), self.value.into_json());
        serde_json::Value::Object(m)
    }
}

impl Container {
    fn into_json(self) -> serde_json::Value {
        match self {
            Self::LST(v) => tagged("LST", items_json(v)),
            Self::IE(v) => tagged("IE", items_json(v)),
            Self::STK(v) => tagged("STK", items_json(v)),
            Self::QUE(v) => tagged("QUE", items_json(v)),
            Self::DCT(entries) => tagged(
                "DCT",
                serde_json::Value::Array(
                    entries
                        .into_iter()
                        .map(|e| {
                            let mut m = serde_json::Map::new();
                            m.insert("key".into(), e.key.into_json());
                            m.insert("value".into(), e.value.into_json());
                            serde_json::Value::Object(m)
                        })
                        .collect(),
                ),
            ),
        }
    }
}

impl ClixmlObject {
    /// The serde JSON form (field order and skipped fields as the derive), strings moved.
    fn into_json(self) -> serde_json::Value {
        use serde_json::Value as J;
        let strings = |v: Vec<String>| J::Array(v.into_iter().map(J::String).collect());
        let mut m = serde_json::Map::new();
        if let Some(v) = self.ref_id {
            m.insert("refId".into(), J::String(v));
        }
        if let Some(v) = self.type_names {
            m.insert("typeNames".into(), strings(v));
        }
        if let Some(v) = self.tn_ref_id {
            m.insert("tnRefId".into(), J::String(v));
        }
        if self.tn_is_ref {
            m.insert("tnIsRef".into(), J::Bool(true));
        }
        if let Some(v) = self.to_string {
            m.insert("toString".into(), J::String(v));
        }
        if let Some(v) = self.value {
            m.insert("value".into(), v.into_json());
        }
        if let Some(v) = self.container {
            m.insert("container".into(), v.into_json());
        }
        if !self.props.is_empty() {
            m.insert("props".into(), members_json(self.props));
        }
        if !self.ms.is_empty() {
            m.insert("ms".into(), members_json(self.ms));
        }
        J::Object(m)
    }

    /// An object with only extended members, the usual shape of a message body.
    pub fn with_ms(ms: Vec<Property>) -> Self {
        Self {
            ms,
            ..Default::default()
        }
    }

    /// A .NET enum value: type names, ToString, and the I32 underneath.
    pub fn enum_value(type_names: &[&str], to_string: &str, value: i32) -> Self {
        Self {
            type_names: Some(type_names.iter().map(|s| (*s).to_owned()).collect()),
            to_string: Some(to_string.to_owned()),
            value: Some(ClixmlValue::I32(value)),
            ..Default::default()
        }
    }

    pub fn list(type_names: &[&str], items: Vec<ClixmlValue>) -> Self {
        Self {
            type_names: Some(type_names.iter().map(|s| (*s).to_owned()).collect()),
            container: Some(Container::LST(items)),
            ..Default::default()
        }
    }
}

impl Property {
    pub fn new(name: &str, value: ClixmlValue) -> Self {
        Self {
            name: name.to_owned(),
            value,
        }
    }
}
