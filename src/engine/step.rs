//! `step`: one event in, the new state and the actions out. The run walks compiled blocks with a
//! stack of frames; `ask` and `fetch` suspend it, and the frames are kept in the state so the next
//! event resumes exactly where the script stopped.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::decide::{ask_op, decide, Decided, Decision};
use super::event::{Action, Button, Event, FetchRequest, FetchResult, TimerId};
use super::matcher::Candidate;
use super::program::{AskOp, BlockId, Op, Program};
use super::state::{Frame, Mode, State, TimerKind, Waiting};
use super::value::{truthy, Scope};

/// Statements one turn may run before the engine stops the script.
pub(crate) const MAX_STATEMENTS_PER_TURN: usize = 1_000;
/// `go`s one turn may take before the engine stops the script.
pub(crate) const MAX_GOS_PER_TURN: usize = 50;

/// What happened inside one step, for coverage, `botrun chat`'s `/why` and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The intent that matched the customer's message, if any.
    pub intent: Option<String>,
    /// Handlers that ran, e.g. `on start`, `state menu / when track`, `anytime human`.
    pub handlers: Vec<String>,
    /// States entered by `go`, in order.
    pub states: Vec<String>,
    /// Plain-language notes: "answer to `number` accepted", "stale timer ignored"…
    pub notes: Vec<String>,
    /// What the engine decided about the customer's message, and from which candidates:
    /// `botrun why` shows exactly this.
    pub decided: Option<Decided>,
}

/// Runs one event through the bot.
pub fn step(
    program: &Program,
    state: &State,
    event: Event,
    now: DateTime<Utc>,
) -> (State, Vec<Action>) {
    let (state, actions, _) = step_traced(program, state, event, now);
    (state, actions)
}

/// Like [`step`], and also says what ran.
pub fn step_traced(
    program: &Program,
    state: &State,
    event: Event,
    now: DateTime<Utc>,
) -> (State, Vec<Action>, Trace) {
    let mut run = Run::new(program, state, now);
    let customer_activity = matches!(
        event,
        Event::Started { .. }
            | Event::Text { .. }
            | Event::Button { .. }
            | Event::Attachment { .. }
            | Event::HandedBack
            | Event::Reopened
    );
    run.reconcile();
    run.handle(event);
    run.st.program = program.fingerprint;
    if customer_activity {
        run.schedule_idle();
    }
    (run.st, run.actions, run.trace)
}

/// Moves the conversation into `state_name` and runs the state's own lines, as `go` would (for
/// tests that start mid-dialog: the state's question is asked). `None` when there is no such
/// state.
pub(crate) fn enter_traced(
    program: &Program,
    state: &State,
    state_name: &str,
    now: DateTime<Utc>,
) -> Option<(State, Vec<Action>, Trace)> {
    let target = program.state_id(state_name)?;
    let mut run = Run::new(program, state, now);
    run.st.mode = Mode::WithBot;
    run.st.began = true;
    let def = program.states.get(usize::from(target))?;
    run.st.position = Some(def.name.clone());
    run.st.frames.clear();
    run.st.frames.push(Frame { block: def.entry, index: 0 });
    run.trace.states.push(def.name.clone());
    run.run_frames();
    run.st.program = program.fingerprint;
    Some((run.st, run.actions, run.trace))
}

struct Run<'p> {
    program: &'p Program,
    st: State,
    actions: Vec<Action>,
    trace: Trace,
    now: DateTime<Utc>,
    statements: usize,
    gos: usize,
    /// Set when control moved elsewhere (`go`, `ask`, `handoff`, `resolve`, `fetch`).
    moved: bool,
    /// Set when the turn must end (handoff, resolve, step limit).
    stopped: bool,
    in_hook: bool,
}

impl<'p> Run<'p> {
    /// A turn that starts from `state` at `now`, with nothing done yet.
    fn new(program: &'p Program, state: &State, now: DateTime<Utc>) -> Run<'p> {
        Run {
            program,
            st: state.clone(),
            actions: Vec::new(),
            trace: Trace::default(),
            now,
            statements: 0,
            gos: 0,
            moved: false,
            stopped: false,
            in_hook: false,
        }
    }
}

enum Flow {
    Continue,
    Suspend,
}

impl Run<'_> {
    fn position_id(&self) -> Option<super::program::StateId> {
        self.st.position.as_deref().and_then(|name| self.program.state_id(name))
    }

