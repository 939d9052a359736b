//! CLIXML reader (MS-PSRP §2.2.5) over quick-xml: first a small element tree with depth and node
//! limits, then the typed [`ClixmlValue`].

use super::escape;
use super::value::{ClixmlObject, ClixmlValue, Container, DictEntry, PrField, Property};
use crate::limits::{MAX_CLIXML_DEPTH, MAX_CLIXML_NODES};
use base64::Engine;
use quick_xml::events::{BytesStart, Event};
use std::collections::HashMap;

/// Why CLIXML was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClixmlError {
    #[error("malformed XML: {0}")]
    Xml(String),
    #[error("nesting depth {depth} exceeds the limit {limit} = {max}")]
    TooDeep {
        depth: u64,
        max: u64,
        limit: &'static str,
    },
    #[error("more than {max} elements (limit {limit})")]
    TooManyNodes { max: u64, limit: &'static str },
    #[error("more than one top-level element")]
    MultipleRoots,
    #[error("text outside any element")]
    StrayText,
    #[error("unknown element <{0}>")]
    UnknownElement(String),
    #[error("<{tag}> holds `{text}`, not a valid value")]
    BadValue { tag: String, text: String },
    #[error("<{tag}> lacks the {attr} attribute")]
    MissingAttribute { tag: String, attr: &'static str },
    #[error("<TNRef RefId=\"{0}\"> names no earlier <TN>")]
    UnknownTypeNameRef(String),
    #[error("<En> lacks its Key or Value")]
    BadDictionaryEntry,
}

#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Parse message Data into at most one value; empty data is `None`.
/// A leading U+FEFF (the BOM PowerShell writes, ERRATA PSRP-4) is skipped.
pub fn parse(text: &str) -> Result<Option<ClixmlValue>, ClixmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match parse_tree(text)? {
        None => Ok(None),
        Some(root) => Ok(Some(Converter::default().value(&root)?)),
    }
}

fn start_element(e: &BytesStart<'_>) -> Result<Element, ClixmlError> {
    let name = std::str::from_utf8(e.name().as_ref())
        .map_err(|err| ClixmlError::Xml(err.to_string()))?
        .to_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|err| ClixmlError::Xml(err.to_string()))?;
        let k = std::str::from_utf8(a.key.as_ref())
            .map_err(|err| ClixmlError::Xml(err.to_string()))?
            .to_owned();
        let v = a
            .unescape_value()
            .map_err(|err| ClixmlError::Xml(err.to_string()))?
            .into_owned();
        attrs.push((k, v));
    }
    Ok(Element {
        name,
        attrs,
        ..Default::default()
    })
}

fn parse_tree(text: &str) -> Result<Option<Element>, ClixmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut nodes: u64 = 0;
    let attach =
        |stack: &mut Vec<Element>, root: &mut Option<Element>, el: Element| -> Result<(), ClixmlError> {
            match stack.last_mut() {
                Some(parent) => parent.children.push(el),
                None if root.is_some() => return Err(ClixmlError::MultipleRoots),
                None => *root = Some(el),
            }
            Ok(())
        };
    loop {
        let ev = reader.read_event().map_err(|e| ClixmlError::Xml(e.to_string()))?;
        match ev {
            Event::Start(_) | Event::Empty(_) => {
                nodes += 1;
                if nodes > MAX_CLIXML_NODES.max {
                    return Err(ClixmlError::TooManyNodes {
                        max: MAX_CLIXML_NODES.max,
                        limit: MAX_CLIXML_NODES.name,
                    });
                }
                let depth = stack.len() as u64 + 1;
                if depth > MAX_CLIXML_DEPTH.max {
                    return Err(ClixmlError::TooDeep {
                        depth,
                        max: MAX_CLIXML_DEPTH.max,
                        limit: MAX_CLIXML_DEPTH.name,
                    });
                }
                match ev {
                    Event::Start(ref e) => stack.push(start_element(e)?),
                    Event::Empty(ref e) => {
                        let el = start_element(e)?;
                        attach(&mut stack, &mut root, el)?;
                    }
                    _ => {}
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| ClixmlError::Xml("unmatched end tag".into()))?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| ClixmlError::Xml(e.to_string()))?;
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None if s.trim().is_empty() => {}
                    None => return Err(ClixmlError::StrayText),
                }
            }
            Event::CData(c) => {
                let s = std::str::from_utf8(&c)
                    .map_err(|e| ClixmlError::Xml(e.to_string()))?
                    .to_owned();
                match stack.last_mut() {
                    Some(el) => el.text.push_str(&s),
                    None => return Err(ClixmlError::StrayText),
                }
            }
            Event::DocType(_) => return Err(ClixmlError::Xml("DOCTYPE is not allowed in CLIXML".into())),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(ClixmlError::Xml("unclosed element at end of data".into()));
    }
    Ok(root)
}

#[derive(Default)]
struct Converter {
    type_names: HashMap<String, Vec<String>>,
}

fn bad(tag: &str, text: &str) -> ClixmlError {
    ClixmlError::BadValue {
        tag: tag.to_owned(),
        text: text.chars().take(64).collect(),
    }
}

fn num<T: std::str::FromStr>(tag: &str, text: &str) -> Result<T, ClixmlError> {
    text.trim().parse().map_err(|_| bad(tag, text))
}

