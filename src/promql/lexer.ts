// PromQL lexer, modelled on Prometheus's promql/parser/lex.go (3.x): a pull lexer with
// separate states for statements, the inside of braces and the inside of brackets.
// Positions are JS string indices (UTF-16 code units) into the input.

import { goQuote } from '../util/go-quote.js';

export type TokenKind =
  'EOF' | 'ERROR' | 'IDENT' | 'METRIC_IDENT' | 'NUMBER' | 'DURATION' | 'STRING' | '(' | ')' | '{' | '}' | '[' | ']' | ',' | '=' | ':' | 'OP' | 'KW' | 'AGGR';

export interface Token {
  readonly kind: TokenKind;
  /** Raw text (strings keep their quotes); for ERROR the message. */
  readonly val: string;
  readonly pos: number;
  readonly end: number;
}

export const AGGREGATORS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
/** Keywords (Prometheus IsKeyword) plus the @ preprocessors start/end. */
const KEYWORDS = new Set(['bool', 'by', 'group_left', 'group_right', 'ignoring', 'offset', 'on', 'without', 'start', 'end']);
const WORD_OPS = new Set(['and', 'or', 'unless', 'atan2']);

const isSpace = (c: string): boolean => c === ' ' || c === '\t' || c === '\n' || c === '\r';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isAlpha = (c: string): boolean => c === '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isAlphaNumeric = (c: string): boolean => isAlpha(c) || isDigit(c);

export { goQuote };

/** Go's %q for a rune. */
export function goQuoteRune(ch: string): string {
  if (ch === "'") return "'\\''";
  if (ch === '"') return `'"'`;
  const q = goQuote(ch);
  return `'${q.slice(1, -1)}'`;
}

/** Go's %#U. */
function goUnicode(ch: string): string {
  const c = ch.codePointAt(0)!;
  const hex = 'U+' + c.toString(16).toUpperCase().padStart(4, '0');
  return c >= 0x20 && c !== 0x7f ? `${hex} '${ch}'` : hex;
}

/** Prometheus Item.desc(): how a token is named in "unexpected ..." messages. */
export function describeToken(t: Token): string {
  switch (t.kind) {
    case 'EOF':
      return 'end of input';
    case 'ERROR':
      return t.val;
    case 'IDENT':
      return `identifier ${goQuote(t.val)}`;
    case 'METRIC_IDENT':
      return `metric identifier ${goQuote(t.val)}`;
    case 'NUMBER':
      return `number ${goQuote(t.val)}`;
    case 'DURATION':
      return `duration ${goQuote(t.val)}`;
    case 'STRING': {
      const runes = [...t.val];
      return runes.length > 10 ? `string ${goQuote(runes.slice(0, 10).join(''))}...` : `string ${goQuote(t.val)}`;
    }
    case 'OP':
      return `<op:${t.val}>`;
    case 'AGGR':
      return `<aggr:${t.val}>`;
    case 'KW':
      return t.val === 'start' || t.val === 'end' ? goQuote(t.val) : `<${t.val}>`;
    default:
      return goQuote(t.val);
  }
}

type State = 'statements' | 'braces';

export class Lexer {
  private pos = 0;
  private start = 0;
  private state: State = 'statements';
  private parenDepth = 0;
  private bracketOpen = false;
  private gotColon = false;
  private done = false;

  constructor(private readonly input: string) {}

  private emit(kind: TokenKind, val?: string): Token {
    return { kind, val: val ?? this.input.slice(this.start, this.pos), pos: this.start, end: this.pos };
  }

  private error(msg: string): Token {
    this.done = true;
    return { kind: 'ERROR', val: msg, pos: this.start, end: this.input.length };
  }

  private peekChar(): string {
    return this.pos < this.input.length ? this.input[this.pos] : '';
  }

  /** Next non-comment token. */
  next(): Token {
    if (this.done) return { kind: 'EOF', val: '', pos: this.input.length, end: this.input.length };
    for (;;) {
      const t = this.state === 'braces' ? this.lexInsideBraces() : this.lexStatements();
      if (t) {
        if (t.kind === 'EOF') this.done = true;
        return t;
      }
    }
  }

