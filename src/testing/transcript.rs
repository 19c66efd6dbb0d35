//! The transcript format of `botrun test` (`*.test.yaml`, documented in `docs/testing.md`):
//! which bot, fixtures (contact, env, fetch answers, clock, seed) and tests made of steps.
//! Parsed by hand from YAML values so every mistake gets a precise message.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use serde_norway::Value as Yaml;

use crate::diagnostic::did_you_mean;
use crate::engine::Contact;

/// A whole transcript file.
#[derive(Clone, Debug)]
pub struct Transcript {
    pub path: PathBuf,
    /// The bot, resolved relative to the transcript file.
    pub bot: PathBuf,
    pub fixtures: Fixtures,
    /// Unexpected bot output fails the test when true; by default it is allowed.
    pub strict: bool,
    pub tests: Vec<DialogTest>,
}

#[derive(Clone, Debug, Default)]
pub struct Fixtures {
    pub contact: Contact,
    pub env: BTreeMap<String, String>,
    pub fetch: Vec<FetchFixture>,
    pub seed: u64,
    pub now: Option<DateTime<Utc>>,
}

/// A canned answer for `fetch`: `GET https://shop.example/orders/*`.
#[derive(Clone, Debug)]
pub struct FetchFixture {
    pub method: String,
    /// URL; a trailing `*` matches any rest.
    pub url: String,
    pub answer: FetchAnswer,
}

#[derive(Clone, Debug)]
pub enum FetchAnswer {
    Ok { status: u16, body: Value },
    Fail(String),
}

#[derive(Clone, Debug)]
pub struct DialogTest {
    pub name: String,
    /// Begin in this state (skipping `on start`) …
    pub start_in: Option<String>,
    /// … with these variables already set.
    pub vars: BTreeMap<String, Value>,
    pub contact: Option<Contact>,
    /// The conversation's language (`language: es`), given to the bot as the contact's
    /// `language`, as a page's locale would be.
    pub language: Option<String>,
    pub steps: Vec<Step>,
}

/// Expected text: exactly, containing, matching a regex, or one of several.
#[derive(Clone, Debug)]
pub enum TextExpect {
    Exact(String),
    Contains(String),
    Matches(regex::Regex),
    OneOf(Vec<String>),
}

