//! Transcripts in several languages. `language: es` (in the file or in one test) runs a test in
//! that language; `language: [en, es]` runs it once per language. Any step value may then be
//! written per language, as a mapping from language to value:
//! `bot: {en: "Hi!", es: "¡Hola!"}`, `customer: {en: "agent", es: "agente"}`.

use serde_norway::Value as Yaml;

/// The languages a `language:` value names (one code, or a list of codes).
pub(super) fn languages(value: &Yaml) -> Result<Vec<String>, String> {
    let codes: Vec<String> = match value {
        Yaml::String(code) => vec![code.clone()],
        Yaml::Sequence(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or("`language` takes a language code such as `es`, or a list such as `[en, es]`")?,
        _ => {
            return Err(
                "`language` takes a language code such as `es`, or a list such as `[en, es]`"
                    .into(),
            )
        }
    };
    if codes.is_empty() {
        return Err("`language` is an empty list: name at least one language".into());
    }
    Ok(codes)
}

/// `steps` as they read in `language`: each per-language mapping (whose keys are all among
/// `all`) is replaced by its value for `language`.
pub(super) fn localise(
    steps: &[Yaml],
    all: &[String],
    language: &str,
) -> Result<Vec<Yaml>, (String, usize)> {
    steps
        .iter()
        .enumerate()
        .map(|(i, step)| localise_value(step, all, language, 0).map_err(|e| (e, i)))
        .collect()
}

fn localise_value(
    value: &Yaml,
    all: &[String],
    language: &str,
    depth: usize,
) -> Result<Yaml, String> {
    let Yaml::Mapping(map) = value else { return Ok(value.clone()) };
    let per_language = depth > 0
        && !map.is_empty()
        && map.keys().all(|k| k.as_str().is_some_and(|k| all.iter().any(|c| c == k)));
    if per_language {
        return map
            .get(language)
            .cloned()
            .ok_or_else(|| format!("no `{language}` version of this step (it has {})", keys(map)));
    }
    let mut out = serde_norway::Mapping::new();
    for (k, v) in map {
        out.insert(k.clone(), localise_value(v, all, language, depth + 1)?);
    }
    Ok(Yaml::Mapping(out))
}

fn keys(map: &serde_norway::Mapping) -> String {
    map.keys().filter_map(Yaml::as_str).map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}
