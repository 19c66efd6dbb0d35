//! The typed syntax tree of a `.bot` file. Every node carries a [`Span`]; equality ignores spans.
//!
//! This is the contract between `syntax` (which builds it) and `check` (which validates and
//! compiles it). Names are kept as written (`Ident`); resolving them is `check`'s job, so a tree
//! may refer to states, intents, lists or types that do not exist.

pub(crate) use crate::source::Span;

/// A name as written in the script (`menu`, `order.status` segments, `digits`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A quoted string with escapes (`\"`, `\\`) already decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringLit {
    pub value: String,
    pub span: Span,
}

/// A whole file: its items in source order and every `#` comment (text after the `#`, spans
/// include the `#`), which `botrun fmt` puts back in place.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct File {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Bot(BotDecl),
    Use(UseDecl),
    Hours(HoursDecl),
    List(ListDecl),
    Intent(IntentDecl),
    On(HookDecl),
    Anytime(AnytimeDecl),
    State(StateDecl),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Bot(d) => d.span,
            Item::Use(d) => d.span,
            Item::Hours(d) => d.span,
            Item::List(d) => d.span,
            Item::Intent(d) => d.span,
            Item::On(d) => d.span,
            Item::Anytime(d) => d.span,
            Item::State(d) => d.span,
        }
    }
}

/// `bot "Acme Assistant"` and its indented settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotDecl {
    pub name: StringLit,
    pub settings: Vec<BotSetting>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BotSetting {
    /// `timezone "America/New_York"`
    Timezone(StringLit),
    /// `typos tolerated`
    TyposTolerated(Span),
    /// `accents ignored`
    AccentsIgnored(Span),
    /// `buttons at most 5` — the channel's quick-reply limit.
    ButtonLimit { limit: u32, span: Span },
    /// `dates day-first` / `dates month-first`: how `3/12/26` is read.
    DateOrder { month_first: bool, span: Span },
    /// `idle 30m` with a block: the bot-wide idle policy, one rung per line, in order.
    Idle(TimerRung),
    /// `small words "a", "the"…` — the words that may stand between a phrase's words (replaces
    /// the built-in list).
    SmallWords { words: Vec<StringLit>, span: Span },
    /// `languages en, es`: the languages the bot speaks; the first is the default, in which
    /// every text is written first.
    Languages { codes: Vec<Ident>, span: Span },
}

/// A duration such as `90s`, `3m`, `2h`, `1d` (also `1h30m`), in seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duration {
    pub seconds: u64,
    pub span: Span,
}

/// `timeout 3m` / `idle 30m` followed by a block that runs when the time passes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimerRung {
    pub after: Duration,
    pub body: Block,
    pub span: Span,
}

/// `use "common.bot"` — path relative to the file that says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UseDecl {
    pub path: StringLit,
    pub span: Span,
}

/// `hours office` — a business-hours calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoursDecl {
    pub name: Ident,
    /// `timezone "Europe/Paris"` inside the calendar; otherwise the bot's timezone applies.
    pub timezone: Option<StringLit>,
    pub rules: Vec<HoursRule>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoursRule {
    /// `mon-fri 09:00-12:00, 13:00-17:00`
    Weekly { days: Vec<DaySpec>, ranges: Vec<TimeRange>, span: Span },
    /// `closed 2026-12-25, 2026-12-26`
    Closed { dates: Vec<DateLit>, span: Span },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// `sat` or `mon-fri`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DaySpec {
    Single(Weekday, Span),
    Range(Weekday, Weekday, Span),
}

/// `HH:MM`; `24:00` is allowed as an end time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
}

impl TimeOfDay {
    /// Between 00:00 and 24:00 (which may end a range).
    pub(crate) fn is_valid(self) -> bool {
        self.minute <= 59 && (self.hour < 24 || (self.hour == 24 && self.minute == 0))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub start: TimeOfDay,
    pub end: TimeOfDay,
    pub span: Span,
}

/// `YYYY-MM-DD` as written; whether it is a real date is `check`'s question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateLit {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub span: Span,
}

/// `list product` followed by quoted entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListDecl {
    pub name: Ident,
    pub entries: Vec<ListEntry>,
    pub span: Span,
}