  /** Returns null for skipped input (spaces, comments). */
  private lexStatements(): Token | null {
    const input = this.input;
    this.start = this.pos;
    if (this.pos >= input.length) {
      if (this.parenDepth !== 0) return this.error('unclosed left parenthesis');
      if (this.bracketOpen) return this.error('unclosed left bracket');
      return this.emit('EOF', '');
    }
    const r = input[this.pos++];
    switch (r) {
      case '#':
        while (this.pos < input.length && input[this.pos] !== '\n') this.pos++;
        return null;
      case ',':
        return this.emit(',');
      case '*':
      case '/':
      case '%':
      case '+':
      case '-':
      case '^':
        return this.emit('OP');
      case '@':
        return this.emit('OP');
      case '=': {
        const t = this.peekChar();
        if (t === '=') {
          this.pos++;
          return this.emit('OP');
        }
        if (t === '~') return this.error(`unexpected character after '=': ${goQuoteRune(t)}`);
        return this.emit('=');
      }
      case '!': {
        const t = this.pos < input.length ? input[this.pos++] : '';
        if (t === '=') return this.emit('OP');
        return this.error(`unexpected character after '!': ${t === '' ? "'\\x00'" : goQuoteRune(t)}`);
      }
      case '<':
      case '>':
        if (this.peekChar() === '=') this.pos++;
        return this.emit('OP');
      case '"':
      case "'":
        return this.lexString(r);
      case '`':
        return this.lexRawString();
      case '(':
        this.parenDepth++;
        return this.emit('(');
      case ')':
        this.parenDepth--;
        if (this.parenDepth < 0) return this.error(`unexpected right parenthesis ${goQuoteRune(r)}`);
        return this.emit(')');
      case '{':
        this.state = 'braces';
        return this.emit('{');
      case '}':
        return this.error(`unexpected character: ${goQuoteRune(r)}`);
      case '[':
        if (this.bracketOpen) return this.error(`unexpected left bracket ${goQuoteRune(r)}`);
        this.gotColon = false;
        this.bracketOpen = true;
        return this.emit('[');
      case ']':
        if (!this.bracketOpen) return this.error(`unexpected right bracket ${goQuoteRune(r)}`);
        this.bracketOpen = false;
        return this.emit(']');
    }
    if (isSpace(r)) {
      while (this.pos < input.length && isSpace(input[this.pos])) this.pos++;
      return null;
    }
    if (isDigit(r) || (r === '.' && isDigit(this.peekChar()))) {
      this.pos--;
      return this.lexNumberOrDuration();
    }
    if (isAlpha(r) || r === ':') {
      if (this.bracketOpen) {
        if (r === ':' && !this.gotColon) {
          this.gotColon = true;
          return this.emit(':');
        }
        if (r === ':') return this.error(`unexpected colon ${goQuoteRune(r)}`);
      }
      this.pos--;
      return this.lexKeywordOrIdentifier();
    }
    const ch = String.fromCodePoint(input.codePointAt(this.pos - 1)!);
    return this.error(`unexpected character: ${goQuoteRune(ch)}`);
  }

