//! A realistic benchmark corpus, generated deterministically (no downloads): a support bot whose
//! intents are built from one shared English vocabulary (verbs × nouns, so every word appears in
//! many intents), and customer messages that put a phrase inside long chatty text, with small
//! words between phrase words, one typo in 10 % of them, and 10 % unrelated messages. Every
//! message carries the reply it must get, so every system's replies can be checked.
//!
//! The same description is rendered as a `.bot` file (with or without `typos tolerated`), as
//! AIML and as `RiveScript`.

use std::fmt::Write as _;

const VERBS: [&str; 60] = [
    "reset",
    "cancel",
    "change",
    "update",
    "renew",
    "return",
    "replace",
    "repair",
    "upgrade",
    "activate",
    "deactivate",
    "transfer",
    "book",
    "schedule",
    "reschedule",
    "track",
    "pay",
    "refund",
    "order",
    "install",
    "configure",
    "connect",
    "disconnect",
    "unlock",
    "lock",
    "verify",
    "download",
    "upload",
    "delete",
    "recover",
    "report",
    "block",
    "unblock",
    "check",
    "compare",
    "extend",
    "pause",
    "resume",
    "close",
    "open",
    "share",
    "print",
    "export",
    "import",
    "sync",
    "register",
    "subscribe",
    "unsubscribe",
    "redeem",
    "claim",
    "dispute",
    "confirm",
    "approve",
    "rename",
    "move",
    "restore",
    "backup",
    "test",
    "measure",
    "adjust",
];

const NOUNS: [&str; 120] = [
    "password",
    "account",
    "purchase",
    "subscription",
    "invoice",
    "payment",
    "card",
    "router",
    "modem",
    "phone",
    "tablet",
    "laptop",
    "printer",
    "appointment",
    "delivery",
    "parcel",
    "address",
    "email",
    "username",
    "profile",
    "plan",
    "contract",
    "warranty",
    "voucher",
    "coupon",
    "ticket",
    "booking",
    "reservation",
    "membership",
    "device",
    "battery",
    "charger",
    "screen",
    "keyboard",
    "camera",
    "speaker",
    "headset",
    "cable",
    "adapter",
    "license",
    "software",
    "firmware",
    "app",
    "browser",
    "wallet",
    "balance",
    "statement",
    "receipt",
    "mailbox",
    "calendar",
    "hard drive",
    "storage",
    "photos",
    "contacts",
    "settings",
    "network",
    "wifi",
    "signal",
    "antenna",
    "satellite",
    "television",
    "decoder",
    "remote",
    "speakers",
    "thermostat",
    "alarm",
    "doorbell",
    "lights",
    "meter",
    "tariff",
    "bill",
    "deposit",
    "loan",
    "mortgage",
    "insurance",
    "policy",
    "payslip",
    "pension",
    "savings",
    "bank details",
    "cheque",
    "pin",
    "token",
    "certificate",
    "domain",
    "website",
    "server",
    "database",
    "mailing",
    "newsletter",
    "catalogue",
    "basket",
    "checkout",
    "shipment",
    "pallet",
    "container",
    "warehouse",
    "invoice copy",
    "credit note",
    "gift card",
    "loyalty points",
    "trial",
    "special offer",
    "family plan",
    "sim card",
    "phone number",
    "voicemail",
    "roaming",
    "data plan",
    "hotspot",
    "fibre line",
    "landline",
    "fax",
    "scanner",
    "monitor",
    "mouse",
    "charging port",
    "smartwatch",
    "earbuds",
    "projector",
];

/// Chatty text around the phrases: none of these words is in the bot's vocabulary.
const OPENERS: [&str; 8] = [
    "",
    "hi there,",
    "hello! quick question:",
    "good morning, sorry to bother you but",
    "hey so basically",
    "hi, I was wondering if you could tell me",
    "ok so yesterday evening my husband and I tried everything and now",
    "Hello, thanks for getting back to me so quickly, I really appreciate it.",
];
const CLOSERS: [&str; 8] = [
    "",
    "please",
    "thanks!",
    "thank you so much in advance",
    "as soon as possible please, it is urgent",
    "because nothing happened after I tried yesterday and I am quite frustrated with all this",
    "?? I have been waiting for ages",
    "- kind regards, Maria",
];
const UNRELATED: [&str; 10] = [
    "what a lovely day it is today",
    "my cat keeps sitting on the keyboard haha",
    "is anyone there",
    "I just wanted to say hello and see how things are going over there",
    "do you like football",
    "the weather here has been terrible all week, rain every single day",
    "can you recommend a good restaurant nearby",
    "lol",
    "who won the match last night",
    "I am bored",
];
/// Small words the customer puts between phrase words ("I want to **just** reset…").
const INSERTED: [&str; 4] = ["just", "really", "please", "the"];

