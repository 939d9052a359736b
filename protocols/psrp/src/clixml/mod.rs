//! CLIXML, the serialization of PSRP message Data (MS-PSRP §2.2.5): value model, `_xHHHH_`
//! escaping, reader and writer.

pub mod escape;
pub mod read;
pub mod value;
pub mod write;

pub use read::{parse, ClixmlError};
pub use value::{ClixmlObject, ClixmlValue, Container, DictEntry, PrField, Property};
pub use write::{to_string, write_into};

#[cfg(test)]
mod tests;
