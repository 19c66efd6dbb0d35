//! Every name a bundle declares or uses — states, intents, lists, calendars, variables — with its
//! span and whether it is a definition, so go-to-definition, references, rename and hover all read
//! one table instead of re-walking the tree.

use crate::check::visit::{exprs, for_each_stmt, templates, Owner};
use crate::source::Span;
use crate::syntax::ast::{
    AnswerType, CaptureType, ExprKind, File, Ident, Item, PhraseKind, PhrasePart, PhrasePartKind,
    StmtKind, TemplatePart, TemplateValue, VarPath,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum NameKind {
    State,
    Intent,
    List,
    Calendar,
    Variable,
}

impl NameKind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            NameKind::State => "state",
            NameKind::Intent => "intent",
            NameKind::List => "list",
            NameKind::Calendar => "calendar",
            NameKind::Variable => "variable",
        }
    }
}

/// What gives a variable its value, for hover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Ask(String),
    Set,
    Fetch,
    Capture(String),
}

/// One place a name is written.
#[derive(Clone, Debug)]
pub(crate) struct Occurrence {
    pub kind: NameKind,
    pub name: String,
    pub span: Span,
    /// A declaration (`state x`, `intent x`…) or, for variables, a place that sets it.
    pub definition: bool,
    pub origin: Option<Origin>,
    /// The state the occurrence is in, if any.
    pub state: Option<String>,
}

/// All occurrences of a bundle, in tree order.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    pub occurrences: Vec<Occurrence>,
}

impl NameIndex {
    pub(crate) fn build(file: &File) -> NameIndex {
        let mut index = NameIndex::default();
        for item in &file.items {
            match item {
                Item::State(state) => {
                    index.ident(NameKind::State, &state.name, true, None);
                    for handler in &state.handlers {
                        for intent in &handler.intents {
                            index.ident(NameKind::Intent, intent, false, Some(&state.name.name));
                        }
                    }
                }
                Item::Intent(intent) => {
                    index.ident(NameKind::Intent, &intent.name, true, None);
                    for phrase in &intent.phrases {
                        if let PhraseKind::Pattern(parts) = &phrase.kind {
                            index.phrase_parts(parts, &intent.name.name);
                        }
                    }
                }
                Item::List(list) => index.ident(NameKind::List, &list.name, true, None),
                Item::Hours(hours) => index.ident(NameKind::Calendar, &hours.name, true, None),
                Item::Anytime(anytime) => {
                    for intent in &anytime.intents {
                        index.ident(NameKind::Intent, intent, false, None);
                    }
                }
                _ => {}
            }
        }
        for_each_stmt(file, &mut |stmt, owner| {
            let state = match owner {
                Owner::State(name) => Some(name),
                Owner::Global => None,
            };
            match &stmt.kind {
                StmtKind::Go(target) => index.ident(NameKind::State, target, false, state),
                StmtKind::Ask(ask) => {
                    let ty = match &ask.ty {
                        AnswerType::Named(name) => name.name.clone(),
                        AnswerType::List(list) => {
                            index.ident(NameKind::List, list, false, state);
                            format!("@{}", list.name)
                        }
                        AnswerType::Regex(regex) => format!("/{}/", regex.pattern),
                    };
                    index.push(NameKind::Variable, &ask.var.name, ask.var.span, true, state);
                    index.set_origin(Origin::Ask(ty));
                }
                StmtKind::Set { var, .. } => {
                    index.push(NameKind::Variable, var.root(), root_span(var), true, state);
                    index.set_origin(Origin::Set);
                }
                StmtKind::Fetch(fetch) => {
                    index.push(NameKind::Variable, &fetch.into.name, fetch.into.span, true, state);
                    index.set_origin(Origin::Fetch);
                }
                _ => {}
            }
            for template in templates(stmt) {
                for part in &template.parts {
                    let TemplatePart::Value { value, .. } = part else { continue };
                    match value {
                        TemplateValue::Var(path) => index.variable_use(path, state),
                        TemplateValue::Call { args, .. } => {
                            for arg in args {
                                index.ident(NameKind::Calendar, arg, false, state);
                            }
                        }
                    }
                }
            }
            for expr in exprs(stmt) {
                match &expr.kind {
                    ExprKind::Var(path) => index.variable_use(path, state),
                    ExprKind::InList { list, .. } => {
                        index.ident(NameKind::List, list, false, state)
                    }
                    ExprKind::Open { calendar, .. } => {
                        index.ident(NameKind::Calendar, calendar, false, state);
                    }
                    _ => {}
                }
            }
        });
        index
    }