/// One intent: its verb and noun, and its phrases in `.bot` syntax.
pub struct Intent {
    pub verb: &'static str,
    pub noun: &'static str,
}

/// Phrase shapes of every intent (`V` = the verb, `N` = the noun).
const SHAPES: [&str; 4] =
    ["V [(my|the)] N", "how (do|can) i V [(my|the|a)] N", "i (want|need) to V [my] N", "N V"];

pub fn intents(count: usize) -> Vec<Intent> {
    // A bijection from intent number to (verb, noun): every pair is distinct and every verb and
    // noun is shared by many intents (gcd(1 + 37 × 60, 120) = 1).
    (0..count.min(VERBS.len() * NOUNS.len()))
        .map(|i| {
            let v = i % VERBS.len();
            let q = i / VERBS.len();
            let n = (q + i * 37) % NOUNS.len();
            Intent { verb: VERBS[v], noun: NOUNS[n] }
        })
        .collect()
}

fn phrase(shape: &str, intent: &Intent) -> String {
    shape.replace('V', intent.verb).replace('N', intent.noun)
}

/// The bot file: one `when` per intent, replying `answer I`; `sorry` otherwise.
pub fn bot_file(count: usize, typos: bool) -> String {
    let mut out = String::from("bot \"Benchmark\"\n");
    if typos {
        out.push_str("  typos tolerated\n");
    }
    out.push('\n');
    for (i, intent) in intents(count).iter().enumerate() {
        let _ = writeln!(out, "intent t{i}");
        for shape in SHAPES {
            let _ = writeln!(out, "  \"{}\"", phrase(shape, intent));
        }
        out.push('\n');
    }
    out.push_str("on start\n  go main\n\nstate main\n");
    for i in 0..intents(count).len() {
        let _ = writeln!(out, "  when t{i}\n    say \"answer {i}\"");
    }
    out.push_str("  otherwise\n    say \"sorry\"\n");
    out
}

/// The plain word sequences a shape expands to (for peers without alternatives).
fn expansions(shape: &str, intent: &Intent) -> Vec<String> {
    let mut results = vec![String::new()];
    for piece in shape.split(' ') {
        let options: Vec<&str> = if let Some(inner) = piece.strip_prefix('[') {
            let inner = inner.trim_end_matches(']').trim_start_matches('(').trim_end_matches(')');
            let mut o: Vec<&str> = inner.split('|').collect();
            o.push("");
            o
        } else if let Some(inner) = piece.strip_prefix('(') {
            inner.trim_end_matches(')').split('|').collect()
        } else {
            vec![piece]
        };
        let word = |o: &str| match o {
            "V" => intent.verb.to_string(),
            "N" => intent.noun.to_string(),
            other => other.to_string(),
        };
        results = results
            .iter()
            .flat_map(|r| {
                options.iter().map(move |o| {
                    let w = word(o);
                    match (r.is_empty(), w.is_empty()) {
                        (_, true) => r.clone(),
                        (true, false) => w,
                        (false, false) => format!("{r} {w}"),
                    }
                })
            })
            .collect();
    }
    results
}

/// AIML: every expansion as a pattern alone, after text, before text and inside text.
pub fn aiml_file(count: usize) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<aiml version=\"1.0.1\">\n");
    for (i, intent) in intents(count).iter().enumerate() {
        for shape in SHAPES {
            for p in expansions(shape, intent) {
                let p = p.to_uppercase();
                for pattern in [p.clone(), format!("* {p}"), format!("{p} *"), format!("* {p} *")] {
                    let _ = writeln!(
                        out,
                        "<category><pattern>{pattern}</pattern><template>answer {i}</template></category>"
                    );
                }
            }
        }
    }
    out.push_str("<category><pattern>*</pattern><template>sorry</template></category>\n</aiml>\n");
    out
}