    /// A state saved by another version of the bot (after a hot reload): a suspended script
    /// position would now point at different statements, so it is dropped; a current state that
    /// no longer exists is forgotten.
    fn reconcile(&mut self) {
        let suspended = !self.st.frames.is_empty() || self.st.waiting != Waiting::Nothing;
        if suspended && self.st.program != self.program.fingerprint {
            self.st.frames.clear();
            self.st.waiting = Waiting::Nothing;
            self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
            self.trace.notes.push(
                "the bot changed while this conversation waited: its open question was dropped"
                    .into(),
            );
        }
        if self.st.position.is_some() && self.position_id().is_none() {
            let gone = self.st.position.take().unwrap_or_default();
            self.trace.notes.push(format!("state `{gone}` no longer exists in this bot"));
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Started { contact } => {
                self.cancel_timers(|_| true);
                let rng = self.st.rng;
                self.st = State {
                    rng,
                    contact,
                    began: true,
                    mode: Mode::WithBot,
                    next_id: self.st.next_id,
                    ..State::default()
                };
                self.run_main(self.program.hooks.start, "on start");
            }
            Event::Text { text } => self.customer(&text, false),
            Event::Button { value } => self.customer(&value, true),
            Event::Attachment { kind, url } => self.attachment(&kind, &url),
            Event::TimerDue { timer } => self.timer(timer),
            Event::HandedBack | Event::Reopened => {
                if self.st.mode == Mode::WithBot {
                    self.trace.notes.push("already with the bot".into());
                    return;
                }
                self.st.mode = Mode::WithBot;
                self.st.began = true;
                self.st.misses = 0;
                self.run_main(self.program.hooks.returned, "on return");
            }
            Event::ResolvedElsewhere => {
                self.cancel_timers(|_| true);
                let keep = State {
                    rng: self.st.rng,
                    contact: self.st.contact.clone(),
                    began: true,
                    next_id: self.st.next_id,
                    ..State::default()
                };
                self.st = keep;
                self.trace
                    .notes
                    .push("resolved by someone else: the bot forgets this conversation".into());
            }
            Event::FetchDone { fetch, result } => self.fetch_done(fetch, result),
        }
    }

    fn customer(&mut self, text: &str, pressed: bool) {
        if self.st.mode == Mode::WithHuman {
            self.trace.notes.push("silent: a human has this conversation".into());
            return;
        }
        if matches!(self.st.waiting, Waiting::Fetch { .. }) {
            self.trace.notes.push("ignored: waiting for a fetch result".into());
            return;
        }
        let shown = std::mem::take(&mut self.st.buttons);
        let typed = text.trim();
        let text = match typed.parse::<usize>() {
            Ok(n) if !pressed && (1..=shown.len()).contains(&n) => shown[n - 1].value.clone(),
            // A channel that sends a pressed button's label as text: the label stands for its
            // value (they differ for a translated button).
            _ => shown
                .iter()
                .find(|b| b.label != b.value && b.label.eq_ignore_ascii_case(typed))
                .map_or_else(|| text.to_string(), |b| b.value.clone()),
        };
        self.st.message = Some(text.clone());
        self.cancel_timers(|k| matches!(k, TimerKind::Idle { .. }));
        if self.st.mode == Mode::Idle {
            self.st.mode = Mode::WithBot;
            if self.st.began {
                let hook = self.program.hooks.returned.or(self.program.hooks.start);
                self.run_main(
                    hook,
                    if self.program.hooks.returned.is_some() { "on return" } else { "on start" },
                );
            } else {
                self.st.began = true;
                self.run_main(self.program.hooks.start, "on start");
            }
            // The message that woke the bot is answered too, unless the bot now asks something.
            if self.stopped || self.st.waiting != Waiting::Nothing {
                return;
            }
        }
        match self.st.waiting {
            Waiting::Answer { block, index, wrong } => {
                if ask_op(self.program, block, index).is_none() {
                    self.st.waiting = Waiting::Nothing;
                    return;
                }
                let decided = decide(self.program, &self.st, &text, self.now);
                self.answer(&decided, block, index, wrong);
                self.trace.decided = Some(decided);
                // The same question is still open: its buttons still stand.
                if self.st.buttons.is_empty() && self.st.waiting != Waiting::Nothing {
                    self.st.buttons = shown;
                }
            }
            _ => {
                let decided = decide(self.program, &self.st, &text, self.now);
                self.dispatch(&decided);
                self.trace.decided = Some(decided);
            }
        }
    }

