//! Finds the line of a test, or of one of its steps, in a transcript's YAML text, so errors can
//! say `faq.test.yaml:12`. The YAML parser keeps no positions; transcripts are written in block
//! style, which this walks by indentation. Flow-style lists (`[…]`) are not entered: the error
//! then points at the enclosing test.

/// The 1-based line of `tests[test]`, or of its `steps[step]` when given and found.
pub(crate) fn line_of(text: &str, test: usize, step: Option<usize>) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let tests_at = lines.iter().position(|l| is_key(l, 0, "tests"))?;
    let (start, end) = nth_item(&lines, tests_at + 1, lines.len(), 0, test)?;
    let Some(step) = step else { return Some(start + 1) };
    let item_indent = indent(lines[start]);
    let steps_at = (start..end).find(|&i| {
        let line = lines[i];
        // `- steps:` on the item's own line, or `steps:` deeper inside it.
        let own =
            line.trim_start().strip_prefix("- ").is_some_and(|rest| key_of(rest) == Some("steps"));
        own || (indent(line) > item_indent && key_of(line.trim_start()) == Some("steps"))
    })?;
    match nth_item(&lines, steps_at + 1, end, indent(lines[steps_at]), step) {
        Some((line, _)) => Some(line + 1),
        None => Some(start + 1),
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_blank(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.is_empty() || trimmed.starts_with('#')
}

/// The key of `key: …`, if the line starts with one.
fn key_of(line: &str) -> Option<&str> {
    let (key, _) = line.split_once(':')?;
    let key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()).then_some(key)
}

fn is_key(line: &str, at_indent: usize, key: &str) -> bool {
    indent(line) == at_indent && key_of(line.trim_start()) == Some(key)
}

/// `(first line, end)` of the `n`-th `- ` item of the list that starts at `from` below a key
/// indented by `parent` (items may sit at the key's own indentation, as YAML allows).
fn nth_item(
    lines: &[&str],
    from: usize,
    to: usize,
    parent: usize,
    n: usize,
) -> Option<(usize, usize)> {
    let mut item_indent = None;
    let mut starts = Vec::new();
    let mut end = to;
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        if is_blank(line) {
            continue;
        }
        let here = indent(line);
        let is_item = line.trim_start().starts_with("- ") || line.trim() == "-";
        match item_indent {
            None if is_item && here >= parent => {
                item_indent = Some(here);
                starts.push(i);
            }
            None => return None,
            Some(at) if here < at || (here == at && !is_item) => {
                end = i;
                break;
            }
            Some(at) if here == at => starts.push(i),
            Some(_) => {}
        }
    }
    let start = *starts.get(n)?;
    let stop = starts.get(n + 1).copied().unwrap_or(end);
    Some((start, stop))
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = "\
# a comment
bot: faq.bot
tests:
  - name: first
    steps:
      - customer: hi
      - bot: hello

  - name: second
    contact: {name: Ada}
    steps:
    - customer: one
    - bot: [a, b]
    - customer: two
fixtures:
  seed: 3
";

    #[test]
    fn finds_tests_and_their_steps() {
        assert_eq!(line_of(TEXT, 0, None), Some(4));
        assert_eq!(line_of(TEXT, 1, None), Some(9));
        assert_eq!(line_of(TEXT, 0, Some(1)), Some(7));
        assert_eq!(line_of(TEXT, 1, Some(0)), Some(12));
        assert_eq!(line_of(TEXT, 1, Some(2)), Some(14));
    }

    #[test]
    fn falls_back_to_the_test_or_nothing() {
        assert_eq!(line_of(TEXT, 1, Some(9)), Some(9));
        assert_eq!(line_of(TEXT, 2, None), None);
        assert_eq!(line_of("tests: []\n", 0, None), None);
    }
}