impl TextExpect {
    pub(crate) fn accepts(&self, text: &str) -> bool {
        match self {
            TextExpect::Exact(e) => e == text,
            TextExpect::Contains(e) => text.contains(e.as_str()),
            TextExpect::Matches(r) => r.is_match(text),
            TextExpect::OneOf(options) => options.iter().any(|o| o == text),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match self {
            TextExpect::Exact(e) => format!("{e:?}"),
            TextExpect::Contains(e) => format!("a text containing {e:?}"),
            TextExpect::Matches(r) => format!("a text matching /{}/", r.as_str()),
            TextExpect::OneOf(o) => format!("one of {o:?}"),
        }
    }
}

#[derive(Clone, Debug)]
pub enum Step {
    Customer(String),
    Press(String),
    Wait(Duration),
    HandBack,
    AgentResolves,
    Bot(TextExpect),
    Buttons(Vec<String>),
    Handoff(Option<TextExpect>),
    Resolve,
    Silent,
    State(String),
    Var(BTreeMap<String, Value>),
}

impl Step {
    /// How the step reads in a report.
    pub(crate) fn describe(&self) -> String {
        match self {
            Step::Customer(t) => format!("customer: {t}"),
            Step::Press(t) => format!("press: {t}"),
            Step::Wait(d) => format!(
                "wait: {}",
                crate::syntax::print::duration(u64::try_from(d.num_seconds()).unwrap_or(0))
            ),
            Step::HandBack => "hand back".into(),
            Step::AgentResolves => "agent resolves".into(),
            Step::Bot(e) => format!("bot: {}", e.describe()),
            Step::Buttons(b) => format!("buttons: {b:?}"),
            Step::Handoff(None) => "handoff".into(),
            Step::Handoff(Some(n)) => format!("handoff with note {}", n.describe()),
            Step::Resolve => "resolve".into(),
            Step::Silent => "silent".into(),
            Step::State(s) => format!("state: {s}"),
            Step::Var(v) => format!("var: {}", serde_json::to_string(v).unwrap_or_default()),
        }
    }
}

/// A transcript that cannot be read, with where and why.
#[derive(Debug, thiserror::Error)]
pub struct TranscriptError {
    pub path: String,
    /// The 1-based line the problem is on, when it could be found.
    pub line: Option<usize>,
    pub message: String,
    /// The file could not be read at all (the tool cannot run: exit 2), as opposed to a
    /// transcript with mistakes in it (exit 1).
    pub unreadable: bool,
}

impl std::fmt::Display for TranscriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// Where in the file a problem is: a test, and maybe one of its steps (0-based).
type At = Option<(usize, Option<usize>)>;

const STEP_WORDS: &[&str] = &[
    "customer",
    "press",
    "wait",
    "hand back",
    "agent resolves",
    "bot",
    "buttons",
    "handoff",
    "resolve",
    "silent",
    "state",
    "var",
];

/// Reads and checks a transcript file.
pub fn read(path: &Path) -> Result<Transcript, TranscriptError> {
    let shown = crate::source::display_path(path);
    let fail = |line: Option<usize>, message: String| TranscriptError {
        path: shown.clone(),
        line,
        message,
        unreadable: false,
    };
    let text = std::fs::read_to_string(path).map_err(|e| TranscriptError {
        path: shown.clone(),
        line: None,
        message: format!("cannot read: {e}"),
        unreadable: true,
    })?;
    let yaml: Yaml = serde_norway::from_str(&text)
        .map_err(|e| fail(e.location().map(|l| l.line()), format!("not valid YAML: {e}")))?;
    parse(path, &yaml).map_err(|(message, at)| {
        let line = at.and_then(|(test, step)| super::locate::line_of(&text, test, step));
        fail(line, message)
    })
}

fn parse(path: &Path, yaml: &Yaml) -> Result<Transcript, (String, At)> {
    parse_file(path, yaml).map_err(|message| (message, None))?.finish()
}

/// The file's top level; the tests are parsed by [`Pending::finish`] so their errors carry
/// where they are.
struct Pending<'a> {
    path: &'a Path,
    bot: std::path::PathBuf,
    fixtures: Fixtures,
    strict: bool,
    /// `language:` of the file: every test runs in each of these languages.
    languages: Vec<String>,
    tests: &'a [Yaml],
}

impl Pending<'_> {
    fn finish(self) -> Result<Transcript, (String, At)> {
        let mut tests = Vec::new();
        for (i, t) in self.tests.iter().enumerate() {
            let at = |(message, step): (String, Option<usize>)| {
                (format!("tests[{i}]: {message}"), Some((i, step)))
            };
            let own = match t.as_mapping().and_then(|m| m.get("language")) {
                Some(value) => super::languages::languages(value).map_err(|m| at((m, None)))?,
                None => Vec::new(),
            };
            let languages = if own.is_empty() { &self.languages } else { &own };
            if languages.is_empty() {
                tests.push(dialog_test(t, None).map_err(at)?);
            }
            let mut all = self.languages.clone();
            all.extend(own.iter().cloned());
            for language in languages {
                let mut test = dialog_test(t, Some((&all, language))).map_err(at)?;
                // The language reaches the bot as the contact's, as a page's locale would.
                let mut contact =
                    test.contact.take().unwrap_or_else(|| self.fixtures.contact.clone());
                contact.attributes.insert("language".into(), language.clone());
                test.contact = Some(contact);
                tests.push(test);
            }
        }
        Ok(Transcript {
            path: self.path.to_path_buf(),
            bot: self.bot,
            fixtures: self.fixtures,
            strict: self.strict,
            tests,
        })
    }
}

