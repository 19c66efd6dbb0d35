//! The conversation's language, and the version of a text to send in it.
//!
//! The language is, in this order: the `language` variable (`set language to "es"`, or a
//! question that stores into `language`) when it names one of the bot's languages; else the
//! contact's `language` (the page's locale, the platform's browser language); else the bot's
//! default, the first of `languages`.

use crate::syntax::ast::Template;

use super::program::Program;
use super::state::State;

/// Index in `languages` of the language `wanted` asks for: the same code (`es-MX` is `es-mx`),
/// else the same language whatever the region (`es-MX` finds `es`, `pt` finds `pt-BR`). A list
/// such as a browser's `es-MX,es;q=0.9,en;q=0.8` is tried in its order.
pub(crate) fn matching_language(languages: &[String], wanted: &str) -> Option<usize> {
    let primary = |code: &str| code.split('-').next().unwrap_or("").to_string();
    let declared: Vec<String> =
        languages.iter().map(|code| code.to_ascii_lowercase().replace('_', "-")).collect();
    wanted.split(',').find_map(|item| {
        let code =
            item.split(';').next().unwrap_or("").trim().to_ascii_lowercase().replace('_', "-");
        if code.is_empty() {
            return None;
        }
        declared
            .iter()
            .position(|d| *d == code)
            .or_else(|| declared.iter().position(|d| primary(d) == primary(&code)))
    })
}

impl Program {
    /// The bot's languages (`languages en, es`), the default first; empty for a bot without.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// The conversation's language (see the module comment); `None` for a single-language bot.
    pub(crate) fn language_of(&self, state: &State) -> Option<&str> {
        if self.languages.is_empty() {
            return None;
        }
        let chosen = state.vars.get("language").and_then(|v| v.as_str());
        let from_contact = state.contact.attributes.get("language").map(String::as_str);
        let index = [chosen, from_contact]
            .into_iter()
            .flatten()
            .find_map(|wanted| matching_language(&self.languages, wanted))
            .unwrap_or(0);
        self.languages.get(index).map(String::as_str)
    }
}

/// The version of `text` written for `language`, or the text itself (the default language's).
pub(crate) fn version<'t>(text: &'t Template, language: Option<&str>) -> &'t Template {
    language
        .and_then(|code| text.translations.iter().find(|t| t.language.name == code))
        .map_or(text, |t| &t.text)
}

/// The labels of `buttons` for `language`: the translated ones when there are as many as
/// buttons, else the default labels.
pub(crate) fn labels<'l>(
    default: &'l [String],
    translations: &'l [(String, Vec<String>)],
    language: Option<&str>,
) -> &'l [String] {
    language
        .and_then(|code| translations.iter().find(|(c, _)| c == code))
        .filter(|(_, labels)| labels.len() == default.len())
        .map_or(default, |(_, labels)| labels.as_slice())
}

#[cfg(test)]
mod tests {
    use super::matching_language;

    #[test]
    fn a_locale_finds_its_language_with_or_without_region() {
        let declared = ["en".to_string(), "es".to_string(), "pt-BR".to_string()];
        assert_eq!(matching_language(&declared, "es"), Some(1));
        assert_eq!(matching_language(&declared, "ES_mx"), Some(1));
        assert_eq!(matching_language(&declared, "pt"), Some(2));
        assert_eq!(matching_language(&declared, "pt-br"), Some(2));
        assert_eq!(matching_language(&declared, "fr-FR,es;q=0.8"), Some(1));
        assert_eq!(matching_language(&declared, "de"), None);
        assert_eq!(matching_language(&declared, ""), None);
    }
}
