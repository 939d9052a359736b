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
        attr_of(&self.attrs, key)
    }
}

/// Parse message Data into at most one value; empty data is `None`.
/// A leading U+FEFF (the BOM PowerShell writes, ERRATA PSRP-4) is skipped.
pub fn parse(text: &str) -> Result<Option<ClixmlValue>, ClixmlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match parse_tree(text)? {
        None => Ok(None),
        Some(root) => Ok(Some(Converter::default().value(root)?)),
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
    /// Converts the tree, consuming it: element texts move into the values (no copy of a long string
    /// without escapes).
    fn value(&mut self, el: Element) -> Result<ClixmlValue, ClixmlError> {
        use ClixmlValue as V;
        let Element {
            name,
            attrs,
            children,
            text,
        } = el;
        let t = text.as_str();
        let tag = name.as_str();
        Ok(match tag {
            "Nil" => V::Nil,
            "S" => V::S(escape::decode_owned(text)),
            "SBK" => V::SBK(escape::decode_owned(text)),
            "XD" => V::XD(escape::decode_owned(text)),
            "C" => V::C(num(tag, t)?),
            "B" => V::B(match t.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(bad(tag, t)),
            }),
            // Types kept as text keep it exactly, `_xHHHH_` decoded as the writer encodes every text
            // leaf: a value that is not what its type promises (`<D>é😀</D>`) still round-trips
            // (fuzz finding F2).
            "DT" => V::DT(escape::decode_owned(text)),
            "TS" => V::TS(escape::decode_owned(text)),
            "By" => V::By(num(tag, t)?),
            "SB" => V::SB(num(tag, t)?),
            "U16" => V::U16(num(tag, t)?),
            "I16" => V::I16(num(tag, t)?),
            "U32" => V::U32(num(tag, t)?),
            "I32" => V::I32(num(tag, t)?),
            "U64" => V::U64(num(tag, t)?),
            "I64" => V::I64(num(tag, t)?),
            "Sg" => V::Sg(escape::decode_owned(text)),
            "Db" => V::Db(escape::decode_owned(text)),
            "D" => V::D(escape::decode_owned(text)),
            "BA" => {
                let clean: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                V::BA(
                    base64::engine::general_purpose::STANDARD
                        .decode(clean)
                        .map_err(|_| bad(tag, t))?,
                )
            }
            "G" => V::G(escape::decode_owned(text)),
            "URI" => V::URI(escape::decode_owned(text)),
            "Version" => V::Version(escape::decode_owned(text)),
            "SemanticVersion" => V::SemanticVersion(escape::decode_owned(text)),
            "SS" => V::SS(escape::decode_owned(text)),
            "PR" => V::PR(
                children
                    .into_iter()
                    .map(|c| PrField {
                        text: if c.name == "Nil" {
                            None
                        } else {
                            Some(escape::decode_owned(c.text))
                        },
                        tag: c.name,
                    })
                    .collect(),
            ),
            "Ref" => V::Ref(
                // RefIds are `_x`-decoded like every attribute the writer encodes (fuzz finding F3).
                escape::decode(attr_of(&attrs, "RefId").ok_or(ClixmlError::MissingAttribute {
                    tag: "Ref".into(),
                    attr: "RefId",
                })?),
            ),
            "Obj" => V::obj(self.object(&attrs, children)?),
            other => return Err(ClixmlError::UnknownElement(other.chars().take(64).collect())),
        })
    }

    fn members(&mut self, children: Vec<Element>) -> Result<Vec<Property>, ClixmlError> {
        children
            .into_iter()
            .map(|c| {
                let name = c.attr("N").map(escape::decode).unwrap_or_default();
                Ok(Property {
                    name,
                    value: self.value(c)?,
                })
            })
            .collect()
    }

    fn items(&mut self, children: Vec<Element>) -> Result<Vec<ClixmlValue>, ClixmlError> {
        children.into_iter().map(|c| self.value(c)).collect()
    }

    fn object(
        &mut self,
        attrs: &[(String, String)],
        children: Vec<Element>,
    ) -> Result<ClixmlObject, ClixmlError> {
        let mut o = ClixmlObject {
            ref_id: attr_of(attrs, "RefId").map(escape::decode),
            ..Default::default()
        };
        for c in children {
            match c.name.as_str() {
                "TN" => {
                    let names: Vec<String> = c
                        .children
                        .iter()
                        .filter(|t| t.name == "T")
                        .map(|t| escape::decode(&t.text))
                        .collect();
                    let id = c.attr("RefId").map(escape::decode);
                    if let Some(id) = &id {
                        self.type_names.insert(id.clone(), names.clone());
                    }
                    o.type_names = Some(names);
                    o.tn_ref_id = id;
                }
                "TNRef" => {
                    let id = escape::decode(c.attr("RefId").ok_or(ClixmlError::MissingAttribute {
                        tag: "TNRef".into(),
                        attr: "RefId",
                    })?);
                    let names = self
                        .type_names
                        .get(&id)
                        .cloned()
                        .ok_or_else(|| ClixmlError::UnknownTypeNameRef(id.clone()))?;
                    o.type_names = Some(names);
                    o.tn_ref_id = Some(id);
                    o.tn_is_ref = true;
                }
                "ToString" => o.to_string = Some(escape::decode_owned(c.text)),
                "Props" => o.props = self.members(c.children)?,
                "MS" => o.ms = self.members(c.children)?,
                "LST" => o.container = Some(Container::LST(self.items(c.children)?)),
                "IE" => o.container = Some(Container::IE(self.items(c.children)?)),
                "STK" => o.container = Some(Container::STK(self.items(c.children)?)),
                "QUE" => o.container = Some(Container::QUE(self.items(c.children)?)),
                "DCT" => {
                    let mut entries = Vec::new();
                    for en in c.children.into_iter().filter(|e| e.name == "En") {
                        // The first child named Key and the first named Value.
                        let (mut key, mut value) = (None, None);
                        for k in en.children {
                            match k.attr("N") {
                                Some("Key") if key.is_none() => key = Some(k),
                                Some("Value") if value.is_none() => value = Some(k),
                                _ => {}
                            }
                        }
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

fn attr_of<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
