//! The compiled program: everything `step` needs, resolved to indices, with the matching index
//! built once. Built by `check::compile` from a bundle that passed every check.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use chrono_tz::Tz;

use crate::syntax::ast::{Expr, Template, VarPath};

use super::hours::Calendar;
use super::matcher::Matcher;
use super::Method;

pub(crate) type BlockId = u16;
pub(crate) type StateId = u16;
pub(crate) type IntentId = u16;
pub(crate) type ListId = u16;

/// One compiled statement. Values and conditions keep their syntax-tree form; names are indices.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Say(Template),
    SayOneOf(Vec<(Template, u32)>),
    /// Default labels, and the labels per other language.
    Buttons(Vec<String>, Vec<(String, Vec<String>)>),
    Ask(Box<AskOp>),
    Set(VarPath, Expr),
    If(Vec<(Expr, BlockId)>, Option<BlockId>),
    Go(StateId),
    Handoff(Option<Template>),
    Resolve(Option<Template>),
    Fetch(Box<FetchOp>),
}

/// What kind of answer a question accepts.
#[derive(Clone, Debug)]
pub(crate) enum AnswerKind {
    Text,
    Word,
    Digits,
    Number,
    Email,
    Phone,
    Date,
    Time,
    DateTime,
    YesNo,
    List(ListId),
    Pattern(regex::Regex),
}

#[derive(Clone, Debug)]
pub(crate) struct AskOp {
    pub var: String,
    pub kind: AnswerKind,
    pub prompt: BlockId,
    pub retries: Vec<Template>,
    pub after_retries: Option<(u32, BlockId)>,
    /// Seconds after asking, and the block to run.
    pub timeouts: Vec<(u64, BlockId)>,
}

#[derive(Clone, Debug)]
pub(crate) struct FetchOp {
    pub method: Method,
    pub url: Template,
    pub into: String,
    pub headers: Vec<(String, Template)>,
    pub body: Option<Template>,
    pub timeout_ms: u64,
    pub on_error: Option<BlockId>,
}

/// A handler: the intents that trigger it and its block.
#[derive(Clone, Debug)]
pub(crate) struct Handler {
    pub intents: Vec<IntentId>,
    pub body: BlockId,
    /// What `botrun why` and coverage call it, e.g. `state menu / when track`.
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct Otherwise {
    pub body: BlockId,
    pub after_misses: Vec<(u32, BlockId)>,
}

#[derive(Clone, Debug)]
pub(crate) struct StateDef {
    pub name: String,
    pub entry: BlockId,
    pub handlers: Vec<Handler>,
    /// Which handler (index into `handlers`) takes each intent: the first that names it.
    pub handler_for: HashMap<IntentId, usize>,
    pub otherwise: Option<Otherwise>,
}

#[derive(Clone, Debug)]
pub(crate) struct ListDef {
    pub name: String,
    /// Entries as written, and their normalised words.
    pub entries: Vec<(String, Vec<String>)>,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Hooks {
    pub start: Option<BlockId>,
    pub handoff: Option<BlockId>,
    pub returned: Option<BlockId>,
    pub resolve: Option<BlockId>,
    /// `on attachment`: a file arrived without text.
    pub attachment: Option<BlockId>,
}

/// A compiled bot: immutable, shareable between threads.
#[derive(Clone, Debug)]
pub struct Program {
    pub(crate) name: String,
    pub(crate) timezone: Tz,
    /// `languages en, es`: the default first; empty for a single-language bot.
    pub(crate) languages: Vec<String>,
    pub(crate) typos: bool,
    pub(crate) accents_ignored: bool,
    /// How typed dates such as `3/12/26` are read.
    pub(crate) date_order: super::dates::DateOrder,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) intents: Vec<String>,
    /// Capture names each intent's phrases declare: cleared when the intent matches, so a
    /// capture never leaks from an earlier message.
    pub(crate) intent_captures: Vec<Vec<String>>,
    pub(crate) lists: Vec<ListDef>,
    pub(crate) calendars: Vec<Calendar>,
    pub(crate) calendar_index: HashMap<String, usize>,
    pub(crate) states: Vec<StateDef>,
    pub(crate) state_index: HashMap<String, StateId>,
    pub(crate) hooks: Hooks,
    pub(crate) anytime: Vec<Handler>,
    /// Which `anytime` handler takes each intent.
    pub(crate) anytime_for: HashMap<IntentId, usize>,
    pub(crate) idle: Vec<(u64, BlockId)>,
    pub(crate) blocks: Vec<Vec<Op>>,
    pub(crate) matcher: Matcher,
    /// Identifies this exact program: suspended positions saved under another one are dropped.
    pub(crate) fingerprint: u32,
}

impl Program {
    /// The name from `bot "…"`.
    pub(crate) fn bot_name(&self) -> &str {
        &self.name
    }

    /// Binds the operator's `env.*` values.
    #[must_use]
    pub fn with_env(mut self, env: BTreeMap<String, String>) -> Program {
        self.env = env;
        self
    }

    pub(crate) fn state_names(&self) -> impl Iterator<Item = &str> {
        self.states.iter().map(|s| s.name.as_str())
    }

    pub(crate) fn intent_names(&self) -> impl Iterator<Item = &str> {
        self.intents.iter().map(String::as_str)
    }

    /// Every handler label (hooks, `anytime`, `when`, `otherwise`), for coverage reports.
    pub(crate) fn handler_labels(&self) -> Vec<String> {
        let mut labels = Vec::new();
        for (hook, present) in [
            ("on start", self.hooks.start),
            ("on handoff", self.hooks.handoff),
            ("on return", self.hooks.returned),
            ("on resolve", self.hooks.resolve),
        ] {
            if present.is_some() {
                labels.push(hook.to_string());
            }
        }
        labels.extend(self.anytime.iter().map(|h| h.label.clone()));
        for state in &self.states {
            labels.extend(state.handlers.iter().map(|h| h.label.clone()));
            if state.otherwise.is_some() {
                labels.push(format!("state {} / otherwise", state.name));
            }
        }
        labels
    }

    /// The handler a state (or, failing that, `anytime`) has for an intent, and whether it is
    /// the state's own.
    pub(crate) fn state_id(&self, name: &str) -> Option<StateId> {
        self.state_index.get(name).copied()
    }

    pub(crate) fn handler_for(
        &self,
        state: Option<StateId>,
        intent: IntentId,
    ) -> Option<(&Handler, bool)> {
        let own = state
            .and_then(|id| self.states.get(usize::from(id)))
            .and_then(|s| s.handler_for.get(&intent).and_then(|i| s.handlers.get(*i)));
        match own {
            Some(h) => Some((h, true)),
            None => {
                self.anytime_for.get(&intent).and_then(|i| self.anytime.get(*i)).map(|h| (h, false))
            }
        }
    }

    pub(crate) fn block(&self, id: BlockId) -> &[Op] {
        self.blocks.get(usize::from(id)).map_or(&[], Vec::as_slice)
    }
}
