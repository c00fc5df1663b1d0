/**
 * Checks the syntax of a user template the way Prefect's `validate_user_template`
 * does: Jinja2's lexer and parser (the subset of statements a sandboxed environment
 * knows) with Jinja's own error messages and line numbers, then Prefect's limits on
 * `for` loops. Nothing is rendered; filter and test names are not looked up (Jinja
 * resolves them only when compiling).
 */

export interface TemplateError {
  /** 1-based line of the offending token; 0 for Prefect's loop limits. */
  line: number;
  message: string;
}

/** Prefect's MAX_LOOP_COUNT and MAX_NESTED_LOOP_DEPTH. */
const MAX_LOOP_COUNT = 10;
const MAX_NESTED_LOOP_DEPTH = 2;

class SyntaxFailure extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

type TokenType =
  | "name"
  | "string"
  | "integer"
  | "float"
  | "operator"
  | "data"
  | "variable_begin"
  | "variable_end"
  | "block_begin"
  | "block_end"
  | "eof";

interface Token {
  type: TokenType;
  value: string;
  line: number;
}

const TYPE_DESCRIPTIONS: Partial<Record<TokenType, string>> = {
  variable_begin: "begin of print statement",
  variable_end: "end of print statement",
  block_begin: "begin of statement block",
  block_end: "end of statement block",
  eof: "end of template",
};

/** Jinja's describe_token: a name or operator is itself, anything else its type's wording. */
const describe = (token: Token) =>
  token.type === "name" || token.type === "operator" ? token.value : (TYPE_DESCRIPTIONS[token.type] ?? token.type);

/** Jinja's describe_token_expr: `name:endfor` -> `endfor`, `variable_end` -> its wording. */
function describeExpr(expr: string): string {
  const [type, value] = expr.includes(":") ? (expr.split(":", 2) as [string, string]) : [expr, undefined];
  if (value !== undefined) return type === "name" ? value : type;
  return TYPE_DESCRIPTIONS[type as TokenType] ?? type;
}

