//! Generated bots for benchmarks: one description (intents, their phrases, replies and a list of
//! customer inputs) rendered as a `.bot` file, a `RiveScript` file and an AIML file, so botrun and
//! its peers are measured on the same triggers and the same inputs.

use std::fmt::Write as _;

/// A made-up but pronounceable word for intent `i` (unique per `i`).
pub fn word(i: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "ba", "do", "fi", "gu", "ha", "je",
        "pa", "qi", "wu", "xo", "yi",
    ];
    let mut n = i;
    let mut out = String::new();
    loop {
        out.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
        if n == 0 {
            break;
        }
    }
    out.push('x');
    out
}

/// The benchmark's description: for each intent, its phrases and its reply.
pub fn description(intents: usize) -> Vec<(String, Vec<String>, String)> {
    (0..intents)
        .map(|i| {
            let w = word(i);
            let other = word((i * 7 + 3) % intents.max(1));
            (
                format!("topic{i}"),
                vec![
                    format!("tell me about {w}"),
                    format!("how does {w} work"),
                    format!("{w} and {other} together"),
                ],
                format!("answer {i}"),
            )
        })
        .collect()
}

/// `count` customer inputs: mostly phrases (varied in case and punctuation), some misses.
pub fn inputs(intents: usize, count: usize) -> Vec<String> {
    let description = description(intents);
    let mut state: u64 = 0x5eed;
    let mut next = move || {
        state =
            state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(state >> 33).unwrap_or(0)
    };
    (0..count)
        .map(|_| {
            let pick = next();
            if pick % 10 == 0 {
                return format!("something unrelated number {}", pick % 1000);
            }
            let (_, phrases, _) = &description[pick % description.len().max(1)];
            let phrase = &phrases[(pick / 7) % phrases.len()];
            if pick % 3 == 0 {
                format!("{}?", phrase.to_uppercase())
            } else {
                phrase.clone()
            }
        })
        .collect()
}

/// The description as a `.bot` file.
pub fn bot_file(intents: usize) -> String {
    let mut out = String::from("bot \"Benchmark\"\n\n");
    for (name, phrases, _) in description(intents) {
        let _ = writeln!(out, "intent {name}");
        for p in phrases {
            let _ = writeln!(out, "  \"{p}\"");
        }
        out.push('\n');
    }
    out.push_str("on start\n  go main\n\nstate main\n");
    for (name, _, reply) in description(intents) {
        let _ = writeln!(out, "  when {name}\n    say \"{reply}\"");
    }
    out.push_str("  otherwise\n    say \"sorry\"\n");
    out
}

/// The description as `RiveScript`.
pub fn rivescript_file(intents: usize) -> String {
    let mut out = String::from("! version = 2.0\n\n");
    for (_, phrases, reply) in description(intents) {
        for p in phrases {
            let _ = writeln!(out, "+ {p}\n- {reply}\n");
        }
    }
    out.push_str("+ *\n- sorry\n");
    out
}

/// The description as AIML.
pub fn aiml_file(intents: usize) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<aiml version=\"1.0.1\">\n");
    for (_, phrases, reply) in description(intents) {
        for p in phrases {
            let _ = writeln!(
                out,
                "<category><pattern>{}</pattern><template>{reply}</template></category>",
                p.to_uppercase()
            );
        }
    }
    out.push_str("<category><pattern>*</pattern><template>sorry</template></category>\n</aiml>\n");
    out
}

/// A large bot for the `validate` benchmark: `intents` intents with ten phrases each, every one
/// handled in a state (about ten lines per intent).
pub fn large_bot(intents: usize) -> String {
    let mut out = String::from("bot \"Large\"\n  timezone \"Europe/Paris\"\n\nlist colour\n  \"red\", \"green\", \"blue\"\n\n");
    for i in 0..intents {
        let w = word(i);
        let _ = writeln!(out, "intent topic{i}");
        let _ = writeln!(
            out,
            "  \"tell me about {w}\", \"how does {w} work\", \"[please] explain {w}\""
        );
        let _ = writeln!(out, "  \"what is (a|the) {w}\", \"{w} price\", \"buy {w} {{n:number}}\"");
        let _ = writeln!(
            out,
            "  \"{w} in @colour\", \"{w} help *\", \"where can i find {w}\", \"{w} not working\"\n"
        );
    }
    out.push_str("on start\n  go main\n\nstate main\n");
    for i in 0..intents {
        let _ = writeln!(out, "  when topic{i}\n    if n is not empty\n      say \"{{n}} of {w} coming up\"\n    else\n      say \"About {w}: see the guide.\"", w = word(i));
    }
    out.push_str(
        "  otherwise\n    say \"sorry\"\n    after 3 misses\n      handoff note \"lost\"\n",
    );
    out
}
