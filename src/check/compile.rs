//! `compile`: turns a bundle that passed every check into an `engine::Program` — names become
//! indices, blocks become numbered op lists, phrases become the matching index. Never panics on
//! an unchecked tree: anything unresolved is reported as a diagnostic.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use crate::diagnostic::Diagnostic;
use crate::engine::dates::DateOrder;
use crate::engine::hours::Calendar;
use crate::engine::matcher::{answer_kind, BuildContext, Matcher, ENGLISH_SMALL_WORDS};
use crate::engine::program::{
    AnswerKind, AskOp, BlockId, FetchOp, Handler, Hooks, IntentId, ListDef, ListId, Op, Otherwise,
    Program, StateDef, StateId,
};
use crate::engine::{normalise_text, Method};
use crate::syntax::ast::{
    AnswerType, Block, BotSetting, DaySpec, FetchMethod, File, HookKind, HoursDecl, HoursRule,
    Ident, Item, StmtKind,
};

/// Default `fetch` timeout when the script names none.
pub(crate) const DEFAULT_FETCH_TIMEOUT_MS: u64 = 10_000;

/// Compiles a checked bundle's merged file.
pub fn compile(file: &File) -> Result<Program, Vec<Diagnostic>> {
    let mut c = Compiler::default();
    c.declare(file);
    let program = c.build(file);
    if c.errors.is_empty() {
        Ok(program)
    } else {
        Err(c.errors)
    }
}

#[derive(Default)]
struct Compiler {
    states: HashMap<String, StateId>,
    intents: HashMap<String, IntentId>,
    lists: HashMap<String, ListId>,
    list_defs: Vec<ListDef>,
    blocks: Vec<Vec<Op>>,
    errors: Vec<Diagnostic>,
    fold: bool,
}

impl Compiler {
    fn declare(&mut self, file: &File) {
        self.fold = file.items.iter().any(|i| matches!(i, Item::Bot(b) if b.settings.iter().any(|s| matches!(s, BotSetting::AccentsIgnored(_)))));
        for item in &file.items {
            match item {
                Item::State(s) => {
                    let id = StateId::try_from(self.states.len()).unwrap_or(StateId::MAX);
                    self.states.entry(s.name.name.clone()).or_insert(id);
                }
                Item::Intent(i) => {
                    let id = IntentId::try_from(self.intents.len()).unwrap_or(IntentId::MAX);
                    self.intents.entry(i.name.name.clone()).or_insert(id);
                }
                Item::List(l) => {
                    if self.lists.contains_key(&l.name.name) {
                        continue;
                    }
                    let id = ListId::try_from(self.list_defs.len()).unwrap_or(ListId::MAX);
                    self.lists.insert(l.name.name.clone(), id);
                    // Each spelling is a row storing the entry's value, so a synonym is
                    // matched like the entry and stores the entry as written.
                    let words = |text: &str| -> Vec<String> {
                        normalise_text(text, self.fold)
                            .split(' ')
                            .filter(|w| !w.is_empty())
                            .map(str::to_string)
                            .collect()
                    };
                    let entries = l
                        .entries
                        .iter()
                        .flat_map(|e| {
                            std::iter::once(&e.value)
                                .chain(&e.also)
                                .map(|spelling| (e.value.value.clone(), words(&spelling.value)))
                        })
                        .collect();
                    self.list_defs.push(ListDef { name: l.name.name.clone(), entries });
                }
                _ => {}
            }
        }
    }

    fn unresolved(&mut self, name: &Ident, kind: &str) {
        self.errors.push(
            Diagnostic::error(
                "botrun::internal",
                format!("cannot compile: unknown {kind} `{}`", name.name),
            )
            .at(name.span, "not resolved")
            .with_help("run `botrun validate` on this bot; this should have been reported there"),
        );
    }

    fn intent_ids(&mut self, names: &[Ident]) -> Vec<IntentId> {
        let mut ids = Vec::new();
        for name in names {
            match self.intents.get(&name.name) {
                Some(id) => ids.push(*id),
                None => self.unresolved(name, "intent"),
            }
        }
        ids
    }