/// `RiveScript`: alternatives and optional words are native; `[*]` allows text around.
pub fn rivescript_file(count: usize) -> String {
    let mut out = String::from("! version = 2.0\n\n");
    for (i, intent) in intents(count).iter().enumerate() {
        for shape in SHAPES {
            // RiveScript writes optional choices as `[my|the]`.
            let trigger = phrase(shape, intent).replace("[(", "[").replace(")]", "]");
            let _ = writeln!(out, "+ [*] {trigger} [*]\n- answer {i}\n");
        }
    }
    out.push_str("+ *\n- sorry\n");
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(self.0 >> 33).unwrap_or(0)
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next() % from.len()]
    }
}

/// One letter of a long word changed so that it is one edit from `word` and from no other word
/// of the vocabulary; `None` when no such typo exists.
fn typo(word: &str, rng: &mut Rng) -> Option<String> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 5 || !word.is_ascii() {
        return None;
    }
    for attempt in 0..8 {
        let at = 1 + (rng.next() + attempt) % (chars.len() - 2);
        let mut t = chars.clone();
        match rng.next() % 3 {
            0 => t.swap(at, at + 1),
            1 => {
                t.remove(at);
            }
            _ => t[at] = if t[at] == 'x' { 'z' } else { 'x' },
        }
        let t: String = t.into_iter().collect();
        let vocabulary = VERBS.iter().chain(NOUNS.iter()).flat_map(|w| w.split(' '));
        let clashes = vocabulary.filter(|v| *v != word).any(|v| *v == t || botrun_one_edit(v, &t));
        if t != word && !clashes {
            return Some(t);
        }
    }
    None
}

/// Damerau–Levenshtein ≤ 1, written out here so the corpus does not depend on the engine.
fn botrun_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    ra.is_empty() && rb.len() <= 1
        || rb.is_empty() && ra.len() <= 1
        || ra.get(1..) == rb.get(1..)
        || ra.get(1..) == Some(rb)
        || Some(ra) == rb.get(1..)
        || (ra.len() >= 2
            && rb.len() >= 2
            && ra[0] == rb[1]
            && ra[1] == rb[0]
            && ra[2..] == rb[2..])
}

/// A customer message and the reply it must get (with and without `typos tolerated`).
pub struct Input {
    pub message: String,
    pub expect_typos: String,
    pub expect_exact: String,
}

pub fn inputs(count: usize, how_many: usize) -> Vec<Input> {
    let intents = intents(count);
    let mut rng = Rng(0x5eed ^ count as u64);
    (0..how_many)
        .map(|_| {
            let roll = rng.next() % 100;
            if roll < 10 {
                let text = rng.pick(&UNRELATED).to_string();
                return Input {
                    message: text,
                    expect_typos: "sorry".into(),
                    expect_exact: "sorry".into(),
                };
            }
            let i = rng.next() % intents.len();
            let intent = &intents[i];
            let shape = SHAPES[rng.next() % SHAPES.len()];
            let forms = expansions(shape, intent);
            let mut words: Vec<String> =
                forms[rng.next() % forms.len()].split(' ').map(str::to_string).collect();
            // 10 % get a small word between two phrase words.
            if roll < 20 && words.len() > 2 {
                let at = 1 + rng.next() % (words.len() - 1);
                words.insert(at, rng.pick(&INSERTED).to_string());
            }
            // 10 % get one typo in a long word of the phrase.
            let mut typo_made = false;
            if (20..30).contains(&roll) {
                // The verb, or a one-word noun: without typo tolerance no other phrase can
                // then match, so the expected miss is certain.
                let long: Vec<usize> = (0..words.len())
                    .filter(|k| {
                        let w = &words[*k];
                        w.len() >= 5 && (w == intent.verb || (w == intent.noun && !w.contains(' ')))
                    })
                    .collect();
                if !long.is_empty() {
                    let k = long[rng.next() % long.len()];
                    if let Some(t) = typo(&words[k], &mut rng) {
                        words[k] = t;
                        typo_made = true;
                    }
                }
            }
            let mut message = String::new();
            let opener = rng.pick(&OPENERS);
            if !opener.is_empty() {
                message.push_str(opener);
                message.push(' ');
            }
            let body = words.join(" ");
            message.push_str(&match rng.next() % 4 {
                0 => body.to_uppercase(),
                1 => format!("{}{}", body[..1].to_uppercase(), &body[1..]),
                _ => body,
            });
            let closer = rng.pick(&CLOSERS);
            if !closer.is_empty() {
                message.push(' ');
                message.push_str(closer);
            }
            let answer = format!("answer {i}");
            Input {
                message,
                expect_exact: if typo_made { "sorry".into() } else { answer.clone() },
                expect_typos: answer,
            }
        })
        .collect()
}