    fn ident(&mut self, kind: NameKind, ident: &Ident, definition: bool, state: Option<&str>) {
        self.push(kind, &ident.name, ident.span, definition, state);
    }

    fn push(
        &mut self,
        kind: NameKind,
        name: &str,
        span: Span,
        definition: bool,
        state: Option<&str>,
    ) {
        self.occurrences.push(Occurrence {
            kind,
            name: name.to_string(),
            span,
            definition,
            origin: None,
            state: state.map(str::to_string),
        });
    }

    fn set_origin(&mut self, origin: Origin) {
        if let Some(last) = self.occurrences.last_mut() {
            last.origin = Some(origin);
        }
    }

    fn variable_use(&mut self, path: &VarPath, state: Option<&str>) {
        self.push(NameKind::Variable, path.root(), root_span(path), false, state);
    }

    fn phrase_parts(&mut self, parts: &[PhrasePart], intent: &str) {
        for part in parts {
            match &part.kind {
                PhrasePartKind::ListRef(list) => self.ident(NameKind::List, list, false, None),
                PhrasePartKind::Capture { name, ty } => {
                    let ty_text = match ty {
                        CaptureType::Named(t) => t.name.clone(),
                        CaptureType::List(list) => {
                            self.ident(NameKind::List, list, false, None);
                            format!("@{}", list.name)
                        }
                        CaptureType::Default => "text".to_string(),
                    };
                    self.ident(NameKind::Variable, name, true, None);
                    self.set_origin(Origin::Capture(format!("{intent} ({ty_text})")));
                }
                PhrasePartKind::Optional(inner) => self.phrase_parts(inner, intent),
                PhrasePartKind::Alternatives(alternatives) => {
                    for alternative in alternatives {
                        self.phrase_parts(alternative, intent);
                    }
                }
                _ => {}
            }
        }
    }

    /// The occurrence whose span contains `offset` in `file` (the innermost when nested).
    pub(crate) fn at(&self, file: crate::source::FileId, offset: usize) -> Option<&Occurrence> {
        self.occurrences
            .iter()
            .filter(|o| o.span.file == file && o.span.start <= offset && offset <= o.span.end)
            .min_by_key(|o| o.span.len())
    }

    /// Every occurrence of the same name and kind.
    pub(crate) fn all<'a>(
        &'a self,
        kind: NameKind,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Occurrence> {
        self.occurrences.iter().filter(move |o| o.kind == kind && o.name == name)
    }

    /// Declared names of one kind, in order, without repeats.
    pub(crate) fn declared(&self, kind: NameKind) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for o in self.occurrences.iter().filter(|o| o.kind == kind && o.definition) {
            if !names.contains(&o.name.as_str()) {
                names.push(&o.name);
            }
        }
        names
    }
}

/// The span of the first segment of `order.status`.
fn root_span(path: &VarPath) -> Span {
    let end = (path.span.start + path.root().len()).min(path.span.end);
    Span { end, ..path.span }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, SourceFile};

    #[test]
    fn names_are_found_where_they_are_written() {
        let text = "list size\n  \"s\"\n\nintent order\n  \"order {n:digits} in @size\"\n\non start\n  go menu\n\nstate menu\n  when order\n    set total to n\n    say \"{total} {order.id}\"\n    go menu\n";
        let source = SourceFile::new(FileId(0), "t.bot", text);
        let file = crate::syntax::parse(&source).expect("parses");
        let index = NameIndex::build(&file);
        let spans = |kind, name| -> Vec<(&str, bool)> {
            index.all(kind, name).map(|o| (&text[o.span.start..o.span.end], o.definition)).collect()
        };
        assert_eq!(
            spans(NameKind::State, "menu"),
            vec![("menu", true), ("menu", false), ("menu", false)]
        );
        assert_eq!(spans(NameKind::Intent, "order"), vec![("order", true), ("order", false)]);
        assert_eq!(spans(NameKind::List, "size"), vec![("size", true), ("size", false)]);
        assert_eq!(spans(NameKind::Variable, "n"), vec![("n", true), ("n", false)]);
        assert_eq!(spans(NameKind::Variable, "total"), vec![("total", true), ("total", false)]);
        let go = text.find("go menu\n\nstate").expect("go") + 4;
        assert_eq!(index.at(FileId(0), go).map(|o| o.kind), Some(NameKind::State));
    }
}