impl Converter {
    fn value(&mut self, el: &Element) -> Result<ClixmlValue, ClixmlError> {
        use ClixmlValue as V;
        let t = el.text.as_str();
        let tag = el.name.as_str();
        Ok(match tag {
            "Nil" => V::Nil,
            "S" => V::S(escape::decode(t)),
            "SBK" => V::SBK(escape::decode(t)),
            "XD" => V::XD(escape::decode(t)),
            "C" => V::C(num(tag, t)?),
            "B" => V::B(match t.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(bad(tag, t)),
            }),
            "DT" => V::DT(t.to_owned()),
            "TS" => V::TS(t.to_owned()),
            "By" => V::By(num(tag, t)?),
            "SB" => V::SB(num(tag, t)?),
            "U16" => V::U16(num(tag, t)?),
            "I16" => V::I16(num(tag, t)?),
            "U32" => V::U32(num(tag, t)?),
            "I32" => V::I32(num(tag, t)?),
            "U64" => V::U64(num(tag, t)?),
            "I64" => V::I64(num(tag, t)?),
            "Sg" => V::Sg(t.trim().to_owned()),
            "Db" => V::Db(t.trim().to_owned()),
            "D" => V::D(t.trim().to_owned()),
            "BA" => {
                let clean: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                V::BA(
                    base64::engine::general_purpose::STANDARD
                        .decode(clean)
                        .map_err(|_| bad(tag, t))?,
                )
            }
            "G" => V::G(t.trim().to_owned()),
            "URI" => V::URI(escape::decode(t)),
            "Version" => V::Version(t.trim().to_owned()),
            "SemanticVersion" => V::SemanticVersion(t.trim().to_owned()),
            "SS" => V::SS(t.trim().to_owned()),
            "PR" => V::PR(
                el.children
                    .iter()
                    .map(|c| PrField {
                        tag: c.name.clone(),
                        text: if c.name == "Nil" {
                            None
                        } else {
                            Some(escape::decode(&c.text))
                        },
                    })
                    .collect(),
            ),
            "Ref" => V::Ref(
                el.attr("RefId")
                    .ok_or(ClixmlError::MissingAttribute {
                        tag: "Ref".into(),
                        attr: "RefId",
                    })?
                    .to_owned(),
            ),
            "Obj" => V::obj(self.object(el)?),
            other => return Err(ClixmlError::UnknownElement(other.chars().take(64).collect())),
        })
    }

    fn members(&mut self, el: &Element) -> Result<Vec<Property>, ClixmlError> {
        el.children
            .iter()
            .map(|c| {
                let name = c.attr("N").map(escape::decode).unwrap_or_default();
                Ok(Property {
                    name,
                    value: self.value(c)?,
                })
            })
            .collect()
    }

    fn items(&mut self, el: &Element) -> Result<Vec<ClixmlValue>, ClixmlError> {
        el.children.iter().map(|c| self.value(c)).collect()
    }

    fn object(&mut self, el: &Element) -> Result<ClixmlObject, ClixmlError> {
        let mut o = ClixmlObject {
            ref_id: el.attr("RefId").map(str::to_owned),
            ..Default::default()
        };
        for c in &el.children {
            match c.name.as_str() {
                "TN" => {
                    let names: Vec<String> = c
                        .children
                        .iter()
                        .filter(|t| t.name == "T")
                        .map(|t| escape::decode(&t.text))
                        .collect();
                    let id = c.attr("RefId").map(str::to_owned);
                    if let Some(id) = &id {
                        self.type_names.insert(id.clone(), names.clone());
                    }
                    o.type_names = Some(names);
                    o.tn_ref_id = id;
                }
                "TNRef" => {
                    let id = c.attr("RefId").ok_or(ClixmlError::MissingAttribute {
                        tag: "TNRef".into(),
                        attr: "RefId",
                    })?;
                    let names = self
                        .type_names
                        .get(id)
                        .cloned()
                        .ok_or_else(|| ClixmlError::UnknownTypeNameRef(id.to_owned()))?;
                    o.type_names = Some(names);
                    o.tn_ref_id = Some(id.to_owned());
                    o.tn_is_ref = true;
                }
                "ToString" => o.to_string = Some(escape::decode(&c.text)),
                "Props" => o.props = self.members(c)?,
                "MS" => o.ms = self.members(c)?,
                "LST" => o.container = Some(Container::LST(self.items(c)?)),
                "IE" => o.container = Some(Container::IE(self.items(c)?)),
                "STK" => o.container = Some(Container::STK(self.items(c)?)),
                "QUE" => o.container = Some(Container::QUE(self.items(c)?)),
                "DCT" => {
                    let mut entries = Vec::new();
                    for en in c.children.iter().filter(|e| e.name == "En") {
                        let key = en.children.iter().find(|k| k.attr("N") == Some("Key"));
                        let value = en.children.iter().find(|k| k.attr("N") == Some("Value"));
                        match (key, value) {
                            (Some(k), Some(v)) => entries.push(DictEntry {
                                key: self.value(k)?,
                                value: self.value(v)?,
                            }),
                            _ => return Err(ClixmlError::BadDictionaryEntry),
                        }
                    }
                    o.container = Some(Container::DCT(entries));
                }
                _ => o.value = Some(self.value(c)?),
            }
        }
        Ok(o)
    }
}