    /// A file without text: `on attachment` runs beside whatever is pending (an open question
    /// stays open); without the hook it is a message with no words, so the state's `otherwise`
    /// (or the open question's retry) answers it.
    fn attachment(&mut self, kind: &str, url: &str) {
        let Some(hook) = self.program.hooks.attachment else {
            self.trace.notes.push(format!("{kind} attachment and no `on attachment`: no words"));
            self.customer("", false);
            return;
        };
        if self.st.mode == Mode::WithHuman {
            self.trace.notes.push("silent: a human has this conversation".into());
            return;
        }
        self.trace.notes.push(format!("{kind} attachment at {url}"));
        if self.st.mode == Mode::Idle {
            self.st.mode = Mode::WithBot;
            let began = std::mem::replace(&mut self.st.began, true);
            let hook = if began { self.program.hooks.returned } else { None };
            let label = if hook.is_some() { "on return" } else { "on start" };
            self.run_main(hook.or(self.program.hooks.start), label);
            if self.stopped {
                return;
            }
        }
        self.run_detached(hook, "on attachment");
    }

    fn dispatch(&mut self, decided: &Decided) {
        if let Decision::Handler { candidate, label, body, .. } = &decided.decision {
            if let Some(candidate) = decided.candidates.get(*candidate) {
                self.matched(candidate);
            }
            self.st.misses = 0;
            self.run_main(Some(*body), label);
            return;
        }
        let otherwise = self
            .position_id()
            .and_then(|id| self.program.states.get(usize::from(id)))
            .and_then(|s| s.otherwise.clone().map(|o| (s.name.clone(), o)));
        let Some((state_name, otherwise)) = otherwise else {
            self.trace
                .notes
                .push("nothing matched and this state has no `otherwise`: silent".into());
            return;
        };
        self.st.misses = self.st.misses.saturating_add(1);
        let misses = u32::from(self.st.misses);
        let rung =
            otherwise.after_misses.iter().find(|(count, _)| *count == misses).map(|(_, b)| *b);
        if otherwise.after_misses.last().is_some_and(|(count, _)| misses >= *count) {
            self.st.misses = 0;
        }
        let label = format!("state {state_name} / otherwise");
        self.trace.notes.push(format!("miss {misses}"));
        self.run_main(Some(rung.unwrap_or(otherwise.body)), &label);
    }

    fn matched(&mut self, candidate: &Candidate) {
        let name =
            self.program.intents.get(usize::from(candidate.intent)).cloned().unwrap_or_default();
        self.trace.intent = Some(name);
        if let Some(names) = self.program.intent_captures.get(usize::from(candidate.intent)) {
            for stale in names {
                self.st.vars.remove(stale);
            }
        }
        for (key, value) in &candidate.captures {
            self.st.vars.insert(key.clone(), value.clone());
        }
    }

    fn ask_op(&self, block: BlockId, index: u16) -> Option<&AskOp> {
        ask_op(self.program, block, index)
    }

    fn answer(&mut self, decided: &Decided, block: BlockId, index: u16, wrong: u16) {
        match &decided.decision {
            Decision::Handler { candidate, label, body, .. } => {
                if let Some(candidate) = decided.candidates.get(*candidate) {
                    self.matched(candidate);
                }
                self.run_detached(*body, label);
                if self.moved {
                    self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
                }
                return;
            }
            Decision::Answer { var, value } => {
                self.trace.notes.push(format!("answer to `{var}` accepted"));
                self.st.vars.insert(var.clone(), value.clone());
                self.st.waiting = Waiting::Nothing;
                self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
                self.run_frames();
                return;
            }
            Decision::Retry { .. } | Decision::Otherwise => {}
        }
        let Some(ask) = self.ask_op(block, index).cloned() else {
            self.st.waiting = Waiting::Nothing;
            return;
        };
        let wrong = wrong.saturating_add(1);
        self.trace.notes.push(format!("answer to `{}` not accepted ({wrong} wrong)", ask.var));
        if let Some((limit, escalation)) = ask.after_retries {
            if u32::from(wrong) >= limit {
                self.st.waiting = Waiting::Nothing;
                self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
                self.st.frames.clear();
                self.run_main(Some(escalation), &format!("after {limit} retries"));
                return;
            }
        }
        self.st.waiting = Waiting::Answer { block, index, wrong };
        if ask.retries.is_empty() {
            self.run_detached(ask.prompt, "ask prompt again");
        } else {
            let retry = &ask.retries[(usize::from(wrong) - 1).min(ask.retries.len() - 1)];
            let text = self.scope().render(retry);
            self.actions.push(Action::SendText { text });
        }
    }