/** Python's repr() of a str, as Jinja quotes values in its messages. */
const pyRepr = (s: string) => (s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`);

// ---- lexer ------------------------------------------------------------------------------------

const OPERATORS = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];
const CLOSERS: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
const OPENERS: Record<string, string> = { "(": ")", "[": "]", "{": "}" };

const NAME_RE = /^[\p{L}_][\p{L}\p{N}_]*/u;
const STRING_RE = /^('([^'\\]*(?:\\.[^'\\]*)*)'|"([^"\\]*(?:\\.[^"\\]*)*)")/s;
const FLOAT_RE = /^(\d+_)*\d+((\.(\d+_)*\d+)?e[+-]?(\d+_)*\d+|\.(\d+_)*\d+)/i;
const INTEGER_RE = /^(0b(_?[0-1])+|0o(_?[0-7])+|0x(_?[\da-f])+|[1-9](_?\d)*|0(_?0)*)/i;
const WHITESPACE_RE = /^\s+/;

/** The next `{{`, `{%` or `{#` (Jinja's root state), with its whitespace-control sign if any. */
const BEGIN_RE = /\{(\{|%|#)[-+]?/;

function* tokenize(source: string): Generator<Token> {
  let pos = 0;
  // Offsets only move forward, so the line count carries on from the previous call.
  let counted = 0;
  let line = 1;
  const lineAt = (offset: number) => {
    for (; counted < offset; counted++) if (source.charCodeAt(counted) === 10) line++;
    return line;
  };

  while (pos < source.length) {
    const rest = source.slice(pos);
    const begin = BEGIN_RE.exec(rest);
    if (!begin) {
      yield { type: "data", value: rest, line: lineAt(pos) };
      return;
    }
    if (begin.index > 0) yield { type: "data", value: rest.slice(0, begin.index), line: lineAt(pos) };
    const start = pos + begin.index;
    pos = start + begin[0].length;
    const kind = begin[1];

    if (kind === "#") {
      const end = source.indexOf("#}", pos);
      if (end < 0) throw new SyntaxFailure("Missing end of comment tag", lineAt(start));
      pos = end + 2;
      continue;
    }

    if (kind === "%") {
      // `{% raw %}...{% endraw %}` is data, whatever it contains.
      const raw = /^\s*raw\s*[-+]?%\}/.exec(source.slice(pos));
      if (raw) {
        const endRaw = /\{%[-+]?\s*endraw\s*[-+]?%\}/.exec(source.slice(pos + raw[0].length));
        if (!endRaw) throw new SyntaxFailure("Missing end of raw directive", lineAt(start));
        pos += raw[0].length + endRaw.index + endRaw[0].length;
        continue;
      }
    }

    // A print statement ends at `}}` or `-}}`, a block at `%}`, `-%}` or `+%}`.
    const [beginType, endType, endRe] =
      kind === "{" ? (["variable_begin", "variable_end", /^-?\}\}/] as const) : (["block_begin", "block_end", /^[-+]?%\}/] as const);
    yield { type: beginType, value: begin[0], line: lineAt(start) };

    const balance: string[] = [];
    for (;;) {
      const text = source.slice(pos);
      if (text.length === 0) return; // the parser reports the missing end
      const space = WHITESPACE_RE.exec(text);
      if (space) {
        pos += space[0].length;
        continue;
      }
      if (balance.length === 0) {
        const end = endRe.exec(text);
        if (end) {
          yield { type: endType, value: end[0], line: lineAt(pos) };
          pos += end[0].length;
          break;
        }
      }
      const line = lineAt(pos);
      const name = NAME_RE.exec(text);
      // Jinja's float rule does not match right after a `.` (so `x.1.2` is two lookups).
      const float = name || source[pos - 1] === "." ? null : FLOAT_RE.exec(text);
      const integer = name || float ? null : INTEGER_RE.exec(text);
      const string = STRING_RE.exec(text);
      if (name) {
        yield { type: "name", value: name[0], line };
        pos += name[0].length;
      } else if (string) {
        yield { type: "string", value: string[0], line };
        pos += string[0].length;
      } else if (float) {
        yield { type: "float", value: float[0], line };
        pos += float[0].length;
      } else if (integer) {
        yield { type: "integer", value: integer[0], line };
        pos += integer[0].length;
      } else {
        const op = OPERATORS.find((candidate) => text.startsWith(candidate));
        if (!op) throw new SyntaxFailure(`unexpected char ${pyRepr(text[0]!)} at ${pos}`, line);
        if (OPENERS[op]) balance.push(OPENERS[op]!);
        else if (CLOSERS[op]) {
          if (balance.length === 0) throw new SyntaxFailure(`unexpected '${op}'`, line);
          const expected = balance.pop()!;
          if (expected !== op) throw new SyntaxFailure(`unexpected '${op}', expected '${expected}'`, line);
        }
        yield { type: "operator", value: op, line };
        pos += op.length;
      }
    }
  }
}

// ---- token stream -----------------------------------------------------------------------------

/** Tokens pulled lazily, so a lexer error surfaces only when the parser reaches it, as in Jinja. */
class TokenStream {
  current: Token;
  private pending: Token | null = null;
  private lastLine = 1;

  constructor(private readonly tokens: Iterator<Token>) {
    this.current = this.pull();
  }

  private pull(): Token {
    const next = this.tokens.next();
    if (next.done) return { type: "eof", value: "", line: this.lastLine };
    this.lastLine = next.value.line;
    return next.value;
  }

  look(): Token {
    this.pending ??= this.pull();
    return this.pending;
  }

  next(): Token {
    const previous = this.current;
    if (this.pending) {
      this.current = this.pending;
      this.pending = null;
    } else if (this.current.type !== "eof") {
      this.current = this.pull();
    }
    return previous;
  }

  /** `type` or `type:value` (Jinja's token expressions). */
  test(expr: string, token: Token = this.current): boolean {
    const colon = expr.indexOf(":");
    if (colon < 0) return token.type === expr;
    const type = expr.slice(0, colon);
    const value = expr.slice(colon + 1);
    return token.type === type && token.value === value;
  }

  skipIf(expr: string): boolean {
    if (!this.test(expr)) return false;
    this.next();
    return true;
  }

  expect(expr: string): Token {
    if (!this.test(expr)) {
      if (this.current.type === "eof") {
        throw new SyntaxFailure(`unexpected end of template, expected ${pyRepr(describeExpr(expr))}.`, this.current.line);
      }
      throw new SyntaxFailure(`expected token ${pyRepr(describeExpr(expr))}, got ${pyRepr(describe(this.current))}`, this.current.line);
    }
    return this.next();
  }
}

// ---- parser -----------------------------------------------------------------------------------

const op = (value: string) => `operator:${value}`;
const COMPARE_OPS = ["==", "!=", ">", ">=", "<", "<="];
const TEST_ARGUMENT_START: TokenType[] = ["name", "string", "integer", "float"];
const CONSTANT_NAMES = ["true", "false", "none", "True", "False", "None"];

/** What the parser needs to know of a node: whether it can be assigned to, and whether it is a call. */
type Node = "name" | "tuple" | "const" | "list" | "dict" | "call" | "expression";

/** Jinja's Parser (jinja2/parser.py), building no tree: it only accepts or rejects. */
class Parser {
  private readonly endTokenStack: string[][] = [];
  private readonly tagStack: string[] = [];
  loops = 0;
  maxDepth = 0;
  private depth = 0;

  constructor(private readonly stream: TokenStream) {}

  private fail(message: string, line = this.stream.current.line): never {
    throw new SyntaxFailure(message, line);
  }

  /** Jinja's _fail_ut_eof: the unknown tag (null: the end of the template) and the blocks still open. */
  private failUnknownTag(name: string | null, line: number, endTokenStack: string[][]): never {
    const expected = new Set(endTokenStack.flat().map(describeExpr));
    const innermost = endTokenStack.at(-1);
    const looking = innermost ? innermost.map((e) => pyRepr(describeExpr(e))).join(" or ") : null;
    const message = [name === null ? "Unexpected end of template." : `Encountered unknown tag ${pyRepr(name)}.`];
    if (looking) {
      if (name !== null && expected.has(name)) {
        message.push(`You probably made a nesting mistake. Jinja is expecting this tag, but currently looking for ${looking}.`);
      } else {
        message.push(`Jinja was looking for the following tags: ${looking}.`);
      }
    }
    if (this.tagStack.length > 0) message.push(`The innermost block that needs to be closed is ${pyRepr(this.tagStack.at(-1)!)}.`);
    this.fail(message.join(" "), line);
  }

  parseTemplate(): void {
    this.subparse(null);
  }

  /** Template data up to one of `endTokens` (the end of the template when null). */
  private subparse(endTokens: string[] | null): void {
    const s = this.stream;
    if (endTokens) this.endTokenStack.push(endTokens);
    try {
      while (s.current.type !== "eof") {
        if (s.current.type === "variable_begin") {
          s.next();
          this.parseTuple({});
          s.expect("variable_end");
        } else if (s.current.type === "block_begin") {
          s.next();
          if (endTokens && endTokens.some((e) => s.test(e))) return;
          this.parseStatement();
          s.expect("block_end");
        } else {
          s.next(); // data
        }
      }
      if (endTokens) this.failUnknownTag(null, s.current.line, [...this.endTokenStack]);
    } finally {
      if (endTokens) this.endTokenStack.pop();
    }
  }

  /** A block's body up to one of `endTokens`; with `dropNeedle` the end tag's name is consumed too. */
  private parseStatements(endTokens: string[], dropNeedle = false): void {
    this.stream.skipIf(op(":"));
    this.stream.expect("block_end");
    this.subparse(endTokens);
    if (dropNeedle) this.stream.next();
  }

  /** One `{% ... %}` statement, without its closing `%}` (which `subparse` expects). */
  private parseStatement(): void {
    const token = this.stream.current;
    if (token.type !== "name") this.fail("tag name expected", token.line);
    const parse = this.statements[token.value];
    if (!parse) this.failUnknownTag(token.value, token.line, this.endTokenStack);
    this.tagStack.push(token.value);
    try {
      parse();
    } finally {
      this.tagStack.pop();
    }
  }

  private readonly statements: Record<string, () => void> = {
    for: () => this.parseFor(),
    if: () => this.parseIf(),
    set: () => this.parseSet(),
    macro: () => this.parseMacro(),
    call: () => this.parseCallBlock(),
    filter: () => this.parseFilterBlock(),
    with: () => this.parseWith(),
    block: () => this.parseBlock(),
    autoescape: () => this.parseAutoescape(),
    extends: () => this.parseExtends(),
    print: () => this.parsePrint(),
    include: () => this.parseInclude(),
    import: () => this.parseImport(),
    from: () => this.parseFrom(),
  };

  private parseFor(): void {
    const s = this.stream;
    s.next();
    this.parseAssignTarget({ extraEndRules: ["name:in"] });
    s.expect("name:in");
    this.parseTuple({ withCondexpr: false, extraEndRules: ["name:recursive"] });
    if (s.skipIf("name:if")) this.parseExpression();
    s.skipIf("name:recursive");
    this.loops++;
    this.depth++;
    this.maxDepth = Math.max(this.maxDepth, this.depth);
    try {
      this.parseStatements(["name:endfor", "name:else"]);
      if (s.next().value === "else") this.parseStatements(["name:endfor"], true);
    } finally {
      this.depth--;
    }
  }

  private parseIf(): void {
    const s = this.stream;
    s.next();
    for (;;) {
      this.parseTuple({ withCondexpr: false });
      this.parseStatements(["name:elif", "name:else", "name:endif"]);
      const token = s.next();
      if (token.value === "elif") continue;
      if (token.value === "else") this.parseStatements(["name:endif"], true);
      return;
    }
  }

  private parseSet(): void {
    const s = this.stream;
    s.next();
    this.parseAssignTarget({ withNamespace: true });
    if (s.skipIf(op("="))) {
      this.parseTuple({});
      return;
    }
    this.parseFilters(false);
    this.parseStatements(["name:endset"], true);
  }

  private parseMacro(): void {
    this.stream.next();
    this.parseAssignTarget({ nameOnly: true });
    this.parseSignature();
    this.parseStatements(["name:endmacro"], true);
  }

  private parseCallBlock(): void {
    const s = this.stream;
    const line = s.next().line;
    if (this.isOp("(")) this.parseSignature();
    if (this.parseExpression() !== "call") this.fail("expected call", line);
    this.parseStatements(["name:endcall"], true);
  }

  private parseFilterBlock(): void {
    this.stream.next();
    this.parseFilters(true);
    this.parseStatements(["name:endfilter"], true);
  }

  private parseWith(): void {
    const s = this.stream;
    s.next();
    let first = true;
    while (s.current.type !== "block_end") {
      if (!first) s.expect(op(","));
      first = false;
      this.parseAssignTarget({});
      s.expect(op("="));
      this.parseExpression();
    }
    this.parseStatements(["name:endwith"], true);
  }

  private parseBlock(): void {
    const s = this.stream;
    s.next();
    const name = s.expect("name").value;
    s.skipIf("name:scoped");
    s.skipIf("name:required");
    if (this.isOp("-")) {
      this.fail("Block names in Jinja have to be valid Python identifiers and may not contain hyphens, use an underscore instead.");
    }
    this.parseStatements(["name:endblock"], true);
    s.skipIf(`name:${name}`);
  }

  private parseAutoescape(): void {
    this.stream.next();
    this.parseExpression();
    this.parseStatements(["name:endautoescape"], true);
  }

  private parseExtends(): void {
    this.stream.next();
    this.parseExpression();
  }

  private parsePrint(): void {
    const s = this.stream;
    s.next();
    let first = true;
    while (s.current.type !== "block_end") {
      if (!first) s.expect(op(","));
      first = false;
      this.parseExpression();
    }
  }

  private parseInclude(): void {
    const s = this.stream;
    s.next();
    this.parseExpression();
    if (s.test("name:ignore") && s.test("name:missing", s.look())) {
      s.next();
      s.next();
    }
    this.parseContextModifier();
  }

  private parseImport(): void {
    this.stream.next();
    this.parseExpression();
    this.stream.expect("name:as");
    this.parseAssignTarget({ nameOnly: true });
    this.parseContextModifier();
  }

  private parseFrom(): void {
    const s = this.stream;
    s.next();
    this.parseExpression();
    s.expect("name:import");
    let first = true;
    for (;;) {
      if (!first) s.expect(op(","));
      first = false;
      if (s.current.type !== "name") {
        s.expect("name");
        continue;
      }
      if (this.parseContextModifier()) return;
      const target = s.current;
      this.parseAssignTarget({ nameOnly: true });
      if (target.value.startsWith("_")) this.fail("names starting with an underline can not be imported", target.line);
      if (s.skipIf("name:as")) this.parseAssignTarget({ nameOnly: true });
      if (this.parseContextModifier() || !this.isOp(",")) return;
    }
  }

  /** `with context` / `without context`. */
  private parseContextModifier(): boolean {
    const s = this.stream;
    if ((s.test("name:with") || s.test("name:without")) && s.test("name:context", s.look())) {
      s.next();
      s.next();
      return true;
    }
    return false;
  }

  /** A macro or call-block signature: `(a, b=default, ...)`. */
  private parseSignature(): void {
    const s = this.stream;
    s.expect(op("("));
    let defaults = false;
    let first = true;
    while (!this.isOp(")")) {
      if (!first) s.expect(op(","));
      first = false;
      this.parseAssignTarget({ nameOnly: true });
      if (s.skipIf(op("="))) {
        this.parseExpression();
        defaults = true;
      } else if (defaults) {
        this.fail("non-default argument follows default argument");
      }
    }
    s.expect(op(")"));
  }

  private parseAssignTarget(options: { extraEndRules?: string[]; nameOnly?: boolean; withNamespace?: boolean }): void {
    const s = this.stream;
    if (options.withNamespace && s.look().type === "operator" && s.look().value === ".") {
      s.expect("name");
      s.next();
      s.expect("name");
      return;
    }
    if (options.nameOnly) {
      s.expect("name");
      return;
    }
    const line = s.current.line;
    const target = this.parseTuple({ simplified: true, extraEndRules: options.extraEndRules });
    if (target !== "name" && target !== "tuple") this.fail(`can't assign to '${target === "expression" ? "tuple" : target}'`, line);
  }

  // ---- expressions ----------------------------------------------------------------------------

  private isOp(...values: string[]): boolean {
    return this.stream.current.type === "operator" && values.includes(this.stream.current.value);
  }

  private parseExpression(withCondexpr = true): Node {
    return withCondexpr ? this.parseCondexpr() : this.parseOr();
  }

  private parseCondexpr(): Node {
    const s = this.stream;
    let node = this.parseOr();
    while (s.skipIf("name:if")) {
      this.parseOr();
      if (s.skipIf("name:else")) this.parseCondexpr();
      node = "expression";
    }
    return node;
  }

  /** Left-associative operators: `next (op next)*`. */
  private parseBinary(next: () => Node, isOperator: () => boolean): Node {
    let node = next();
    while (isOperator()) {
      this.stream.next();
      next();
      node = "expression";
    }
    return node;
  }

  private parseOr = (): Node => this.parseBinary(this.parseAnd, () => this.stream.test("name:or"));
  private parseAnd = (): Node => this.parseBinary(this.parseNot, () => this.stream.test("name:and"));

  private parseNot = (): Node => {
    if (!this.stream.skipIf("name:not")) return this.parseCompare();
    this.parseNot();
    return "expression";
  };

  private parseCompare(): Node {
    const s = this.stream;
    let node = this.parseMath1();
    for (;;) {
      if (this.isOp(...COMPARE_OPS) || s.test("name:in")) s.next();
      else if (s.test("name:not") && s.test("name:in", s.look())) {
        s.next();
        s.next();
      } else return node;
      this.parseMath1();
      node = "expression";
    }
  }

  private parseMath1 = (): Node => this.parseBinary(this.parseConcat, () => this.isOp("+", "-"));
  private parseConcat = (): Node => this.parseBinary(this.parseMath2, () => this.isOp("~"));
  private parseMath2 = (): Node => this.parseBinary(this.parsePow, () => this.isOp("*", "/", "//", "%"));
  private parsePow = (): Node => this.parseBinary(() => this.parseUnary(true), () => this.isOp("**"));

  private parseUnary(withFilter: boolean): Node {
    let node: Node;
    if (this.isOp("-", "+")) {
      this.stream.next();
      this.parseUnary(false);
      node = "expression";
    } else {
      node = this.parsePrimary();
    }
    node = this.parsePostfix(node);
    return withFilter ? this.parseFilterExpr(node) : node;
  }

  private parsePrimary(): Node {
    const s = this.stream;
    const token = s.current;
    if (token.type === "name") {
      s.next();
      return CONSTANT_NAMES.includes(token.value) ? "const" : "name";
    }
    if (token.type === "string") {
      while (s.current.type === "string") s.next(); // adjacent strings concatenate
      return "const";
    }
    if (token.type === "integer" || token.type === "float") {
      s.next();
      return "const";
    }
    if (this.isOp("(")) {
      s.next();
      const node = this.parseTuple({ explicitParentheses: true });
      s.expect(op(")"));
      return node;
    }
    if (this.isOp("[")) return this.parseSequence("]", false);
    if (this.isOp("{")) return this.parseSequence("}", true);
    this.fail(`unexpected ${pyRepr(describe(token))}`, token.line);
  }

  /** A list `[a, b]` or a dict `{k: v}` literal (a trailing comma is allowed). */
  private parseSequence(close: "]" | "}", dict: boolean): Node {
    const s = this.stream;
    s.next();
    let first = true;
    while (!this.isOp(close)) {
      if (!first) s.expect(op(","));
      first = false;
      if (this.isOp(close)) break;
      this.parseExpression();
      if (dict) {
        s.expect(op(":"));
        this.parseExpression();
      }
    }
    s.expect(op(close));
    return dict ? "dict" : "list";
  }

  /**
   * Jinja's parse_tuple: comma-separated expressions up to the end of the print or
   * statement block (or `)`, or an extra end rule); a single one is not a tuple.
   * `simplified` targets (assignments) are primaries only.
   */
  private parseTuple(options: { simplified?: boolean; withCondexpr?: boolean; extraEndRules?: string[]; explicitParentheses?: boolean }): Node {
    const s = this.stream;
    const parse = () => (options.simplified ? this.parsePrimary() : this.parseExpression(options.withCondexpr ?? true));
    const isEnd = () =>
      s.current.type === "variable_end" ||
      s.current.type === "block_end" ||
      this.isOp(")") ||
      (options.extraEndRules ?? []).some((rule) => s.test(rule));
    const items: Node[] = [];
    let isTuple = false;
    for (;;) {
      if (items.length > 0) s.expect(op(","));
      if (isEnd()) break;
      items.push(parse());
      if (!this.isOp(",")) break;
      isTuple = true;
    }
    if (!isTuple) {
      if (items.length > 0) return items[0]!;
      if (!options.explicitParentheses) this.fail(`Expected an expression, got ${pyRepr(describe(s.current))}`);
    }
    // A tuple of names (or of such tuples) can be assigned to; other tuples are plain expressions.
    return items.every((item) => item === "name" || item === "tuple") ? "tuple" : "expression";
  }

  private parsePostfix(node: Node): Node {
    const s = this.stream;
    for (;;) {
      if (this.isOp(".")) {
        s.next();
        const attr = s.current;
        if (attr.type !== "name" && attr.type !== "integer") this.fail("expected name or number", attr.line);
        s.next();
        node = "expression";
      } else if (this.isOp("[")) {
        s.next();
        let first = true;
        while (!this.isOp("]")) {
          if (!first) s.expect(op(","));
          first = false;
          this.parseSubscribed();
        }
        s.expect(op("]"));
        node = "expression";
      } else if (this.isOp("(")) {
        this.parseCallArgs();
        node = "call";
      } else {
        return node;
      }
    }
  }

  /** One subscript: an expression, or a slice `a:b:c` with any part left out. */
  private parseSubscribed(): void {
    const s = this.stream;
    if (this.isOp(":")) s.next();
    else {
      this.parseExpression();
      if (!this.isOp(":")) return;
      s.next();
    }
    if (!this.isOp("]", ",", ":")) this.parseExpression();
    if (this.isOp(":")) {
      s.next();
      if (!this.isOp("]", ",")) this.parseExpression();
    }
  }

  /** `(args, key=value, *args, **kwargs)`: positional arguments come first, as in Python. */
  private parseCallArgs(): void {
    const s = this.stream;
    const line = s.expect(op("(")).line;
    const ensure = (ok: boolean) => {
      if (!ok) this.fail("invalid syntax for function call expression", line);
    };
    let keywords = false;
    let dynArgs = false;
    let dynKwargs = false;
    let requireComma = false;
    while (!this.isOp(")")) {
      if (requireComma) {
        s.expect(op(","));
        if (this.isOp(")")) break;
      }
      if (this.isOp("*")) {
        ensure(!dynArgs && !dynKwargs);
        s.next();
        dynArgs = true;
      } else if (this.isOp("**")) {
        ensure(!dynKwargs);
        s.next();
        dynKwargs = true;
      } else if (s.current.type === "name" && s.test(op("="), s.look())) {
        ensure(!dynKwargs);
        s.next();
        s.next();
        keywords = true;
      } else {
        ensure(!dynArgs && !dynKwargs && !keywords);
      }
      this.parseExpression();
      requireComma = true;
    }
    s.expect(op(")"));
  }

  private parseFilterExpr(node: Node): Node {
    const s = this.stream;
    for (;;) {
      if (this.isOp("|")) {
        this.parseFilters(false);
        node = "expression";
      } else if (s.test("name:is")) {
        this.parseTest();
        node = "expression";
      } else if (this.isOp("(")) {
        this.parseCallArgs();
        node = "call";
      } else {
        return node;
      }
    }
  }

  /** `| name(.name)*(args)?`, repeated; `startInline` when the first filter has no `|` (filter blocks). */
  private parseFilters(startInline: boolean): void {
    const s = this.stream;
    while (this.isOp("|") || startInline) {
      if (!startInline) s.next();
      startInline = false;
      this.parseDottedName();
      if (this.isOp("(")) this.parseCallArgs();
    }
  }

  private parseDottedName(): void {
    this.stream.expect("name");
    while (this.isOp(".")) {
      this.stream.next();
      this.stream.expect("name");
    }
  }

  private parseTest(): void {
    const s = this.stream;
    s.next(); // `is`
    s.skipIf("name:not");
    this.parseDottedName();
    if (this.isOp("(")) {
      this.parseCallArgs();
    } else if (
      (TEST_ARGUMENT_START.includes(s.current.type) || this.isOp("(", "[", "{")) &&
      !["name:else", "name:or", "name:and"].some((e) => s.test(e))
    ) {
      if (s.test("name:is")) this.fail("You cannot chain multiple tests with is");
      this.parsePostfix(this.parsePrimary());
    }
  }
}

/** Null when the template is valid; otherwise the first problem, as Prefect reports it. */
export function validateTemplate(source: string): TemplateError | null {
  let parser: Parser;
  try {
    parser = new Parser(new TokenStream(tokenize(source)));
    parser.parseTemplate();
  } catch (error) {
    if (error instanceof SyntaxFailure) return { line: error.line, message: error.message };
    throw error;
  }
  if (parser.loops > MAX_LOOP_COUNT) {
    return { line: 0, message: `Contains ${parser.loops} for loops. Templates can contain no more than ${MAX_LOOP_COUNT} for loops.` };
  }
  if (parser.maxDepth > MAX_NESTED_LOOP_DEPTH) {
    return {
      line: 0,
      message:
        `Contains nested for loops at a depth of ${parser.maxDepth}. ` +
        `Templates can nest for loops no more than ${MAX_NESTED_LOOP_DEPTH} loops deep.`,
    };
  }
  return null;
}