    fn build(&mut self, file: &File) -> Program {
        let mut name = String::from("bot");
        let mut timezone = chrono_tz::UTC;
        let mut typos = false;
        let mut small_words: Option<Vec<String>> = None;
        let mut date_order = None;
        let mut idle = Vec::new();
        let mut hooks = Hooks::default();
        let mut anytime = Vec::new();
        let mut calendars = Vec::new();
        let mut state_defs: BTreeMap<StateId, StateDef> = BTreeMap::new();
        for item in &file.items {
            if let Item::Bot(bot) = item {
                name.clone_from(&bot.name.value);
                for setting in &bot.settings {
                    match setting {
                        BotSetting::Timezone(tz) => {
                            timezone = tz.value.parse().unwrap_or(chrono_tz::UTC)
                        }
                        BotSetting::TyposTolerated(_) => typos = true,
                        BotSetting::DateOrder { month_first, .. } => {
                            date_order = Some(if *month_first {
                                DateOrder::MonthFirst
                            } else {
                                DateOrder::DayFirst
                            });
                        }
                        BotSetting::Idle(rung) => {
                            let block = self.block(&rung.body);
                            idle.push((rung.after.seconds, block));
                        }
                        BotSetting::SmallWords { words, .. } => {
                            small_words = Some(
                                words.iter().map(|w| normalise_text(&w.value, self.fold)).collect(),
                            );
                        }
                        BotSetting::AccentsIgnored(_)
                        | BotSetting::ButtonLimit { .. }
                        | BotSetting::Languages { .. } => {}
                    }
                }
            }
        }
        for item in &file.items {
            match item {
                Item::Hours(hours) => calendars.push(calendar(hours, timezone)),
                Item::On(hook) => {
                    let block = Some(self.block(&hook.body));
                    match hook.hook {
                        HookKind::Start => hooks.start = hooks.start.or(block),
                        HookKind::Handoff => hooks.handoff = hooks.handoff.or(block),
                        HookKind::Return => hooks.returned = hooks.returned.or(block),
                        HookKind::Resolve => hooks.resolve = hooks.resolve.or(block),
                        HookKind::Attachment => hooks.attachment = hooks.attachment.or(block),
                    }
                }
                Item::Anytime(a) => {
                    let intents = self.intent_ids(&a.intents);
                    let body = self.block(&a.body);
                    let label = format!(
                        "anytime {}",
                        a.intents.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(" or ")
                    );
                    anytime.push(Handler { intents, body, label });
                }
                Item::State(s) => {
                    let Some(id) = self.states.get(&s.name.name).copied() else { continue };
                    if state_defs.contains_key(&id) {
                        continue;
                    }
                    let entry = self.block(&s.entry);
                    let mut handlers = Vec::new();
                    for h in &s.handlers {
                        let intents = self.intent_ids(&h.intents);
                        let body = self.block(&h.body);
                        let label = format!(
                            "state {} / when {}",
                            s.name.name,
                            h.intents
                                .iter()
                                .map(|i| i.name.as_str())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        );
                        handlers.push(Handler { intents, body, label });
                    }
                    let otherwise = s.otherwise.as_ref().map(|o| Otherwise {
                        body: self.block(&o.body),
                        after_misses: o
                            .after_misses
                            .iter()
                            .map(|r| (r.count, self.block(&r.body)))
                            .collect(),
                    });
                    let handler_for = index_handlers(&handlers);
                    let name = s.name.name.clone();
                    state_defs
                        .insert(id, StateDef { name, entry, handlers, handler_for, otherwise });
                }
                _ => {}
            }
        }
        let mut intent_names = vec![String::new(); self.intents.len()];
        for (n, id) in &self.intents {
            if let Some(slot) = intent_names.get_mut(usize::from(*id)) {
                slot.clone_from(n);
            }
        }
        let mut intent_captures = vec![Vec::new(); intent_names.len()];
        for item in &file.items {
            if let Item::Intent(d) = item {
                if let Some(slot) = self
                    .intents
                    .get(&d.name.name)
                    .and_then(|id| intent_captures.get_mut(usize::from(*id)))
                {
                    for phrase in &d.phrases {
                        capture_names(phrase, slot);
                    }
                }
            }
        }
        let phrase_sets: Vec<(IntentId, &[crate::syntax::ast::Phrase])> = file
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Intent(d) => {
                    self.intents.get(&d.name.name).map(|id| (*id, d.phrases.as_slice()))
                }
                _ => None,
            })
            .collect();
        let matcher = Matcher::build(
            phrase_sets.into_iter(),
            &BuildContext {
                lists: &self.lists,
                list_defs: &self.list_defs,
                typos,
                fold: self.fold,
                small_words: &small_words.as_ref().map_or_else(
                    || ENGLISH_SMALL_WORDS.to_vec(),
                    |w| w.iter().map(String::as_str).collect::<Vec<_>>(),
                ),
            },
        );
        let calendar_index = calendars
            .iter()
            .enumerate()
            .map(|(i, c): (usize, &Calendar)| (c.name.clone(), i))
            .collect();
        let blocks = std::mem::take(&mut self.blocks);
        let fingerprint = fingerprint(&blocks);
        Program {
            fingerprint,
            name,
            timezone,
            languages: super::languages::declared(file).iter().map(|c| c.name.clone()).collect(),
            typos,
            accents_ignored: self.fold,
            date_order: date_order.unwrap_or_else(|| DateOrder::for_timezone(timezone.name())),
            env: BTreeMap::new(),
            intents: intent_names,
            intent_captures,
            lists: std::mem::take(&mut self.list_defs),
            calendars,
            calendar_index,
            states: state_defs.into_values().collect(),
            state_index: std::mem::take(&mut self.states),
            hooks,
            anytime_for: index_handlers(&anytime),
            anytime,
            idle,
            blocks,
            matcher,
        }
    }

    /// Compiles a block (children first) and returns its id.
    fn block(&mut self, block: &Block) -> BlockId {
        let id = BlockId::try_from(self.blocks.len()).unwrap_or(BlockId::MAX);
        self.blocks.push(Vec::new());
        let mut ops = Vec::with_capacity(block.len());
        for stmt in block {
            let op = match &stmt.kind {
                StmtKind::Say(t) => Op::Say(t.clone()),
                StmtKind::SayOneOf(choices) => Op::SayOneOf(
                    choices.iter().map(|c| (c.text.clone(), c.weight.unwrap_or(1))).collect(),
                ),
                StmtKind::Buttons { labels, translations } => Op::Buttons(
                    labels.iter().map(|l| l.value.clone()).collect(),
                    translations
                        .iter()
                        .map(|t| {
                            let labels = t.labels.iter().map(|l| l.value.clone()).collect();
                            (t.language.name.clone(), labels)
                        })
                        .collect(),
                ),
                StmtKind::Ask(ask) => {
                    let kind = match &ask.ty {
                        AnswerType::Named(n) => answer_kind(&n.name).unwrap_or(AnswerKind::Text),
                        AnswerType::List(l) => match self.lists.get(&l.name) {
                            Some(id) => AnswerKind::List(*id),
                            None => {
                                self.unresolved(l, "list");
                                AnswerKind::Text
                            }
                        },
                        AnswerType::Regex(r) => match super::build_regex(r) {
                            Ok(regex) => AnswerKind::Pattern(regex),
                            Err(_) => AnswerKind::Text,
                        },
                    };
                    let prompt = self.block(&ask.prompt);
                    let after_retries =
                        ask.after_retries.as_ref().map(|r| (r.count, self.block(&r.body)));
                    let timeouts = ask
                        .timeouts
                        .iter()
                        .map(|r| (r.after.seconds, self.block(&r.body)))
                        .collect();
                    Op::Ask(Box::new(AskOp {
                        var: ask.var.name.clone(),
                        kind,
                        prompt,
                        retries: ask.retries.clone(),
                        after_retries,
                        timeouts,
                    }))
                }
                StmtKind::Set { var, value } => Op::Set(var.clone(), value.clone()),
                StmtKind::If { branches, otherwise, .. } => {
                    let compiled =
                        branches.iter().map(|(c, b)| (c.clone(), self.block(b))).collect();
                    let otherwise = otherwise.as_ref().map(|b| self.block(b));
                    Op::If(compiled, otherwise)
                }
                StmtKind::Go(target) => match self.states.get(&target.name) {
                    Some(id) => Op::Go(*id),
                    None => {
                        self.unresolved(target, "state");
                        continue;
                    }
                },
                StmtKind::Handoff { note } => Op::Handoff(note.clone()),
                StmtKind::Resolve { farewell } => Op::Resolve(farewell.clone()),
                StmtKind::Fetch(fetch) => {
                    let on_error = fetch.on_error.as_ref().map(|b| self.block(b));
                    Op::Fetch(Box::new(FetchOp {
                        method: match fetch.method {
                            FetchMethod::Get => Method::Get,
                            FetchMethod::Post => Method::Post,
                            FetchMethod::Put => Method::Put,
                            FetchMethod::Patch => Method::Patch,
                            FetchMethod::Delete => Method::Delete,
                        },
                        url: fetch.url.clone(),
                        into: fetch.into.name.clone(),
                        headers: fetch
                            .headers
                            .iter()
                            .map(|(k, v)| (k.value.clone(), v.clone()))
                            .collect(),
                        body: fetch.body.clone(),
                        timeout_ms: fetch
                            .timeout
                            .as_ref()
                            .map_or(DEFAULT_FETCH_TIMEOUT_MS, |d| d.seconds.saturating_mul(1000)),
                        on_error,
                    }))
                }
            };
            ops.push(op);
        }
        if let Some(slot) = self.blocks.get_mut(usize::from(id)) {
            *slot = ops;
        }
        id
    }
}

