//! Hex text as people write it in scenarios and on the command line:
//! `"0e000000 10 01 0100"`, `0x`-prefixed groups, `_` separators and `#` comments to end of line.

/// Parse hex text into bytes; the error names the 1-based column of the offending character.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let mut digits = Vec::with_capacity(text.len());
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c.is_whitespace() || c == '_' || c == ':' {
                continue;
            }
            if c == '0' && matches!(chars.peek(), Some((_, 'x' | 'X'))) {
                chars.next();
                continue;
            }
            match c.to_digit(16).and_then(|d| u8::try_from(d).ok()) {
                Some(d) => digits.push(d),
                None => return Err(format!("`{c}` at column {} is not a hex digit", i + 1)),
            }
        }
    }
    if digits.len() % 2 != 0 {
        return Err(format!(
            "odd number of hex digits ({}): bytes need two digits each",
            digits.len()
        ));
    }
    Ok(digits
        .chunks_exact(2)
        .map(|p| p.iter().fold(0u8, |acc, d| (acc << 4) | d))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_groups_prefixes_and_comments() {
        assert_eq!(
            parse_hex("0e000000 10 01 # capset\n0x0100").unwrap(),
            vec![0x0e, 0, 0, 0, 0x10, 1, 1, 0]
        );
        assert_eq!(parse_hex("").unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse_hex("0g").unwrap_err().contains("column 2"));
        assert!(parse_hex("abc").unwrap_err().contains("odd"));
    }
}