fn parse_file<'a>(path: &'a Path, yaml: &'a Yaml) -> Result<Pending<'a>, String> {
    let map = yaml.as_mapping().ok_or("expected a mapping with `bot` and `tests`")?;
    check_keys(map, &["bot", "fixtures", "strict", "language", "tests"], "the file")?;
    let languages = map.get("language").map(super::languages::languages).transpose()?;
    let bot = get_str(map, "bot")?
        .ok_or("missing `bot:` — the path of the bot to test, relative to this file")?;
    let bot = path.parent().unwrap_or(Path::new(".")).join(bot);
    let fixtures = match map.get("fixtures") {
        Some(f) => fixtures(f)?,
        None => Fixtures { seed: 1, ..Fixtures::default() },
    };
    let strict = match map.get("strict") {
        None => false,
        Some(value) => value.as_bool().ok_or("`strict` must be `true` or `false`")?,
    };
    let tests_yaml =
        map.get("tests").and_then(Yaml::as_sequence).ok_or("missing `tests:` — a list of tests")?;
    if tests_yaml.is_empty() {
        return Err("`tests:` is empty — add at least one test".into());
    }
    Ok(Pending {
        path,
        bot,
        fixtures,
        strict,
        languages: languages.unwrap_or_default(),
        tests: tests_yaml,
    })
}

fn check_keys(map: &serde_norway::Mapping, allowed: &[&str], what: &str) -> Result<(), String> {
    for key in map.keys() {
        let key = key.as_str().unwrap_or("?");
        if !allowed.contains(&key) {
            let hint = did_you_mean(key, allowed.iter().copied())
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            return Err(format!(
                "unknown key `{key}` in {what}{hint}; allowed: {}",
                allowed.join(", ")
            ));
        }
    }
    Ok(())
}

fn get_str<'a>(map: &'a serde_norway::Mapping, key: &str) -> Result<Option<&'a str>, String> {
    match map.get(key) {
        None => Ok(None),
        Some(Yaml::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("`{key}` must be a text")),
    }
}

fn scalar_text(value: &Yaml) -> Option<String> {
    match value {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        _ => None,
    }
}

fn to_json(value: &Yaml) -> Result<Value, String> {
    serde_json::to_value(value).map_err(|e| format!("cannot use this value: {e}"))
}

fn contact(value: &Yaml) -> Result<Contact, String> {
    let map =
        value.as_mapping().ok_or("`contact` must be a mapping (name, email, phone, attributes)")?;
    check_keys(map, &["name", "email", "phone", "attributes"], "`contact`")?;
    let mut c = Contact {
        name: map.get("name").and_then(scalar_text),
        email: map.get("email").and_then(scalar_text),
        phone: map.get("phone").and_then(scalar_text),
        ..Contact::default()
    };
    if let Some(attrs) = map.get("attributes") {
        let attrs = attrs.as_mapping().ok_or("`attributes` must be a mapping of names to texts")?;
        for (k, v) in attrs {
            c.attributes.insert(
                k.as_str().unwrap_or_default().to_string(),
                scalar_text(v).unwrap_or_default(),
            );
        }
    }
    Ok(c)
}

fn fixtures(value: &Yaml) -> Result<Fixtures, String> {
    let map = value.as_mapping().ok_or("`fixtures` must be a mapping")?;
    check_keys(map, &["contact", "env", "fetch", "seed", "now"], "`fixtures`")?;
    let mut f = Fixtures { seed: 1, ..Fixtures::default() };
    if let Some(c) = map.get("contact") {
        f.contact = contact(c)?;
    }
    if let Some(env) = map.get("env") {
        for (k, v) in env.as_mapping().ok_or("`env` must be a mapping of names to texts")? {
            let value = scalar_text(v).ok_or("`env` values must be texts")?;
            f.env.insert(k.as_str().unwrap_or_default().to_string(), value);
        }
    }
    if let Some(seed) = map.get("seed") {
        f.seed = seed.as_u64().ok_or("`seed` must be a whole number")?;
    }
    if let Some(now) = map.get("now") {
        let text = scalar_text(now).unwrap_or_default();
        let parsed = DateTime::parse_from_rfc3339(&text)
            .map_err(|e| format!("`now` must be a time like 2026-11-24T15:00:00Z: {e}"))?;
        f.now = Some(parsed.with_timezone(&Utc));
    }
    if let Some(list) = map.get("fetch") {
        for (i, item) in list.as_sequence().ok_or("`fetch` must be a list")?.iter().enumerate() {
            f.fetch.push(fetch_fixture(item).map_err(|e| format!("fetch[{i}]: {e}"))?);
        }
    }
    Ok(f)
}

