//! Reads the test manifests, so the harness knows where to put the binary and the native
//! reference run knows the args, env, workdir and files without repeating them.
//!
//! This is NOT uvm's manifest parser, only a tiny reader for the TOML subset the files in
//! `tests/manifests/` use: `[table]`, `[[array-of-tables]]`, `key = value` with basic strings,
//! integers, booleans, arrays (may span lines) and inline tables. Unknown keys are errors,
//! so a manifest cannot silently mean something the native run ignores.

/// What a test manifest says.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// `[app] name`: the image is `<name>.uvm`.
    pub name: String,
    /// `[app] binary`: relative to the manifest, or absolute.
    pub binary: String,
    /// `[app] args` (argv[1..]).
    pub args: Vec<String>,
    /// `[app] env`, in file order.
    pub env: Vec<(String, String)>,
    /// `[app] workdir`.
    pub workdir: Option<String>,
    /// `[[files]]`: (src relative to the manifest, dst absolute in the guest).
    pub files: Vec<(String, String)>,
    /// `[vm] memory_mib`.
    pub memory_mib: Option<i64>,
    /// `[vm] tmpfs`: where the VM mounts a new tmpfs (the native reference run does not).
    pub tmpfs: Vec<String>,
    /// `[vm] read_only`: the root file system is the image, read-only (else writable).
    pub read_only: bool,
}

impl Manifest {
    /// argv[0] as uvm sets it: the binary's file name.
    pub fn argv0(&self) -> &str {
        self.binary.rsplit('/').next().unwrap_or(&self.binary)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Array(Vec<Value>),
    Table(Vec<(String, Value)>),
}

/// Parses a manifest (`what` names it in errors).
pub fn parse(text: &str, what: &str) -> Result<Manifest, String> {
    let mut p = Parser { s: text.chars().collect(), i: 0 };
    let mut m = Manifest::default();
    let mut table = String::new();
    loop {
        p.skip_blank(true);
        let Some(c) = p.peek() else { break };
        let line = p.line();
        let err = |e: String| format!("{what}:{line}: {e}");
        if c == '[' {
            let array = p.s.get(p.i + 1) == Some(&'[');
            p.i += if array { 2 } else { 1 };
            let start = p.i;
            while p.peek().is_some_and(|c| c != ']' && c != '\n') {
                p.i += 1;
            }
            table = p.s[start..p.i].iter().collect::<String>().trim().to_string();
            p.expect(if array { "]]" } else { "]" }).map_err(err)?;
            match (table.as_str(), array) {
                ("app", false) | ("vm", false) => {}
                ("files", true) => m.files.push((String::new(), String::new())),
                _ => return Err(err(format!("unexpected table header for `{table}`"))),
            }
            p.end_of_line().map_err(err)?;
            continue;
        }
        let key = p.key().map_err(err)?;
        p.skip_blank(false);
        p.expect("=").map_err(err)?;
        p.skip_blank(false);
        let value = p.value().map_err(err)?;
        p.end_of_line().map_err(err)?;
        let bad = |want: &str| err(format!("`{table}.{key}` must be {want}"));
        match (table.as_str(), key.as_str(), value) {
            ("app", "name", Value::Str(s)) => m.name = s,
            ("app", "binary", Value::Str(s)) => m.binary = s,
            ("app", "workdir", Value::Str(s)) => m.workdir = Some(s),
            // For `uvm run` alone (the native reference run gets no signal from uvm).
            ("app", "stop_signal", Value::Str(_)) => {}
            ("app", "args", Value::Array(items)) => {
                m.args = items
                    .into_iter()
                    .map(|v| if let Value::Str(s) = v { Ok(s) } else { Err(bad("an array of strings")) })
                    .collect::<Result<_, _>>()?;
            }
            ("app", "env", Value::Table(items)) => {
                m.env = items
                    .into_iter()
                    .map(|(k, v)| if let Value::Str(s) = v { Ok((k, s)) } else { Err(bad("a table of strings")) })
                    .collect::<Result<_, _>>()?;
            }
            ("files", "src", Value::Str(s)) => m.files.last_mut().expect("in [[files]]").0 = s,
            ("files", "dst", Value::Str(s)) => m.files.last_mut().expect("in [[files]]").1 = s,
            ("vm", "memory_mib", Value::Int(n)) => m.memory_mib = Some(n),
            ("vm", "read_only", Value::Bool(b)) => m.read_only = b,
            ("vm", "tmpfs", Value::Array(items)) => {
                m.tmpfs = items
                    .into_iter()
                    .map(|v| if let Value::Str(s) = v { Ok(s) } else { Err(bad("an array of strings")) })
                    .collect::<Result<_, _>>()?;
            }
            (_, _, v) => return Err(err(format!("unexpected `{key} = {v:?}` in [{table}]"))),
        }
    }
    if m.name.is_empty() || m.binary.is_empty() {
        return Err(format!("{what}: [app] needs `name` and `binary`"));
    }
    if let Some((src, dst)) = m.files.iter().find(|(s, d)| s.is_empty() || !d.starts_with('/')) {
        return Err(format!("{what}: [[files]] needs `src` and an absolute `dst` (got {src:?} -> {dst:?})"));
    }
    Ok(m)
}

struct Parser {
    s: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn line(&self) -> usize {
        1 + self.s[..self.i.min(self.s.len())].iter().filter(|&&c| c == '\n').count()
    }