/// One list entry: the value stored, and other spellings that name it
/// (`"damaged" also "cracked", "broken"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListEntry {
    pub value: StringLit,
    pub also: Vec<StringLit>,
}

impl ListEntry {
    /// From the value to its last synonym.
    pub fn span(&self) -> Span {
        self.also.last().map_or(self.value.span, |last| self.value.span.to(last.span))
    }
}

/// `intent track` followed by phrases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentDecl {
    pub name: Ident,
    pub phrases: Vec<Phrase>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrase {
    pub kind: PhraseKind,
    /// `es` on an `es "hola"` line; `None` for the default language.
    pub language: Option<Ident>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhraseKind {
    /// A quoted phrase: `"track [my] order {number:digits}"`.
    Pattern(Vec<PhrasePart>),
    /// `/order #?(\d+)/i` — source text between the slashes, and flags after it.
    Regex(RegexLit),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexLit {
    pub pattern: String,
    pub flags: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhrasePart {
    pub kind: PhrasePartKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhrasePartKind {
    /// A literal word as written (normalisation is the engine's job).
    Word(String),
    /// `(morning|good afternoon)` — each alternative is a sequence of parts.
    Alternatives(Vec<Vec<PhrasePart>>),
    /// `[my]` or `[a real]`.
    Optional(Vec<PhrasePart>),
    /// `*` — one or more words.
    Wildcard,
    /// `{number:digits}` or `{item:@product}`; `{name}` alone means type `text`.
    Capture { name: Ident, ty: CaptureType },
    /// `@product` — any entry of a list.
    ListRef(Ident),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureType {
    /// A built-in type by name (`digits`, `email`…); unknown names are reported by `check`.
    Named(Ident),
    /// `@list`
    List(Ident),
    /// No type written: `text`.
    Default,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookKind {
    Start,
    Handoff,
    Return,
    Resolve,
    /// The customer sent a file without text.
    Attachment,
}

impl HookKind {
    /// The word after `on`.
    pub fn keyword(self) -> &'static str {
        match self {
            HookKind::Start => "start",
            HookKind::Handoff => "handoff",
            HookKind::Return => "return",
            HookKind::Resolve => "resolve",
            HookKind::Attachment => "attachment",
        }
    }
}

/// `on start` / `on handoff` / `on return` / `on resolve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookDecl {
    pub hook: HookKind,
    pub hook_span: Span,
    pub body: Block,
    pub span: Span,
}

/// `anytime human` — a handler that works in every state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnytimeDecl {
    pub intents: Vec<Ident>,
    pub body: Block,
    pub span: Span,
}

/// `state menu`: statements that run on entering (may include `ask`), then `when` handlers, then
/// an optional `otherwise`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDecl {
    pub name: Ident,
    pub entry: Block,
    pub handlers: Vec<WhenHandler>,
    pub otherwise: Option<Otherwise>,
    pub span: Span,
}

/// `when track` or `when greet or thanks`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhenHandler {
    pub intents: Vec<Ident>,
    pub body: Block,
    pub span: Span,
}

/// `otherwise` with its reply and `after N misses` escalations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Otherwise {
    pub body: Block,
    pub after_misses: Vec<CountedRung>,
    pub span: Span,
}

/// `after 3 misses` / `after 2 retries` with its block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountedRung {
    pub count: u32,
    pub count_span: Span,
    pub body: Block,
    pub span: Span,
}