fn calendar(hours: &HoursDecl, bot_timezone: chrono_tz::Tz) -> Calendar {
    let timezone =
        hours.timezone.as_ref().and_then(|t| t.value.parse().ok()).unwrap_or(bot_timezone);
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    let mut closed = BTreeSet::new();
    for rule in &hours.rules {
        match rule {
            HoursRule::Weekly { days, ranges, .. } => {
                let mut indices = Vec::new();
                for day in days {
                    match day {
                        DaySpec::Single(d, _) => indices.push(*d as usize),
                        DaySpec::Range(a, b, _) => indices.extend(*a as usize..=*b as usize),
                    }
                }
                for i in indices {
                    for r in ranges {
                        let start = u16::from(r.start.hour) * 60 + u16::from(r.start.minute);
                        let end = u16::from(r.end.hour) * 60 + u16::from(r.end.minute);
                        if let Some(day) = week.get_mut(i) {
                            day.push((start, end));
                        }
                    }
                }
            }
            HoursRule::Closed { dates, .. } => {
                closed.extend(
                    dates
                        .iter()
                        .filter_map(|d| chrono::NaiveDate::from_ymd_opt(d.year, d.month, d.day)),
                );
            }
        }
    }
    Calendar { name: hours.name.name.clone(), timezone, week, closed }
}

