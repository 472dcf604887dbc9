#!/usr/bin/env python3
"""Issue 16's size rules, checked by scripts/test.sh: no non-test source file over 800 lines
and no non-test function over 120 lines in the crates' src/ trees. Prints each breach and
exits 1 if there is one. Usage: check-sizes.py [--limit N] DIR...

With --sqs-literals it checks the other rule instead: every SQS limit and name rule is
defined once, in model/ (spool-model). The values most often copied (the 12-hour
visibility ceiling, the 14-day retention, the 256 KiB and 1 MiB message sizes, in any
digit grouping) may not appear in non-test code, strings or comments under DIR, nor may
the FIFO suffix appear in a string or comment; use the model's named constants
(spool_model::limits, spool_model::name::FIFO_SUFFIX) instead.

A function's length counts from its `fn` line to its closing brace. Code inside a
`#[cfg(test)]` item, a `#[test]` function, or under a `tests/` directory (or a file named
tests.rs) is skipped. Brace matching skips strings, chars, raw strings and comments."""
import os, re, sys

FILE_MAX_LINES = 800
FN_MAX_LINES = 120
breaches = 0

def strip(src):
    """Replace comments and string/char literal contents with spaces, keep newlines."""
    out = []; i = 0; n = len(src)
    while i < n:
        c = src[i]
        if src.startswith('//', i):
            j = src.find('\n', i)
            j = n if j < 0 else j
            out.append(' ' * (j - i)); i = j
        elif src.startswith('/*', i):
            depth = 0; j = i
            while j < n:
                if src.startswith('/*', j): depth += 1; j += 2
                elif src.startswith('*/', j):
                    depth -= 1; j += 2
                    if depth == 0: break
                else: j += 1
            out.append(re.sub(r'[^\n]', ' ', src[i:j])); i = j
        elif (c == 'r' or src.startswith('br', i)) and re.match(r'b?r#*"', src[i:i+10]) and (i == 0 or not (src[i-1].isalnum() or src[i-1] == '_')):
            m = re.match(r'b?r(#*)"', src[i:])
            hashes = m.group(1); start = i + m.end()
            end = src.find('"' + hashes, start)
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r'[^\n]', ' ', src[i:end])); i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == '\\' else 1
            out.append(re.sub(r'[^\n]', ' ', src[i:j+1])); i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^'\\])'", src[i:])
            if m:
                out.append(' ' * m.end()); i += m.end()
            else:
                out.append(c); i += 1
        else:
            out.append(c); i += 1
    return ''.join(out)

def match_brace(s, open_idx):
    depth = 0
    for j in range(open_idx, len(s)):
        if s[j] == '{': depth += 1
        elif s[j] == '}':
            depth -= 1
            if depth == 0: return j
    return len(s) - 1

def test_ranges(s):
    """Spans of items annotated #[cfg(test)] or #[test]."""
    spans = []
    for m in re.finditer(r'#\[(cfg\(test\)|test|tokio::test[^\]]*)\]', s):
        j = s.find('{', m.end()); semi = s.find(';', m.end())
        if semi != -1 and (j == -1 or semi < j):
            continue  # `mod tests;`
        if j != -1: spans.append((m.start(), match_brace(s, j)))
    return spans

def scan(path, limit, report_files):
    src = open(path, encoding='utf-8', errors='replace').read()
    lines = len(src.splitlines())
    global breaches
    if report_files and lines > FILE_MAX_LINES:
        print(f"FILE {path}: {lines} lines (over {FILE_MAX_LINES})")
        breaches += 1
    s = strip(src)
    spans = test_ranges(s)
    for m in re.finditer(r'\bfn\s+([A-Za-z_][A-Za-z0-9_]*)', s):
        if any(a <= m.start() <= b for a, b in spans): continue
        # find body start: first '{' before a ';' at depth 0 of parens
        j = m.end(); depth = 0; body = None
        while j < len(s):
            ch = s[j]
            if ch in '(<[': depth += 1
            elif ch in ')>]': depth -= 1
            elif ch == ';' and depth <= 0: break
            elif ch == '{' and depth <= 0: body = j; break
            j += 1
        if body is None: continue
        end = match_brace(s, body)
        start_line = s.count('\n', 0, m.start()) + 1
        end_line = s.count('\n', 0, end) + 1
        n = end_line - start_line + 1
        if n > limit:
            print(f"FN {path}:{start_line} {m.group(1)}: {n} lines (over {limit})")
            breaches += 1

# SQS limits written as numbers (any `_` grouping), and the FIFO suffix in text.
SQS_LIMIT_LITERAL = re.compile(r'43_?200|1_?209_?600|262_?144|1_?048_?576')
FIFO_SUFFIX_TEXT = re.compile(r'\.fifo\b')

def scan_literals(path):
    """Reports SQS limits written outside model/ in non-test code (code, strings, comments)."""
    global breaches
    src = open(path, encoding='utf-8', errors='replace').read()
    s = strip(src)  # same length as src: strings and comments blanked
    spans = test_ranges(s)
    def report(m, what):
        global breaches
        if any(a <= m.start() <= b for a, b in spans): return
        line = src.count('\n', 0, m.start()) + 1
        print(f"SQS {path}:{line}: {what} {m.group(0)!r}; use the spool-model constant "
              f"(spool_model::limits / spool_model::name::FIFO_SUFFIX), or move it to a test")
        breaches += 1
    for m in SQS_LIMIT_LITERAL.finditer(src):
        report(m, "SQS limit written as a literal:")
    for m in FIFO_SUFFIX_TEXT.finditer(src):
        # `x.fifo` in code is a field; only strings and comments (blanked by strip) count.
        if s[m.start()] == ' ':
            report(m, "FIFO suffix written as a literal:")

def main():
    args = sys.argv[1:]; limit = FN_MAX_LINES; files = True; literals = False
    if '--limit' in args:
        k = args.index('--limit'); limit = int(args[k+1]); del args[k:k+2]
    if '--sqs-literals' in args:
        args.remove('--sqs-literals'); literals = True
    for d in args or ['.']:
        for root, dirs, fs in os.walk(d):
            dirs[:] = [x for x in dirs if x not in ('target', 'tests', 'node_modules', '.git')]
            for f in fs:
                if f.endswith('.rs') and f != 'tests.rs':
                    path = os.path.join(root, f)
                    if literals:
                        scan_literals(path)
                    else:
                        scan(path, limit, files)

main()
sys.exit(1 if breaches else 0)