  private lexInsideBraces(): Token | null {
    const input = this.input;
    this.start = this.pos;
    if (this.pos >= input.length) return this.error('unexpected end of input inside braces');
    const r = input[this.pos++];
    if (isSpace(r)) {
      while (this.pos < input.length && isSpace(input[this.pos])) this.pos++;
      return null;
    }
    if (r === '#') {
      while (this.pos < input.length && input[this.pos] !== '\n') this.pos++;
      return null;
    }
    if (isAlpha(r)) {
      while (this.pos < input.length && isAlphaNumeric(input[this.pos])) this.pos++;
      return this.emit('IDENT');
    }
    switch (r) {
      case ',':
        return this.emit(',');
      case '"':
      case "'":
        return this.lexString(r);
      case '`':
        return this.lexRawString();
      case '=':
        if (this.peekChar() === '~') {
          this.pos++;
          return this.emit('OP');
        }
        return this.emit('=');
      case '!': {
        const nr = this.pos < input.length ? input[this.pos++] : '';
        if (nr === '~' || nr === '=') return this.emit('OP');
        return this.error(`unexpected character after '!' inside braces: ${nr === '' ? "'\\x00'" : goQuoteRune(nr)}`);
      }
      case '{':
        return this.error(`unexpected left brace ${goQuoteRune(r)}`);
      case '}':
        this.state = 'statements';
        return this.emit('}');
    }
    const ch = String.fromCodePoint(input.codePointAt(this.pos - 1)!);
    return this.error(`unexpected character inside braces: ${goQuoteRune(ch)}`);
  }

  private lexKeywordOrIdentifier(): Token {
    const input = this.input;
    while (this.pos < input.length && (isAlphaNumeric(input[this.pos]) || input[this.pos] === ':')) this.pos++;
    const word = input.slice(this.start, this.pos);
    const lower = word.toLowerCase();
    if (lower === 'inf' || lower === 'nan') return this.emit('NUMBER');
    if (AGGREGATORS.has(lower)) return this.emit('AGGR', lower);
    if (KEYWORDS.has(lower)) return this.emit('KW', lower);
    if (WORD_OPS.has(lower)) return this.emit('OP', lower);
    return this.emit(word.includes(':') ? 'METRIC_IDENT' : 'IDENT');
  }

  private acceptRun(pred: (c: string) => boolean): boolean {
    const s = this.pos;
    while (this.pos < this.input.length && pred(this.input[this.pos])) this.pos++;
    return this.pos > s;
  }

