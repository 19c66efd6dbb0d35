//! A real editor client nobody here wrote: headless Neovim (Debian's `neovim` package) opens a bot
//! with a mistake through its built-in LSP client, reads the diagnostic back, jumps from `go menu`
//! to `state menu` and renames an intent across files.

use std::process::Command;

const SCRIPT: &str = r"
local bin, root, out = os.getenv('BOTRUN_BIN'), os.getenv('BOTS'), os.getenv('OUT')
local report = {}
-- start_client + buf_attach_client: the API of every Neovim from 0.5 on (Debian 12 ships 0.7).
local client = vim.lsp.start_client({ name = 'botrun', cmd = { bin, 'lsp' }, root_dir = root })
vim.lsp.buf_attach_client(0, client)
vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)
for _, d in ipairs(vim.diagnostic.get(0)) do
  table.insert(report, string.format('diagnostic %d:%d %s', d.lnum + 1, d.col + 1, (d.message:gsub('\n.*', ''))))
end
-- Jump from `go menu` (on start) to `state menu`.
vim.fn.cursor(vim.fn.search('go menu', 'n'), 6)
vim.lsp.buf.definition()
local want = vim.fn.search('^state menu', 'n')
vim.wait(10000, function() return vim.fn.line('.') == want end, 50)
table.insert(report, string.format('definition %d', vim.fn.line('.')))
-- Rename the intent `hello` (declared in the used file) from its use here.
vim.fn.cursor(vim.fn.search('when hello', 'n'), 9)
vim.lsp.buf.rename('greet')
vim.wait(10000, function() return vim.fn.search('when greet', 'n') > 0 end, 50)
vim.cmd('silent! wall')
vim.fn.writefile(report, out)
vim.cmd('qa!')
";

#[test]
fn neovim_shows_the_diagnostic_jumps_to_the_state_and_renames_across_files() {
    assert!(
        Command::new("nvim").arg("--version").output().is_ok(),
        "this test needs Neovim: apt-get install -y neovim (.ci/run installs it)"
    );
    let (dir, main, talk) = super::bots();
    let broken = super::MAIN.replace("    go menu\n  when hello", "    go menuu\n  when hello");
    std::fs::write(&main, &broken).expect("write");
    let script = dir.path().join("check.lua");
    std::fs::write(&script, SCRIPT).expect("write script");
    let out = dir.path().join("report.txt");
    let status = Command::new("nvim")
        .args(["--headless", "--clean", "-n"])
        .arg(&main)
        .arg("-c")
        .arg(format!("luafile {}", script.display()))
        .env("BOTRUN_BIN", env!("CARGO_BIN_EXE_botrun"))
        .env("BOTS", super::root_of(&main))
        .env("OUT", &out)
        .env("XDG_STATE_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("nvim runs");
    let report = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!("Neovim wrote no report: {}", String::from_utf8_lossy(&status.stderr))
    });
    let line = broken.lines().position(|l| l.contains("go menuu")).expect("line") + 1;
    assert!(report.contains(&format!("diagnostic {line}:8 unknown state `menuu`")), "{report}");
    let state_line = broken.lines().position(|l| l == "state menu").expect("state") + 1;
    assert!(report.contains(&format!("definition {state_line}")), "{report}");
    assert!(std::fs::read_to_string(&main).expect("main").contains("when greet"));
    assert!(std::fs::read_to_string(&talk).expect("talk").contains("anytime greet"));
}
