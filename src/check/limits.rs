//! Limits and good practice: buttons within the channel limit, questions that ask something and
//! say what happens when the answer is wrong, positive weights, and `fetch` only to allow-listed hosts.

use crate::diagnostic::Diagnostic;
use crate::syntax::ast::{BotSetting, File, Item, StmtKind, Template};

use super::visit::for_each_stmt;

/// Quick replies most channels show at once; `buttons at most N` in `bot` changes it.
pub(crate) const DEFAULT_BUTTON_LIMIT: u32 = 10;

pub fn check(file: &File, fetch_hosts: Option<&[String]>, out: &mut Vec<Diagnostic>) {
    let limit = file
        .items
        .iter()
        .find_map(|item| match item {
            Item::Bot(bot) => bot.settings.iter().find_map(|s| match s {
                BotSetting::ButtonLimit { limit, .. } => Some(*limit),
                _ => None,
            }),
            _ => None,
        })
        .unwrap_or(DEFAULT_BUTTON_LIMIT);
    for_each_stmt(file, &mut |stmt, _| match &stmt.kind {
        StmtKind::Buttons { labels: buttons, .. } if buttons.len() > limit as usize => {
            out.push(
                    Diagnostic::error("botrun::too_many_buttons", format!("{} buttons, but the channel shows at most {limit}", buttons.len()))
                        .at(stmt.span, "too many buttons")
                        .with_help("offer fewer choices, or raise the limit with `buttons at most N` under `bot` if your channel allows it"),
                );
        }
        StmtKind::Ask(ask) if ask.prompt.is_empty() => {
            out.push(
                Diagnostic::warning("botrun::ask_without_prompt", format!("the question for `{}` asks nothing: no question is indented under `ask`", ask.var.name))
                    .at(stmt.span, "nothing to ask")
                    .with_help(format!("indent the question under `ask` so the customer sees it, and it is repeated when an answer is wrong:\n  ask {} as …\n    say \"…?\"", ask.var.name)),
            );
        }
        StmtKind::Ask(ask) if ask.retries.is_empty() && ask.after_retries.is_none() => {
            out.push(
                    Diagnostic::warning("botrun::ask_without_retry", format!("the question for `{}` never says what happens after a wrong answer", ask.var.name))
                        .at(stmt.span, "no `retry` and no `after N retries`")
                        .with_help("add `retry \"…\"` to explain the expected answer, and `after 2 retries` to give up gracefully"),
                );
        }
        StmtKind::SayOneOf(choices) => {
            for choice in choices {
                if choice.weight == Some(0) {
                    out.push(
                        Diagnostic::error(
                            "botrun::zero_weight",
                            "a reply with weight 0 is never said",
                        )
                        .at(choice.span, "weight 0")
                        .with_help("remove the reply, or give it a weight of 1 or more"),
                    );
                }
            }
        }
        StmtKind::Fetch(fetch) => {
            if let Some(allowed) = fetch_hosts {
                check_host(&fetch.url, allowed, out);
            }
        }
        _ => {}
    });
}

/// The host of a URL template when it is written out literally (`https://shop.example/…`);
/// `None` when the host comes from a placeholder such as `{env.SHOP_API}`.
pub(crate) fn literal_host(url: &Template) -> Option<String> {
    let raw = &url.raw;
    let rest = raw.split_once("://").map(|(_, rest)| rest)?;
    let host_end = rest.find(['/', ':', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.contains('{') || raw.find('{').is_some_and(|brace| brace < raw.find("://").unwrap_or(0))
    {
        return None;
    }
    Some(host.to_lowercase())
}

fn check_host(url: &Template, allowed: &[String], out: &mut Vec<Diagnostic>) {
    let Some(host) = literal_host(url) else { return };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(&host)) {
        return;
    }
    out.push(
        Diagnostic::error("botrun::fetch_host_not_allowed", format!("`{host}` is not in the fetch allow-list"))
            .at(url.span, "this host is not allowed")
            .with_help(format!("add `{host}` to `fetch.allow_hosts` in the service configuration, or fetch from an allowed host")),
    );
}