fn fetch_fixture(value: &Yaml) -> Result<FetchFixture, String> {
    let map = value.as_mapping().ok_or("expected `request`, and `status`/`body` or `fail`")?;
    check_keys(map, &["request", "status", "body", "fail"], "a fetch fixture")?;
    let request = get_str(map, "request")?.ok_or("missing `request: GET https://…`")?;
    let (method, url) = request
        .split_once(' ')
        .ok_or("`request` is a method and a URL: `GET https://shop.example/orders/*`")?;
    let answer = match get_str(map, "fail")? {
        Some(reason) => FetchAnswer::Fail(reason.to_string()),
        None => FetchAnswer::Ok {
            status: match map.get("status") {
                None => 200,
                Some(s) => s
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..600).contains(s))
                    .ok_or("`status` must be an HTTP status such as 200 or 404")?,
            },
            body: map.get("body").map(to_json).transpose()?.unwrap_or(Value::Null),
        },
    };
    Ok(FetchFixture { method: method.to_uppercase(), url: url.trim().to_string(), answer })
}

/// A test, in one language of the transcript's (`all`) when given; an error says which step it
/// is in, when it is in one.
fn dialog_test(
    value: &Yaml,
    language: Option<(&[String], &str)>,
) -> Result<DialogTest, (String, Option<usize>)> {
    dialog_test_at(value).map_err(|message| (message, None)).and_then(|(mut test, steps)| {
        let steps = match language {
            Some((all, code)) => {
                test.name = format!("{} [{code}]", test.name);
                test.language = Some(code.to_string());
                super::languages::localise(steps, all, code)
                    .map_err(|(e, i)| (format!("`{}` step {}: {e}", test.name, i + 1), Some(i)))?
            }
            None => steps.to_vec(),
        };
        let mut parsed = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let step =
                step(s).map_err(|e| (format!("`{}` step {}: {e}", test.name, i + 1), Some(i)))?;
            parsed.push(step);
        }
        Ok(DialogTest { steps: parsed, ..test })
    })
}

/// A test without its steps, and the steps to parse.
fn dialog_test_at(value: &Yaml) -> Result<(DialogTest, &[Yaml]), String> {
    let map = value.as_mapping().ok_or("a test is a mapping with `name` and `steps`")?;
    check_keys(map, &["name", "start_in", "vars", "contact", "language", "steps"], "a test")?;
    let name = get_str(map, "name")?.ok_or("missing `name`")?.to_string();
    let mut vars = BTreeMap::new();
    if let Some(v) = map.get("vars") {
        for (k, v) in v.as_mapping().ok_or("`vars` must be a mapping")? {
            vars.insert(k.as_str().unwrap_or_default().to_string(), to_json(v)?);
        }
    }
    let steps_yaml = map
        .get("steps")
        .and_then(Yaml::as_sequence)
        .ok_or_else(|| format!("`{name}`: missing `steps:` list"))?;
    let test = DialogTest {
        name,
        start_in: get_str(map, "start_in")?.map(str::to_string),
        vars,
        contact: map.get("contact").map(contact).transpose()?,
        language: None,
        steps: Vec::new(),
    };
    Ok((test, steps_yaml.as_slice()))
}

