//! What operators and CI users install: the shell completions, the manual pages and the
//! version line are generated from the command definition, and generation works.

use std::path::Path;
use std::process::{Command, Output};

use botrun::cli::Cli;
use clap::CommandFactory as _;

fn botrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_botrun")).args(args).output().expect("botrun runs")
}

/// Every visible top-level subcommand, read from the definition that parses the arguments.
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .map(|sub| sub.get_name().to_owned())
        .collect()
}

/// Whether `program` can be started; CI installs every shell, so there it must be present.
fn available(program: &str) -> bool {
    let found = Command::new(program).arg("-c").arg("true").output().is_ok();
    assert!(
        found || std::env::var_os("CI").is_none(),
        "{program} is missing on CI (.ci/run installs it)"
    );
    found
}

#[test]
fn completions_name_every_subcommand_and_parse_in_their_shell() {
    let names = subcommands();
    assert!(names.iter().any(|n| n == "completions") && names.len() > 10, "{names:?}");
    for (shell, check) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        let out = botrun(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8(out.stdout).expect("UTF-8");
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell} completion lacks `{name}`");
        }
        // The nested `cx` commands are completed too, not only the first level.
        assert!(
            script.contains("agent-bot") || script.contains("agent_bot"),
            "{shell}: no cx subcommands"
        );
        if available(check) {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = dir.path().join(format!("botrun.{shell}"));
            std::fs::write(&file, &script).expect("write");
            let parsed = Command::new(check).arg("-n").arg(&file).output().expect("shell runs");
            assert!(
                parsed.status.success(),
                "{shell} -n rejects the script: {}",
                String::from_utf8_lossy(&parsed.stderr)
            );
        }
    }
}

#[test]
fn bash_completion_offers_subcommands_and_options_when_sourced() {
    // Source the script and ask the completion function what follows `botrun ` and
    // `botrun validate --f`, as bash does on Tab.
    let script = String::from_utf8(botrun(&["completions", "bash"]).stdout).expect("UTF-8");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("botrun.bash");
    std::fs::write(&file, script).expect("write");
    let ask = |words: &str, cword: usize| -> String {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; \
             COMP_POINT=${{#COMP_LINE}}; _botrun botrun \"${{COMP_WORDS[COMP_CWORD]}}\" \
             \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = Command::new("bash").arg("-c").arg(program).output().expect("bash runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let first = ask("botrun ''", 1);
    for name in subcommands() {
        assert!(first.lines().any(|l| l == name), "Tab after `botrun` lacks {name}: {first}");
    }
    let options = ask("botrun validate --f", 2);
    assert!(options.lines().any(|l| l == "--format"), "{options}");
}

#[test]
fn an_unknown_shell_is_a_usage_error_naming_the_choices() {
    let out = botrun(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bash") && err.contains("zsh") && err.contains("fish"), "{err}");
}

#[test]
fn man_pages_are_generated_for_every_command_and_render() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = botrun(&["man", "--out-dir", dir.path().to_str().expect("UTF-8 path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let page = |name: &str| dir.path().join(format!("{name}.1"));
    let mut expected = vec![page("botrun")];
    expected.extend(subcommands().iter().map(|sub| page(&format!("botrun-{sub}"))));
    expected.push(page("botrun-cx-agent-bot-create"));
    for file in &expected {
        assert!(file.is_file(), "{} was not written", file.display());
    }
    let listed = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(listed.lines().count(), std::fs::read_dir(dir.path()).expect("read").count());

    // The page describes the real options: `serve`'s page names `--config` and its help text.
    let serve = std::fs::read_to_string(page("botrun-serve")).expect("read");
    assert!(serve.starts_with(".ie") || serve.contains(".TH"), "not roff: {serve}");
    assert!(serve.contains("config") && serve.contains("without serving"), "{serve}");

    // The printed page is the same text as the written one, and groff renders it cleanly.
    let printed = botrun(&["man"]);
    assert!(printed.status.success());
    assert_eq!(printed.stdout, std::fs::read(page("botrun")).expect("read"));
    render_without_warnings(&page("botrun"));
}

fn render_without_warnings(page: &Path) {
    if !available("groff") {
        return;
    }
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output()
        .expect("groff runs");
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "groff warns: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = botrun(&["--version"]);
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(line.starts_with(&format!("botrun {} (commit ", env!("CARGO_PKG_VERSION"))), "{line}");
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    match head {
        Ok(head) if head.status.success() => {
            let head = String::from_utf8(head.stdout).expect("UTF-8");
            assert!(line.contains(&head[..12]), "`{line}` does not name HEAD {head}");
        }
        // Built from a tree without git: build.rs falls back to the variable or `unknown`.
        _ => assert!(line.contains("(commit "), "{line}"),
    }
    // Subcommands name the same build.
    let sub = String::from_utf8(botrun(&["serve", "--version"]).stdout).expect("UTF-8");
    assert_eq!(sub.trim(), format!("botrun-serve {}", botrun::cli::VERSION));
    assert!(line.trim().ends_with(botrun::cli::VERSION), "{line}");
}