pub(crate) type Block = Vec<Stmt>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StmtKind {
    /// `say "text {var}"`
    Say(Template),
    /// `say one of` with one template per line, each optionally `weight N`.
    SayOneOf(Vec<Choice>),
    /// `buttons "Yes", "No"`, with `es "Sí", "No"` lines under it.
    Buttons {
        labels: Vec<StringLit>,
        translations: Vec<LabelsTranslation>,
    },
    Ask(Box<Ask>),
    /// `set plan to "gold"`
    Set {
        var: VarPath,
        value: Expr,
    },
    /// `if … / else if … / else`; `else_at` is where the `else` line starts.
    If {
        branches: Vec<(Expr, Block)>,
        otherwise: Option<Block>,
        else_at: Option<Span>,
    },
    /// `go tracking`
    Go(Ident),
    /// `handoff` or `handoff note "…"`
    Handoff {
        note: Option<Template>,
    },
    /// `resolve` or `resolve "farewell"`
    Resolve {
        farewell: Option<Template>,
    },
    Fetch(Box<Fetch>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub text: Template,
    /// `weight 3`; absent means 1.
    pub weight: Option<u32>,
    pub span: Span,
}

/// `ask number as digits` with its prompt, retries, escalation and timeouts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ask {
    pub var: Ident,
    pub ty: AnswerType,
    /// Statements before the first `retry`/`after`/`timeout` line: usually `say` and `buttons`.
    pub prompt: Block,
    /// `retry "…"` lines in order; the last one repeats.
    pub retries: Vec<Template>,
    pub after_retries: Option<CountedRung>,
    pub timeouts: Vec<TimerRung>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerType {
    /// `digits`, `email`, `yes/no`… (unknown names reported by `check`).
    Named(Ident),
    /// `one of @list` / `@list`
    List(Ident),
    /// `/regex/`
    Regex(RegexLit),
}

/// `fetch get "{env.SHOP_API}/orders/{number}" into order` and its options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetch {
    pub method: FetchMethod,
    pub url: Template,
    pub into: Ident,
    /// `header "X-Api-Key" "{env.SHOP_KEY}"`
    pub headers: Vec<(StringLit, Template)>,
    /// `body "{…}"` — a JSON template.
    pub body: Option<Template>,
    /// `timeout 5s` (default 10s).
    pub timeout: Option<Duration>,
    pub on_error: Option<Block>,
    /// Where the `on error` line starts.
    pub on_error_at: Option<Span>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// A quoted text with `{placeholders}`; `raw` is the decoded text as written. A reply's
/// `translations` are the `es "…"` lines under it (empty for every other text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pub raw: String,
    pub parts: Vec<TemplatePart>,
    pub translations: Vec<Translation>,
    pub span: Span,
}

/// `es "¡Hola {name}!"` under a reply: the same reply in one of the bot's other languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    pub language: Ident,
    pub text: Template,
    pub span: Span,
}

/// `es "Sí", "No"` under `buttons`: the labels in one of the bot's other languages, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelsTranslation {
    pub language: Ident,
    pub labels: Vec<StringLit>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    /// `{contact.name or 'there'}` or `{next_open(office)}`
    Value {
        value: TemplateValue,
        default: Option<String>,
        span: Span,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateValue {
    Var(VarPath),
    /// `next_open(office)`
    Call {
        function: Ident,
        args: Vec<Ident>,
    },
}

/// `order.status`, `contact.name`, `env.SHOP_API`, `message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarPath {
    pub segments: Vec<String>,
    pub span: Span,
}

impl VarPath {
    pub fn root(&self) -> &str {
        self.segments.first().map_or("", String::as_str)
    }

    pub(crate) fn dotted(&self) -> String {
        self.segments.join(".")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareOp {
    Is,
    IsNot,
    Less,
    Greater,
    LessOrEqual,
    GreaterOrEqual,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Subtract,
    Multiply,
    Divide,
}

impl ArithOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Subtract => "-",
            ArithOp::Multiply => "*",
            ArithOp::Divide => "/",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare {
        op: CompareOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `x is empty` / `x is not empty`
    IsEmpty {
        operand: Box<Expr>,
        negated: bool,
    },
    /// `x in @list` / `x not in @list`
    InList {
        operand: Box<Expr>,
        list: Ident,
        negated: bool,
    },
    /// `open office` / `closed office`, now or `on DAY` / `at MOMENT`
    Open {
        calendar: Ident,
        negated: bool,
        when: Option<Box<Expr>>,
        /// Written `at` (a moment) rather than `on` (a day); both read the value's kind.
        at: bool,
    },
    /// `n + 1`, `price * 2`, `today + 7`
    Arith {
        op: ArithOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `upper(name)`, `length(order.items)`
    Call {
        function: Ident,
        args: Vec<Expr>,
    },
    Var(VarPath),
    Text(Template),
    /// Numbers are kept as written so equality stays exact.
    Number(String),
    Bool(bool),
}