  private accept(chars: string): boolean {
    if (this.pos < this.input.length && chars.includes(this.input[this.pos])) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** Scans a number; true if what follows is not alphanumeric (a complete number). */
  private scanNumber(): boolean {
    const digitsOf = (hex: boolean) => (c: string) => (hex ? /[0-9a-fA-F_]/.test(c) : isDigit(c) || c === '_');
    let hex = false;
    if (this.input.startsWith('0x', this.pos) || this.input.startsWith('0X', this.pos)) {
      this.pos += 2;
      hex = true;
    }
    this.acceptRun(digitsOf(hex));
    if (!hex) {
      if (this.accept('.')) this.acceptRun(digitsOf(false));
      const save = this.pos;
      if (this.accept('eE')) {
        this.accept('+-');
        if (!this.acceptRun(isDigit)) this.pos = save;
      }
    }
    const next = this.peekChar();
    return !isAlphaNumeric(next);
  }

  private acceptRemainingDuration(): boolean {
    if (!this.accept('smhdwy')) return false;
    this.accept('s');
    while (this.acceptRun(isDigit)) {
      if (!this.accept('smhdw')) return false;
      this.accept('s');
    }
    return true;
  }

  private lexNumberOrDuration(): Token {
    if (this.scanNumber()) return this.emit('NUMBER');
    if (this.acceptRemainingDuration() && !isAlphaNumeric(this.peekChar())) return this.emit('DURATION');
    // Prometheus includes the offending character in the message.
    if (this.pos < this.input.length) this.pos++;
    return this.error(`bad number or duration syntax: ${goQuote(this.input.slice(this.start, this.pos))}`);
  }

  private lexString(quote: string): Token {
    const input = this.input;
    for (;;) {
      if (this.pos >= input.length) return this.error('unterminated quoted string');
      const c = input[this.pos++];
      if (c === '\\') {
        const err = this.lexEscape(quote);
        if (err) return err;
        continue;
      }
      if (c === '\n') return this.error('unterminated quoted string');
      if (c === quote) return this.emit('STRING');
      if (c === '\ufffd' || (c >= '\ud800' && c <= '\udfff' && !isSurrogatePair(input, this.pos - 1))) {
        return this.error('invalid UTF-8 rune');
      }
      if (c >= '\ud800' && c <= '\udbff') this.pos++;
    }
  }

  private lexEscape(quote: string): Token | null {
    const input = this.input;
    if (this.pos >= input.length) return this.error('escape sequence not terminated');
    let ch = String.fromCodePoint(input.codePointAt(this.pos)!);
    this.pos += ch.length;
    let n: number;
    let base: number;
    let max: number;
    switch (ch) {
      case 'a':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
      case 'v':
      case '\\':
        return null;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        n = 3;
        base = 8;
        max = 255;
        break;
      case 'x':
        n = 2;
        base = 16;
        max = 255;
        ch = this.nextRune();
        break;
      case 'u':
        n = 4;
        base = 16;
        max = 0x10ffff;
        ch = this.nextRune();
        break;
      case 'U':
        n = 8;
        base = 16;
        max = 0x10ffff;
        ch = this.nextRune();
        break;
      default:
        if (ch === quote) return null;
        return this.error(`unknown escape sequence ${goUnicode(ch)}`);
    }
    let x = 0;
    while (n > 0) {
      const d = ch === '' ? 99 : parseInt(ch, 16);
      if (Number.isNaN(d) || d >= base) {
        if (ch === '') return this.error('escape sequence not terminated');
        return this.error(`illegal character ${goUnicode(ch)} in escape sequence`);
      }
      x = x * base + d;
      n--;
      if (n > 0) ch = this.nextRune();
    }
    if (x > max || (x >= 0xd800 && x < 0xe000)) return this.error('escape sequence is an invalid Unicode code point');
    return null;
  }

  private nextRune(): string {
    if (this.pos >= this.input.length) return '';
    const ch = String.fromCodePoint(this.input.codePointAt(this.pos)!);
    this.pos += ch.length;
    return ch;
  }

  private lexRawString(): Token {
    const input = this.input;
    for (;;) {
      if (this.pos >= input.length) return this.error('unterminated raw string');
      const c = input[this.pos++];
      if (c === '`') return this.emit('STRING');
      if (c === '\ufffd') return this.error('invalid UTF-8 rune');
    }
  }
}

function isSurrogatePair(s: string, i: number): boolean {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  return a >= 0xd800 && a <= 0xdbff && b >= 0xdc00 && b <= 0xdfff;
}

/**
 * Unquotes a lexed string token (", ' or `), Go escape semantics: \x and octal escapes
 * produce raw bytes, the result is decoded as UTF-8 (invalid sequences become U+FFFD).
 */
export function unquoteString(raw: string): string {
  const q = raw[0];
  const body = raw.slice(1, -1);
  if (q === '`') return body;
  if (!body.includes('\\')) return body;
  const bytes: number[] = [];
  const pushStr = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
  };
  let i = 0;
  while (i < body.length) {
    const c = body[i];
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushStr(ch);
      i += ch.length;
      continue;
    }
    const e = body[i + 1];
    i += 2;
    switch (e) {
      case 'a':
        bytes.push(7);
        break;
      case 'b':
        bytes.push(8);
        break;
      case 'f':
        bytes.push(12);
        break;
      case 'n':
        bytes.push(10);
        break;
      case 'r':
        bytes.push(13);
        break;
      case 't':
        bytes.push(9);
        break;
      case 'v':
        bytes.push(11);
        break;
      case 'x':
        bytes.push(parseInt(body.slice(i, i + 2), 16));
        i += 2;
        break;
      case 'u':
        pushStr(String.fromCodePoint(parseInt(body.slice(i, i + 4), 16)));
        i += 4;
        break;
      case 'U':
        pushStr(String.fromCodePoint(parseInt(body.slice(i, i + 8), 16)));
        i += 8;
        break;
      default:
        if (e >= '0' && e <= '7') {
          bytes.push(parseInt(body.slice(i - 1, i + 2), 8));
          i += 2;
        } else {
          pushStr(e); // \\ \' \" and the quote char
        }
    }
  }
  return Buffer.from(bytes).toString('utf8');
}
