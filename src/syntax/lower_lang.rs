//! Lowering of translations: the `es "…"` lines indented under a reply (`say`, a `say one of`
//! choice, `retry`, a `resolve` farewell) and under `buttons`.

use crate::diagnostic::Diagnostic;

use super::ast::{LabelsTranslation, Template, Translation};
use super::grammar::{LineKind, Rule};
use super::lower::Lowerer;
use super::outline::Line;
use super::pieces::Cx;

impl Lowerer<'_> {
    /// `text` with the translation lines indented under `line`.
    pub(super) fn translated(&mut self, line: &Line, mut text: Template, what: &str) -> Template {
        for child in &line.children {
            if self.statement_under(line, child, what) {
                continue;
            }
            self.no_children(child, "a translation");
            let Some(parsed) = self.parse(LineKind::Translation, child, " under a reply") else {
                continue;
            };
            let cx = Cx { line: &parsed };
            let mut inner = parsed.pair.clone().into_inner();
            let (Some(code), Some(body)) = (inner.next(), inner.next()) else { continue };
            if let Some(translated) = self.keep(cx.template(&body)) {
                text.translations.push(Translation {
                    language: cx.ident(&code),
                    text: translated,
                    span: child.span,
                });
            }
        }
        text
    }

    /// The `es "Sí", "No"` lines indented under `buttons`.
    pub(super) fn translated_labels(&mut self, line: &Line) -> Vec<LabelsTranslation> {
        let mut translations = Vec::new();
        for child in &line.children {
            if self.statement_under(line, child, "`buttons`") {
                continue;
            }
            self.no_children(child, "a translation");
            let Some(parsed) = self.parse(LineKind::Labels, child, " under `buttons`") else {
                continue;
            };
            let cx = Cx { line: &parsed };
            let mut inner = parsed.pair.clone().into_inner();
            let Some(code) = inner.next().filter(|p| p.as_rule() == Rule::lang_code) else {
                continue;
            };
            if let Some(labels) = self.keep(cx.strings(inner)) {
                translations.push(LabelsTranslation {
                    language: cx.ident(&code),
                    labels,
                    span: child.span,
                });
            }
        }
        translations
    }

    /// Reports a statement (`say`, `go`…) indented under a line that takes only translations.
    fn statement_under(&mut self, line: &Line, child: &Line, what: &str) -> bool {
        let word = self.statement_word(child);
        if !LineKind::Statement.keywords().contains(&word) {
            return false;
        }
        self.report(
            Diagnostic::error(
                "botrun::unexpected_block",
                format!("only translations such as `es \"…\"` can be indented under {what}"),
            )
            .at(child.span, "indented under it")
            .also(line.span, "this line")
            .with_help("indent this line like the one above it, or remove it"),
        );
        true
    }
}