fn unknown_step(word: &str) -> String {
    let hint = did_you_mean(word, STEP_WORDS.iter().copied())
        .map(|k| format!(" — did you mean `{k}`?"))
        .unwrap_or_default();
    format!("unknown step `{word}`{hint} (steps: {})", STEP_WORDS.join(", "))
}

fn step(value: &Yaml) -> Result<Step, String> {
    if let Yaml::String(word) = value {
        return match word.as_str() {
            "handoff" => Ok(Step::Handoff(None)),
            "resolve" => Ok(Step::Resolve),
            "silent" => Ok(Step::Silent),
            "hand back" => Ok(Step::HandBack),
            "agent resolves" => Ok(Step::AgentResolves),
            other => Err(unknown_step(other)),
        };
    }
    let map =
        value.as_mapping().ok_or("a step is `key: value`, e.g. `customer: hello` or `bot: Hi!`")?;
    if map.len() != 1 {
        return Err("write one step per list item (`- customer: …`, then `- bot: …`)".into());
    }
    let (key, value) = map.iter().next().ok_or("empty step")?;
    let key = key.as_str().unwrap_or_default();
    let text = || scalar_text(value).ok_or_else(|| format!("`{key}` needs a text"));
    Ok(match key {
        "customer" => Step::Customer(text()?),
        "press" => Step::Press(text()?),
        "wait" => Step::Wait(parse_duration(&text()?)?),
        "bot" => Step::Bot(text_expect(value)?),
        "buttons" => Step::Buttons(
            value
                .as_sequence()
                .ok_or("`buttons` takes a list of labels")?
                .iter()
                .map(|b| {
                    scalar_text(b).ok_or_else(|| "each button label must be a text".to_string())
                })
                .collect::<Result<_, _>>()?,
        ),
        "handoff" => match value {
            Yaml::Null | Yaml::Bool(true) => Step::Handoff(None),
            Yaml::Mapping(m) => {
                check_keys(m, &["note"], "`handoff`")?;
                Step::Handoff(m.get("note").map(text_expect).transpose()?)
            }
            _ => return Err("`handoff` takes nothing, or `{note: …}`".into()),
        },
        "state" => Step::State(text()?),
        "var" => {
            let mut vars = BTreeMap::new();
            for (k, v) in
                value.as_mapping().ok_or("`var` takes a mapping such as `{number: \"123\"}`")?
            {
                vars.insert(k.as_str().unwrap_or_default().to_string(), to_json(v)?);
            }
            Step::Var(vars)
        }
        other => return Err(unknown_step(other)),
    })
}

fn text_expect(value: &Yaml) -> Result<TextExpect, String> {
    if let Some(text) = scalar_text(value) {
        return Ok(TextExpect::Exact(text));
    }
    let map = value
        .as_mapping()
        .ok_or("expected a text, or `{contains: …}`, `{matches: …}`, `{one_of: […]}`")?;
    check_keys(map, &["contains", "matches", "one_of"], "a text expectation")?;
    if let Some(c) = map.get("contains").and_then(scalar_text) {
        return Ok(TextExpect::Contains(c));
    }
    if let Some(m) = map.get("matches").and_then(scalar_text) {
        let regex =
            regex::Regex::new(&m).map_err(|e| format!("`matches` is not a valid regex: {e}"))?;
        return Ok(TextExpect::Matches(regex));
    }
    if let Some(list) = map.get("one_of").and_then(Yaml::as_sequence) {
        let options = list
            .iter()
            .map(|o| scalar_text(o).ok_or("`one_of` takes a list of texts"))
            .collect::<Result<_, _>>()?;
        return Ok(TextExpect::OneOf(options));
    }
    Err("expected `contains`, `matches` or `one_of`".into())
}

/// `90s`, `5m`, `2h`, `1d`, `1h30m`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::syntax::duration::parse_seconds(text)
        .and_then(|s| i64::try_from(s).ok())
        .map(Duration::seconds)
        .ok_or_else(|| format!("`{text}` is not a duration like 30s, 5m, 2h or 1h30m"))
}
