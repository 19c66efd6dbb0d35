"""Runs the composite GitHub Action in action.yml the way a runner does, for packaging/check-action.

Each `run` step goes through `bash --noprofile --norc -eo pipefail` with its `env`, after the
`${{ inputs.* }}` and `${{ runner.temp }}` expressions are replaced; a step's `if` is evaluated
for the one form the action uses (`${{ inputs.NAME == 'true' }}`); lines appended to
$GITHUB_PATH go in front of PATH for later steps. Stops at the first failing step and exits with
its code. Usage: python3 run-action.py ACTION_DIR WORKSPACE [NAME=VALUE ...]
"""

import os
import re
import subprocess
import sys
import tempfile

import yaml  # PyYAML, installed with pre-commit

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def main() -> int:
    action_dir, workspace, *pairs = sys.argv[1:]
    with open(os.path.join(action_dir, "action.yml"), encoding="utf-8") as file:
        action = yaml.safe_load(file)
    assert action["runs"]["using"] == "composite", "only composite actions are run here"
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    for pair in pairs:
        name, value = pair.split("=", 1)
        if name not in inputs:
            raise SystemExit(f"action.yml has no input {name!r}")
        inputs[name] = value
    temp = tempfile.mkdtemp(prefix="runner-temp-")
    github_path = os.path.join(temp, "github_path")
    open(github_path, "w", encoding="utf-8").close()

    def evaluate(expression: str) -> str:
        match = re.fullmatch(r"inputs\.([\w-]+)\s*==\s*'([^']*)'", expression)
        if match:
            return "true" if inputs[match.group(1)] == match.group(2) else "false"
        match = re.fullmatch(r"inputs\.([\w-]+)", expression)
        if match:
            return inputs[match.group(1)]
        if expression == "runner.temp":
            return temp
        raise SystemExit(f"expression not supported here: {expression}")

    def substitute(text: str) -> str:
        return EXPRESSION.sub(lambda m: evaluate(m.group(1)), str(text))

    for step in action["runs"]["steps"]:
        name = step.get("name", "step")
        condition = step.get("if")
        if condition is not None and substitute(condition) != "true":
            print(f"-- skipped: {name}", flush=True)
            continue
        assert step.get("shell") == "bash", f"{name}: only bash steps are run here"
        env = dict(os.environ)
        env.update(GITHUB_ACTION_PATH=action_dir, GITHUB_PATH=github_path,
                   GITHUB_WORKSPACE=workspace, RUNNER_TEMP=temp, GITHUB_ACTIONS="true")
        with open(github_path, encoding="utf-8") as file:
            added = [line.strip() for line in file if line.strip()]
        env["PATH"] = os.pathsep.join(list(reversed(added)) + [env["PATH"]])
        env.update({key: substitute(value) for key, value in step.get("env", {}).items()})
        script = os.path.join(temp, "step.sh")
        with open(script, "w", encoding="utf-8") as file:
            file.write(substitute(step["run"]))
        print(f"-- {name}", flush=True)
        code = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
                              cwd=workspace, env=env, check=False).returncode
        if code != 0:
            print(f"-- failed: {name} (exit {code})", flush=True)
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