    /// Skips spaces and comments, and newlines too if `newlines`.
    fn skip_blank(&mut self, newlines: bool) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\n' if newlines => self.i += 1,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        for want in token.chars() {
            if self.peek() != Some(want) {
                return Err(format!("expected `{token}`, found {:?}", self.peek()));
            }
            self.i += 1;
        }
        Ok(())
    }

    fn end_of_line(&mut self) -> Result<(), String> {
        self.skip_blank(false);
        match self.peek() {
            None | Some('\n') => Ok(()),
            Some(c) => Err(format!("unexpected {c:?} after the value")),
        }
    }

    fn key(&mut self) -> Result<String, String> {
        if self.peek() == Some('"') {
            return self.string();
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            self.i += 1;
        }
        if start == self.i {
            return Err(format!("expected a key, found {:?}", self.peek()));
        }
        Ok(self.s[start..self.i].iter().collect())
    }

    fn value(&mut self) -> Result<Value, String> {
        match self.peek() {
            Some('"') => self.string().map(Value::Str),
            Some('[') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blank(true);
                    if self.peek() == Some(']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(self.value()?);
                    self.skip_blank(true);
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some(']') => {}
                        c => return Err(format!("expected `,` or `]` in an array, found {c:?}")),
                    }
                }
            }
            Some('{') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blank(false);
                    if self.peek() == Some('}') {
                        self.i += 1;
                        return Ok(Value::Table(items));
                    }
                    let key = self.key()?;
                    self.skip_blank(false);
                    self.expect("=")?;
                    self.skip_blank(false);
                    items.push((key, self.value()?));
                    self.skip_blank(false);
                    match self.peek() {
                        Some(',') => self.i += 1,
                        Some('}') => {}
                        c => return Err(format!("expected `,` or `}}` in an inline table, found {c:?}")),
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '+') {
                    self.i += 1;
                }
                let word: String = self.s[start..self.i].iter().collect();
                match word.as_str() {
                    "true" => Ok(Value::Bool(true)),
                    "false" => Ok(Value::Bool(false)),
                    _ => word.replace('_', "").parse().map(Value::Int).map_err(|_| format!("bad value {word:?}")),
                }
            }
        }
    }

    /// A basic string `"..."` with the usual escapes.
    fn string(&mut self) -> Result<String, String> {
        self.expect("\"")?;
        let mut out = String::new();
        loop {
            let c = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match c {
                '"' => return Ok(out),
                '\n' => return Err("newline in a string".into()),
                '\\' => {
                    let e = self.peek().ok_or("unterminated escape")?;
                    self.i += 1;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        'u' | 'U' => {
                            let n = if e == 'u' { 4 } else { 8 };
                            let hex: String =
                                self.s.get(self.i..self.i + n).ok_or("short \\u escape")?.iter().collect();
                            self.i += n;
                            let code = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\{e}{hex}"))?;
                            out.push(char::from_u32(code).ok_or(format!("bad code point {code:#x}"))?);
                        }
                        other => return Err(format!("unsupported escape \\{other}")),
                    }
                }
                c => out.push(c),
            }
        }
    }
}