    fn timer(&mut self, timer: TimerId) {
        let Some(position) = self.st.timers.iter().position(|(id, _)| *id == timer) else {
            self.trace.notes.push("stale timer ignored".into());
            return;
        };
        let (_, kind) = self.st.timers.remove(position);
        match kind {
            TimerKind::Ask { rung } => {
                let Waiting::Answer { block, index, .. } = self.st.waiting else { return };
                let Some(ask) = self.ask_op(block, index).cloned() else { return };
                let Some((after, body)) = ask.timeouts.get(usize::from(rung)).copied() else {
                    return;
                };
                if let Some((next_after, _)) = ask.timeouts.get(usize::from(rung) + 1) {
                    self.schedule(
                        TimerKind::Ask { rung: rung + 1 },
                        next_after.saturating_sub(after),
                    );
                }
                self.run_detached(
                    body,
                    &format!("timeout {}", crate::syntax::print::duration(after)),
                );
                if self.moved {
                    self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
                }
            }
            TimerKind::Idle { rung } => {
                if self.st.mode != Mode::WithBot {
                    return;
                }
                let Some((after, body)) = self.program.idle.get(usize::from(rung)).copied() else {
                    return;
                };
                if let Some((next_after, _)) = self.program.idle.get(usize::from(rung) + 1) {
                    self.schedule(
                        TimerKind::Idle { rung: rung + 1 },
                        next_after.saturating_sub(after),
                    );
                }
                self.run_detached(body, &format!("idle {}", crate::syntax::print::duration(after)));
            }
        }
    }

    fn fetch_done(&mut self, fetch: super::event::FetchId, result: FetchResult) {
        let Waiting::Fetch { id, block, index } = self.st.waiting else {
            self.trace.notes.push("fetch result ignored: not waiting for one".into());
            return;
        };
        if id != fetch {
            self.trace.notes.push("fetch result ignored: not the one awaited".into());
            return;
        }
        self.st.waiting = Waiting::Nothing;
        let Some(Op::Fetch(op)) = self.program.block(block).get(usize::from(index)) else { return };
        match result {
            FetchResult::Ok { body, .. } => {
                self.st.vars.insert(op.into.clone(), body);
                self.run_frames();
            }
            FetchResult::Failed { reason } => {
                self.trace.notes.push(format!("fetch failed: {reason}"));
                self.st.vars.insert(op.into.clone(), Value::Null);
                if let Some(on_error) = op.on_error {
                    self.trace.handlers.push("fetch / on error".into());
                    self.st.frames.push(Frame { block: on_error, index: 0 });
                }
                self.run_frames();
            }
        }
    }

    /// Runs `block` as the conversation's main line: whatever was pending is dropped.
    fn run_main(&mut self, block: Option<BlockId>, label: &str) {
        let Some(block) = block else { return };
        self.trace.handlers.push(label.to_string());
        self.st.frames.clear();
        self.st.frames.push(Frame { block, index: 0 });
        self.run_frames();
    }

    /// Runs `block` on the side (a timeout, a hook, an `anytime` during a question): if it does
    /// not move the conversation elsewhere, what was pending continues afterwards.
    fn run_detached(&mut self, block: BlockId, label: &str) {
        self.trace.handlers.push(label.to_string());
        let saved_frames = std::mem::take(&mut self.st.frames);
        let saved_waiting = self.st.waiting.clone();
        let saved_moved = std::mem::replace(&mut self.moved, false);
        self.st.frames.push(Frame { block, index: 0 });
        self.run_frames();
        if self.moved || self.stopped {
            self.moved = true;
        } else {
            self.st.frames = saved_frames;
            self.st.waiting = saved_waiting;
            self.moved = saved_moved;
        }
    }