fn capture_names(phrase: &crate::syntax::ast::Phrase, out: &mut Vec<String>) {
    use crate::syntax::ast::{PhraseKind, PhrasePart, PhrasePartKind};
    fn walk(parts: &[PhrasePart], out: &mut Vec<String>) {
        for part in parts {
            match &part.kind {
                PhrasePartKind::Capture { name, .. } if !out.contains(&name.name) => {
                    out.push(name.name.clone())
                }
                PhrasePartKind::Optional(inner) => walk(inner, out),
                PhrasePartKind::Alternatives(alts) => alts.iter().for_each(|a| walk(a, out)),
                _ => {}
            }
        }
    }
    match &phrase.kind {
        PhraseKind::Pattern(parts) => walk(parts, out),
        PhraseKind::Regex(regex) => {
            if let Ok(compiled) = super::build_regex(regex) {
                for name in compiled.capture_names().flatten() {
                    if !out.iter().any(|n| n == name) {
                        out.push(name.to_string());
                    }
                }
            }
        }
    }
}

/// Intent → the first handler that names it.
fn index_handlers(handlers: &[Handler]) -> HashMap<IntentId, usize> {
    let mut index = HashMap::default();
    for (i, handler) in handlers.iter().enumerate() {
        for intent in &handler.intents {
            index.entry(*intent).or_insert(i);
        }
    }
    index
}

/// A hash of the compiled blocks: changes whenever the statements (or their places) change.
fn fingerprint(blocks: &[Vec<Op>]) -> u32 {
    use std::hash::{Hash as _, Hasher as _};
    let mut hasher = rustc_hash::FxHasher::default();
    format!("{blocks:?}").hash(&mut hasher);
    // Never 0: 0 means "no program recorded" in a state.
    u32::try_from(hasher.finish() & 0x7fff_ffff).unwrap_or(1).max(1)
}
