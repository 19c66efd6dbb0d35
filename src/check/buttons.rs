//! Buttons that lead nowhere: a quick-reply button sends its label as the customer's message, so
//! a label that no phrase matches in the state where the customer presses it (and no `anytime`
//! intent) only ever gets `otherwise`. The bot is compiled and each label is stepped through the
//! engine itself from that state, so the warning cannot disagree with what the bot does.
//!
//! Where a button is pressed: the state a following `go` leads to; or the open question when an
//! `ask` follows (or the buttons are its prompt), checked for `@list` questions; or else the state
//! whose block offers the buttons. Buttons in hooks and `anytime` blocks with no `go` after them,
//! and buttons followed by `handoff` or `resolve`, are not checked (the state is not known).

use crate::diagnostic::Diagnostic;
use crate::engine::{button_reaches, Program, Reach};
use crate::syntax::ast::{AnswerType, Block, File, Item, StmtKind, StringLit};

/// Where the customer presses a button.
enum Place<'f> {
    State(&'f str),
    ListQuestion(&'f str),
    Unknown,
}

struct Offer<'f> {
    labels: &'f [StringLit],
    place: Place<'f>,
    /// The `when` handler that offers the buttons (index into the handler labels), if any.
    from: Option<usize>,
}

/// True when the file offers any button worth checking (so the bot is compiled only then).
pub(crate) fn offers_buttons(file: &File) -> bool {
    let mut found = false;
    super::visit::for_each_stmt(file, &mut |stmt, _| {
        found |= matches!(stmt.kind, StmtKind::Buttons { .. });
    });
    found
}

pub fn check(file: &File, program: &Program, out: &mut Vec<Diagnostic>) {
    let mut offers = Vec::new();
    // The labels of the `when` handlers that offer buttons (`state faq / when help`).
    let mut labels: Vec<String> = Vec::new();
    for item in &file.items {
        match item {
            Item::State(state) => {
                let home = Some(state.name.name.as_str());
                walk(&state.entry, &[], home, None, &mut offers);
                for (handler, label) in state.handlers.iter().zip(handler_labels(state)) {
                    walk(&handler.body, &[], home, Some(labels.len()), &mut offers);
                    labels.push(label);
                }
                if let Some(otherwise) = &state.otherwise {
                    walk(&otherwise.body, &[], home, None, &mut offers);
                    for rung in &otherwise.after_misses {
                        walk(&rung.body, &[], home, None, &mut offers);
                    }
                }
            }
            Item::On(hook) => walk(&hook.body, &[], None, None, &mut offers),
            Item::Anytime(anytime) => walk(&anytime.body, &[], None, None, &mut offers),
            _ => {}
        }
    }
    for offer in offers {
        let (state, list) = match offer.place {
            Place::State(name) => (Some(name), None),
            Place::ListQuestion(list) => (None, Some(list)),
            Place::Unknown => continue,
        };
        for label in offer.labels {
            let reach = button_reaches(program, state, list, &label.value);
            let from = offer.from.and_then(|i| labels.get(i));
            if let (Reach::Handler(handler), Some(from)) = (&reach, from) {
                if handler == from && matches!(offer.place, Place::State(_)) {
                    out.push(
                        Diagnostic::warning(
                            "botrun::button_leads_nowhere",
                            format!("the button \"{}\" only leads back here", label.value),
                        )
                        .at(label.span, format!("runs `{from}` again"))
                        .with_help(format!("pressing it sends \"{}\", which matches the intent of `{from}` itself, so the customer gets the same answer and the same buttons again: add a phrase for it to the intent it is meant for, or change the label", label.value)),
                    );
                }
                continue;
            }
            if reach != Reach::Nowhere {
                continue;
            }
            let (message, help) = match (state, list) {
                (Some(name), _) => (
                    format!("the button \"{}\" reaches nothing in state `{name}`", label.value),
                    format!("pressing it sends \"{}\", which no phrase of a `when` in `{name}` (or of an `anytime`) matches, so only `otherwise` answers: add a phrase for it to the intent it is meant for, or change the label", label.value),
                ),
                (None, Some(list)) => (
                    format!("the button \"{}\" is no answer to this question", label.value),
                    format!("pressing it sends \"{}\", which is no entry of `@{list}`: make the label an entry (or an `also` spelling of one)", label.value),
                ),
                (None, None) => continue,
            };
            out.push(
                Diagnostic::warning("botrun::button_leads_nowhere", message)
                    .at(label.span, "leads nowhere")
                    .with_help(help),
            );
        }
    }
}

/// Collects the buttons of `block` and where each is pressed. `rest` holds the statements that
/// run after this block (innermost first), `home` the state the block belongs to.
fn walk<'f>(
    block: &'f Block,
    rest: &[&'f [crate::syntax::ast::Stmt]],
    home: Option<&'f str>,
    from: Option<usize>,
    offers: &mut Vec<Offer<'f>>,
) {
    for (i, stmt) in block.iter().enumerate() {
        let after = &block[i + 1..];
        match &stmt.kind {
            // A translated button sends its default label, so the default labels are checked.
            StmtKind::Buttons { labels, .. } => {
                let mut following = vec![after];
                following.extend_from_slice(rest);
                offers.push(Offer { labels, place: place_after(&following, home), from });
            }
            StmtKind::Ask(ask) => {
                for prompt in &ask.prompt {
                    if let StmtKind::Buttons { labels, .. } = &prompt.kind {
                        offers.push(Offer { labels, place: question(&ask.ty), from });
                    }
                }
                if let Some(rung) = &ask.after_retries {
                    walk(&rung.body, &[], home, from, offers);
                }
            }
            StmtKind::If { branches, otherwise, .. } => {
                let mut inner = vec![after];
                inner.extend_from_slice(rest);
                for (_, body) in branches {
                    walk(body, &inner, home, from, offers);
                }
                if let Some(body) = otherwise {
                    walk(body, &inner, home, from, offers);
                }
            }
            StmtKind::Fetch(fetch) => {
                if let Some(body) = &fetch.on_error {
                    let mut inner = vec![after];
                    inner.extend_from_slice(rest);
                    walk(body, &inner, home, from, offers);
                }
            }
            _ => {}
        }
    }
}

fn question(ty: &AnswerType) -> Place<'_> {
    match ty {
        AnswerType::List(list) => Place::ListQuestion(&list.name),
        _ => Place::Unknown,
    }
}

/// Where the conversation waits after the buttons: the first `go` or `ask` that follows.
fn place_after<'f>(
    following: &[&'f [crate::syntax::ast::Stmt]],
    home: Option<&'f str>,
) -> Place<'f> {
    for slice in following {
        for stmt in *slice {
            match &stmt.kind {
                StmtKind::Go(target) => return Place::State(&target.name),
                StmtKind::Ask(ask) => return question(&ask.ty),
                StmtKind::Handoff { .. } | StmtKind::Resolve { .. } | StmtKind::If { .. } => {
                    return Place::Unknown
                }
                _ => {}
            }
        }
    }
    home.map_or(Place::Unknown, Place::State)
}

/// The labels the compiled bot gives a state's `when` handlers, in order.
fn handler_labels(state: &crate::syntax::ast::StateDecl) -> Vec<String> {
    state
        .handlers
        .iter()
        .map(|h| {
            let intents: Vec<&str> = h.intents.iter().map(|i| i.name.as_str()).collect();
            format!("state {} / when {}", state.name.name, intents.join(" or "))
        })
        .collect()
}