    fn run_frames(&mut self) {
        while !self.stopped {
            let Some(top) = self.st.frames.last_mut() else { return };
            let (block, index) = (top.block, top.index);
            let ops = self.program.block(block);
            let Some(op) = ops.get(usize::from(index)) else {
                self.st.frames.pop();
                continue;
            };
            top.index += 1;
            self.statements += 1;
            if self.statements > MAX_STATEMENTS_PER_TURN {
                self.step_limit("statements");
                return;
            }
            if let Flow::Suspend = self.exec(op, block, index) {
                return;
            }
        }
    }

    fn scope(&self) -> Scope<'_> {
        Scope { program: self.program, state: &self.st, now: self.now }
    }

    fn exec(&mut self, op: &Op, block: BlockId, index: u16) -> Flow {
        match op {
            Op::Say(template) => {
                let text = self.scope().render(template);
                self.actions.push(Action::SendText { text });
            }
            Op::SayOneOf(choices) => {
                let total: u64 = choices.iter().map(|(_, w)| u64::from(*w)).sum();
                if total > 0 {
                    let mut pick = self.st.next_random() % total;
                    for (template, weight) in choices {
                        if pick < u64::from(*weight) {
                            let text = self.scope().render(template);
                            self.actions.push(Action::SendText { text });
                            break;
                        }
                        pick -= u64::from(*weight);
                    }
                }
            }
            Op::Buttons(values, translations) => {
                // A translated button still sends its default label, so the flow reads the
                // same in every language.
                let language = self.program.language_of(&self.st);
                let labels = super::language::labels(values, translations, language);
                let buttons: Vec<Button> = labels
                    .iter()
                    .zip(values)
                    .map(|(label, value)| Button { label: label.clone(), value: value.clone() })
                    .collect();
                let fallback = buttons
                    .iter()
                    .enumerate()
                    .map(|(i, b)| format!("{}. {}", i + 1, b.label))
                    .collect::<Vec<_>>()
                    .join("\n");
                self.st.buttons.clone_from(&buttons);
                self.actions.push(Action::SendButtons { buttons, fallback });
            }
            Op::Ask(ask) => {
                self.moved = true;
                self.st.waiting = Waiting::Answer { block, index, wrong: 0 };
                self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
                if let Some((after, _)) = ask.timeouts.first() {
                    self.schedule(TimerKind::Ask { rung: 0 }, *after);
                }
                let saved = std::mem::take(&mut self.st.frames);
                self.st.frames.push(Frame { block: ask.prompt, index: 0 });
                self.run_frames();
                self.st.frames = saved;
                return Flow::Suspend;
            }
            Op::Set(path, expr) => {
                let value = self.scope().eval(expr);
                set_path(&mut self.st.vars, &path.segments, value);
            }
            Op::If(branches, otherwise) => {
                let chosen = branches
                    .iter()
                    .find(|(c, _)| truthy(&self.scope().eval(c)))
                    .map(|(_, b)| *b)
                    .or(*otherwise);
                if let Some(body) = chosen {
                    self.st.frames.push(Frame { block: body, index: 0 });
                }
            }
            Op::Go(target) => {
                self.gos += 1;
                if self.gos > MAX_GOS_PER_TURN {
                    self.step_limit("`go`s");
                    return Flow::Suspend;
                }
                self.moved = true;
                self.st.frames.clear();
                self.st.waiting = Waiting::Nothing;
                self.cancel_timers(|k| matches!(k, TimerKind::Ask { .. }));
                self.st.misses = 0;
                if let Some(state) = self.program.states.get(usize::from(*target)) {
                    self.st.position = Some(state.name.clone());
                    self.trace.states.push(state.name.clone());
                    self.st.frames.push(Frame { block: state.entry, index: 0 });
                }
            }
            Op::Handoff(_) | Op::Resolve(_) if self.in_hook => {
                self.trace
                    .notes
                    .push("`handoff`/`resolve` inside `on handoff`/`on resolve` ignored".into());
            }
            Op::Handoff(note) => {
                let note = note.as_ref().map(|n| self.scope().render(n));
                self.hook(self.program.hooks.handoff, "on handoff");
                self.actions.push(Action::Handoff { note });
                self.end_turn(Mode::WithHuman);
                return Flow::Suspend;
            }
            Op::Resolve(farewell) => {
                let farewell = farewell.as_ref().map(|f| self.scope().render(f));
                self.hook(self.program.hooks.resolve, "on resolve");
                if let Some(text) = farewell {
                    self.actions.push(Action::SendText { text });
                }
                self.actions.push(Action::Resolve);
                self.end_turn(Mode::Idle);
                self.st.vars.clear();
                self.st.position = None;
                return Flow::Suspend;
            }
            Op::Fetch(fetch) => {
                let id = super::event::FetchId(self.st.next_id());
                let scope = self.scope();
                let request = FetchRequest {
                    id,
                    method: fetch.method,
                    url: scope.render(&fetch.url),
                    headers: fetch
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), scope.render(v)))
                        .collect(),
                    body: fetch.body.as_ref().map(|b| scope.render(b)),
                    timeout_ms: fetch.timeout_ms,
                };
                self.actions.push(Action::Fetch(request));
                self.st.waiting = Waiting::Fetch { id, block, index };
                self.moved = true;
                return Flow::Suspend;
            }
        }
        Flow::Continue
    }

    /// Runs a lifecycle hook's messages before a handoff or resolve (never recursively).
    fn hook(&mut self, block: Option<BlockId>, label: &str) {
        let Some(block) = block else { return };
        if self.in_hook {
            return;
        }
        self.in_hook = true;
        let saved_frames = std::mem::take(&mut self.st.frames);
        let saved_waiting = std::mem::take(&mut self.st.waiting);
        self.trace.handlers.push(label.to_string());
        self.st.frames.push(Frame { block, index: 0 });
        self.run_frames();
        self.st.frames = saved_frames;
        self.st.waiting = saved_waiting;
        self.in_hook = false;
    }

    fn end_turn(&mut self, mode: Mode) {
        self.st.mode = mode;
        self.st.frames.clear();
        self.st.waiting = Waiting::Nothing;
        self.st.misses = 0;
        self.cancel_timers(|_| true);
        self.moved = true;
        self.stopped = !self.in_hook;
    }

    fn step_limit(&mut self, what: &str) {
        let note = format!("bot stopped: more than {MAX_STATEMENTS_PER_TURN} statements or {MAX_GOS_PER_TURN} `go`s in one turn (too many {what}; is there a loop?)");
        self.trace.notes.push(note.clone());
        self.actions.push(Action::Handoff { note: Some(note) });
        self.in_hook = false;
        self.end_turn(Mode::WithHuman);
        self.stopped = true;
    }

    fn schedule(&mut self, kind: TimerKind, after_seconds: u64) {
        let id = TimerId(self.st.next_id());
        let seconds = i64::try_from(after_seconds).unwrap_or(i64::MAX / 2);
        let due = self.now + Duration::try_seconds(seconds).unwrap_or(Duration::days(36_500));
        self.st.timers.push((id, kind));
        self.actions.push(Action::ScheduleTimer { id, due });
    }

    fn cancel_timers(&mut self, which: impl Fn(&TimerKind) -> bool) {
        let mut kept = Vec::new();
        for (id, kind) in std::mem::take(&mut self.st.timers) {
            if which(&kind) {
                self.actions.push(Action::CancelTimer { id });
            } else {
                kept.push((id, kind));
            }
        }
        self.st.timers = kept;
    }

    /// After customer activity: start the idle ladder, unless a question's own timeouts run.
    fn schedule_idle(&mut self) {
        if self.st.mode != Mode::WithBot || self.program.idle.is_empty() {
            return;
        }
        if self
            .st
            .timers
            .iter()
            .any(|(_, k)| matches!(k, TimerKind::Ask { .. } | TimerKind::Idle { .. }))
        {
            return;
        }
        if let Some((after, _)) = self.program.idle.first() {
            self.schedule(TimerKind::Idle { rung: 0 }, *after);
        }
    }
}

fn set_path(
    vars: &mut std::collections::BTreeMap<String, Value>,
    segments: &[String],
    value: Value,
) {
    let Some((root, rest)) = segments.split_first() else { return };
    if rest.is_empty() {
        vars.insert(root.clone(), value);
        return;
    }
    let mut slot = vars.entry(root.clone()).or_insert(Value::Null);
    for key in rest {
        if !slot.is_object() {
            *slot = Value::Object(serde_json::Map::new());
        }
        let Value::Object(map) = slot else { return };
        slot = map.entry(key.clone()).or_insert(Value::Null);
    }
    *slot = value;
}
