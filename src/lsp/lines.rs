//! Byte offsets ↔ LSP positions. LSP counts columns in UTF-16 code units (the default encoding
//! every client supports); the checks count bytes.

use lsp_types::{Position, Range};

/// Converts a byte offset in `text` to a line and UTF-16 column.
pub(crate) fn position(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column: usize = before[line_start..].chars().map(char::len_utf16).sum();
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Converts a byte range to an LSP range.
pub(crate) fn range(text: &str, start: usize, end: usize) -> Range {
    Range::new(position(text, start), position(text, end))
}

/// Converts an LSP position to a byte offset; positions past a line's end clamp to it.
pub(crate) fn offset(text: &str, position: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..position.line {
        match text[line_start..].find('\n') {
            Some(i) => line_start += i + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..].find('\n').map_or(text.len(), |i| line_start + i);
    let mut units = 0usize;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= position.character as usize {
            return line_start + i;
        }
        units += c.len_utf16();
    }
    line_end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_utf16_units() {
        let text = "say \"é😀x\"\nnext";
        let x = text.find('x').expect("x");
        assert_eq!(position(text, x), Position::new(0, 8));
        assert_eq!(offset(text, Position::new(0, 8)), x);
        assert_eq!(offset(text, Position::new(1, 2)), text.len() - 2);
        assert_eq!(offset(text, Position::new(1, 99)), text.len());
        assert_eq!(offset(text, Position::new(7, 0)), text.len());
    }
}
