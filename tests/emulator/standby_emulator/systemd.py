"""What systemd does with the files a node's user data leaves behind.

- `parse_env_file`: `EnvironmentFile=` read with systemd's own rules, a
  transcription of `parse_env_file_internal()` and `load_env_file_push()` in
  systemd's src/basic/env-file.c (systemd.exec(5), "EnvironmentFile="):
  leading blanks skipped, `#`/`;` comments, an unquoted value chomped of
  trailing blanks with `\\x` giving `x`, '…' taken literally, "…" spanning
  lines with `\\` escaping only `"\\`$` (other escapes kept), a line without
  `=` dropped, a later assignment replacing an earlier one, and names that
  are no valid environment names ignored (exec_context_load_environment →
  strv_env_clean). A value is what Mattermost then reads, so a password with
  a backslash, a leading quote or blanks around it arrives changed.
- `parse_unit`: a unit file or drop-in (systemd.syntax(7)): sections,
  `Key=Value`, comments, backslash-newline continuation; an empty
  assignment resets a list setting (EnvironmentFile=, Environment=).
"""

WHITESPACE = " \t\n\r"
NEWLINE = "\n\r"
COMMENTS = "#;"
SHELL_NEED_ESCAPE = '"\\`$'


def parse_env_file(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    state = "PRE_KEY"
    key: list[str] = []
    value: list[str] | None = None
    last_key_ws: int | None = None
    last_value_ws: int | None = None

    def push(chomp: bool) -> None:
        nonlocal key, value
        k = "".join(key[:last_key_ws] if last_key_ws is not None else key)
        v = value or []
        if chomp and last_value_ws is not None:
            v = v[:last_value_ws]
        _push(out, k, "".join(v))
        key, value = [], None

    for c in text:
        if state == "PRE_KEY":
            if c in COMMENTS:
                state = "COMMENT"
            elif c not in WHITESPACE:
                state, last_key_ws = "KEY", None
                key.append(c)
        elif state == "KEY":
            if c in NEWLINE:
                state, key = "PRE_KEY", []
            elif c == "=":
                state, last_value_ws = "PRE_VALUE", None
            else:
                if c not in WHITESPACE:
                    last_key_ws = None
                elif last_key_ws is None:
                    last_key_ws = len(key)
                key.append(c)
        elif state == "PRE_VALUE":
            if c in NEWLINE:
                state = "PRE_KEY"
                push(False)
            elif c == "'":
                state = "SINGLE_QUOTE_VALUE"
            elif c == '"':
                state = "DOUBLE_QUOTE_VALUE"
            elif c == "\\":
                state = "VALUE_ESCAPE"
            elif c not in WHITESPACE:
                state = "VALUE"
                value = (value or []) + [c]
        elif state == "VALUE":
            if c in NEWLINE:
                state = "PRE_KEY"
                push(True)
            elif c == "\\":
                state, last_value_ws = "VALUE_ESCAPE", None
            else:
                if c not in WHITESPACE:
                    last_value_ws = None
                elif last_value_ws is None:
                    last_value_ws = len(value or [])
                value = (value or []) + [c]
        elif state == "VALUE_ESCAPE":
            state = "VALUE"
            if c not in NEWLINE:  # escaped newlines are eaten up entirely
                value = (value or []) + [c]
        elif state == "SINGLE_QUOTE_VALUE":
            if c == "'":
                state = "PRE_VALUE"
            else:
                value = (value or []) + [c]
        elif state == "DOUBLE_QUOTE_VALUE":
            if c == '"':
                state = "PRE_VALUE"
            elif c == "\\":
                state = "DOUBLE_QUOTE_VALUE_ESCAPE"
            else:
                value = (value or []) + [c]
        elif state == "DOUBLE_QUOTE_VALUE_ESCAPE":
            state = "DOUBLE_QUOTE_VALUE"
            if c in SHELL_NEED_ESCAPE:
                value = (value or []) + [c]
            elif c != "\n":  # like the shell, other escapes keep their backslash
                value = (value or []) + ["\\", c]
        elif state == "COMMENT":
            if c == "\\":
                state = "COMMENT_ESCAPE"
            elif c in NEWLINE:
                state = "PRE_KEY"
        elif state == "COMMENT_ESCAPE":
            state = "COMMENT"
    if state in ("PRE_VALUE", "VALUE", "VALUE_ESCAPE", "SINGLE_QUOTE_VALUE", "DOUBLE_QUOTE_VALUE",
                 "DOUBLE_QUOTE_VALUE_ESCAPE"):
        push(state == "VALUE")
    return out


def _valid_name(name: str) -> bool:
    # env_name_is_valid(): not empty, no digit first, only [A-Za-z0-9_].
    return bool(name) and not name[0].isdigit() and all(c.isascii() and (c.isalnum() or c == "_") for c in name)


def _push(out: dict[str, str], key: str, value: str) -> None:
    if _valid_name(key):
        out[key] = value


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections → [(key, value)] in order, continuation lines joined."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        if current is None or "=" not in line:
            continue
        k, v = line.split("=", 1)
        current.append((k.strip(), v.strip()))
    return sections


def merged(units: list[str]) -> dict[str, dict[str, list[str]]]:
    """A unit file and its drop-ins, in order: each key's values, an empty
    assignment clearing the ones before it (systemd.unit(5), drop-ins)."""
    out: dict[str, dict[str, list[str]]] = {}
    for text in units:
        for section, items in parse_unit(text).items():
            sec = out.setdefault(section, {})
            for k, v in items:
                if v == "":
                    sec[k] = []
                else:
                    sec.setdefault(k, []).append(v)
    return out


def environment_assignments(value: str) -> dict[str, str]:
    """`Environment=` values: space-separated assignments, double quotes
    group (systemd.exec(5), "Environment=")."""
    import shlex

    out = {}
    try:
        words = shlex.split(value)
    except ValueError:
        return out
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            if _valid_name(k):
                out[k] = v
    return out


def seconds(value: str, default: float) -> float:
    """A systemd time span such as `10`, `10s`, `500ms`, `1min` (systemd.time(7))."""
    v = value.strip().lower()
    for suffix, mult in (("ms", 0.001), ("min", 60.0), ("s", 1.0), ("m", 60.0)):
        if v.endswith(suffix):
            try:
                return float(v[: -len(suffix)]) * mult
            except ValueError:
                return default
    try:
        return float(v)
    except ValueError:
        return default
