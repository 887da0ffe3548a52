"""Shell completion: `eval "$(dtl -sc install=bash)"` (or `install=zsh`).

The script is Hydra's; it asks `dtl -sc query=bash` with the line typed so far in
COMP_LINE. dtl answers the first word itself (the verbs) and hands everything after a verb to
Hydra's completion of config groups, options and keys, as if the verb were not there.
"""

from __future__ import annotations

import os
import sys

# zsh runs the bash script through its bash-compatibility layer.
ZSH_PRELUDE = "autoload -Uz compinit bashcompinit && compinit -u && bashcompinit\n"


def verb_choices(line: str, verbs: list[str]) -> list[str] | None:
    """The verbs matching the word being typed when it is the first one after `dtl`, else
    None (a verb is already there)."""
    words = line.split()
    typing_first = len(words) <= 1 or (len(words) == 2 and not line.endswith(" "))
    if not typing_first:
        return None
    prefix = words[1] if len(words) == 2 else ""
    return [verb for verb in verbs if verb.startswith(prefix)]


def after_verb(line: str) -> tuple[str, str]:
    """(`dtl VERB ...` line -> the verb, and the line Hydra should complete: `dtl ...`)."""
    parts = line.lstrip().split(None, 2)
    rest = parts[2] if len(parts) > 2 else ""
    if len(parts) == 2 and line.endswith(" "):
        rest = ""
    return parts[1], f"dtl {rest}"


def main(args: list[str], verbs: list[str], hydra_verbs: list[str]) -> int:
    """`args` are the words after `-sc` (e.g. `install=bash`, `query=bash`)."""
    commands = [a for a in args if a.split("=")[0] in ("install", "uninstall", "query")]
    if len(commands) != 1:
        print(
            "dtl: error: -sc needs one of install=bash, install=zsh, uninstall=bash, "
            'query=bash; e.g. eval "$(dtl -sc install=bash)"',
            file=sys.stderr,
        )
        return 2
    command, _, shell = commands[0].partition("=")
    if command == "query":
        line = os.environ.get("COMP_LINE", "dtl ")
        choices = verb_choices(line, verbs)
        if choices is not None:
            print(" ".join(choices))
            return 0
        verb, rest = after_verb(line)
        if verb not in hydra_verbs:
            return 0  # report/info take folders and flags: the shell completes file names
        os.environ["COMP_LINE"] = rest
        os.environ["COMP_POINT"] = str(len(rest))
    if command == "install" and shell == "zsh":
        print(ZSH_PRELUDE, end="")
        shell = "bash"
    return _hydra(f"{command}={shell}")


def _hydra(command: str) -> int:
    from dtl_cli.hydra_app import hydra_entry

    # Hydra names the completed program after argv[0]: `dtl`, not `dtl VERB`.
    sys.argv = ["dtl", "-sc", command]
    hydra_entry()
    return 0
