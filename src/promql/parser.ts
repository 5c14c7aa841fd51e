// PromQL parser: recursive descent with precedence climbing, following the semantics of
// Prometheus 3.5's generated_parser.y / parser.go (syntax) and checkAST (typing).
import { METRIC_NAME, type LabelMatcher, type MatchType } from '../model/labels.js';
import { compileMatcher } from '../model/matchers.js';
import { anchoredRegexError, compileRegex } from '../model/regex.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import {
  AGGREGATORS_WITH_PARAM,
  COMPARISON_OPS,
  EXPERIMENTAL_AGGREGATORS,
  FUNCTIONS,
  SET_OPS,
  documentedType,
  valueTypeOf,
  type AggregateExpr,
  type AggregateOp,
  type BinaryExpr,
  type BinaryOp,
  type Call,
  type Expr,
  type MatrixSelector,
  type PosRange,
  type SubqueryExpr,
  type ValueType,
  type VectorMatching,
  type VectorSelector,
} from './ast.js';
import { Lexer, describeToken, goQuote, unquoteString, type Token } from './lexer.js';
import { isLegacyLabelName } from '../model/label-name.js';
import { PromQLParseError } from '../errors.js';

const PREC: Record<string, number> = {
  or: 1,
  and: 2,
  unless: 2,
  '==': 3,
  '!=': 3,
  '<=': 3,
  '<': 3,
  '>=': 3,
  '>': 3,
  '+': 4,
  '-': 4,
  '*': 5,
  '/': 5,
  '%': 5,
  atan2: 5,
  '^': 6,
};
const POW_PREC = 6;

/** Keyword tokens that Prometheus accepts as a metric name (metric_identifier). */
const METRIC_NAME_KEYWORDS = new Set(['by', 'without', 'offset', 'start', 'end', 'and', 'or', 'unless']);

/**
 * How an invalid regex is reported: Prometheus 2.x compiled `^(?:re)$` and its error quotes that
 * anchored text; 3.x parses the pattern alone and quotes it as written.
 */
export interface ParseOptions {
  anchoredRegexErrors?: boolean;
}

export function parseExpr(input: string, opts: ParseOptions = {}): Expr {
  return new Parser(input, opts).parse();
}

/**
 * Prometheus's parser.ParseMetricSelector: the input must be a bare vector selector (no range,
 * offset or @), its matchers returned as written plus the name's. Unlike a query, a selector
 * whose matchers all match the empty string is not refused here (callers check that themselves).
 */
export function parseMetricSelector(input: string, opts: ParseOptions = {}): LabelMatcher[] {
  return new Parser(input, opts).parseMetricSelector();
}

class Parser {
  private readonly lexer: Lexer;
  private tok!: Token;
  /** End of the last ), ], }, number or duration consumed (Prometheus lastClosing). */
  private lastClosing = 0;

  constructor(
    private readonly input: string,
    private readonly opts: ParseOptions = {},
  ) {
    this.lexer = new Lexer(input);
    this.advance();
  }

  private fail(pos: PosRange, msg: string): never {
    throw new PromQLParseError(this.input, pos, msg);
  }

  private advance(): Token {
    const prev = this.tok;
    const t = this.lexer.next();
    if (t.kind === 'ERROR') this.fail({ start: t.pos, end: t.end }, t.val);
    this.tok = t;
    if (prev && (prev.kind === ')' || prev.kind === ']' || prev.kind === '}' || prev.kind === 'NUMBER' || prev.kind === 'DURATION')) {
      this.lastClosing = prev.end;
    }
    return prev;
  }

  private unexpected(context = '', expected = ''): never {
    let msg = `unexpected ${describeToken(this.tok)}`;
    if (context) msg += ` in ${context}`;
    if (expected) msg += `, expected ${expected}`;
    this.fail({ start: this.tok.pos, end: this.tok.end }, msg);
  }

  private k(): Token['kind'] {
    return this.tok.kind;
  }

  private isOp(v: string): boolean {
    return this.k() === 'OP' && this.tok.val === v;
  }

  private isKw(v: string): boolean {
    return this.k() === 'KW' && this.tok.val === v;
  }

  parse(): Expr {
    if (this.k() === 'EOF') this.fail({ start: 0, end: 0 }, 'no expression found in input');
    const e = this.parseBinary(1);
    if (this.k() !== 'EOF') this.unexpected();
    this.checkAST(e);
    return e;
  }

  parseMetricSelector(): LabelMatcher[] {
    const t = this.tok;
    let vs: VectorSelector;
    if (t.kind === '{') vs = this.parseVectorSelector(undefined);
    else if (
      t.kind === 'IDENT' ||
      t.kind === 'METRIC_IDENT' ||
      t.kind === 'AGGR' ||
      ((t.kind === 'KW' || t.kind === 'OP') && METRIC_NAME_KEYWORDS.has(t.val))
    ) {
      this.advance();
      vs = this.parseVectorSelector(t);
    } else {
      return this.unexpected();
    }
    if (this.k() !== 'EOF') this.unexpected();
    return vs.matchers;
  }

  // ---- expressions ----

  private parseBinary(minPrec: number): Expr {
    let lhs = this.parseUnary();
    for (;;) {
      const t = this.tok;
      if (t.kind !== 'OP') break;
      const prec = PREC[t.val];
      if (prec === undefined || prec < minPrec) break;
      this.advance();
      const op = t.val as BinaryOp;
      let returnBool = false;
      if (this.isKw('bool')) {
        this.advance();
        returnBool = true;
      }
      const vm: VectorMatching = { card: 'one-to-one', matchingLabels: [], on: false, include: [] };
      if (this.isKw('on') || this.isKw('ignoring')) {
        vm.on = this.tok.val === 'on';
        this.advance();
        vm.matchingLabels = this.parseGroupingLabels();
        if (this.isKw('group_left') || this.isKw('group_right')) {
          vm.card = this.tok.val === 'group_left' ? 'many-to-one' : 'one-to-many';
          this.advance();
          if (this.k() === '(') vm.include = this.parseGroupingLabels();
        }
      }
      const rhs = this.parseBinary(op === '^' ? prec : prec + 1);
      const bin: BinaryExpr = {
        type: 'BinaryExpr',
        op,
        lhs,
        rhs,
        returnBool,
        vectorMatching: vm,
        pos: { start: lhs.pos.start, end: rhs.pos.end },
      };
      lhs = bin;
    }
    return lhs;
  }

  private parseUnary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const t = this.advance();
      const operand = this.parseBinary(POW_PREC);
      if (operand.type === 'NumberLiteral') {
        if (t.val === '-') operand.val *= -1;
        operand.pos = { start: t.pos, end: operand.pos.end };
        return operand;
      }
      return { type: 'UnaryExpr', op: t.val as '-' | '+', expr: operand, pos: { start: t.pos, end: operand.pos.end } };
    }
    return this.parsePostfix(this.parsePrimary());
  }

  private parsePostfix(e: Expr): Expr {
    for (;;) {
      if (this.k() === '[') e = this.parseRangeOrSubquery(e);
      else if (this.isKw('offset')) this.parseOffset(e);
      else if (this.isOp('@')) this.parseAt(e);
      else return e;
    }
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    switch (t.kind) {
      case 'NUMBER': {
        this.advance();
        return { type: 'NumberLiteral', val: this.number(t), pos: { start: t.pos, end: t.end } };
      }
      case 'DURATION': {
        this.advance();
        return { type: 'NumberLiteral', val: this.durationMs(t) / 1000, duration: true, pos: { start: t.pos, end: t.end } };
      }
      case 'STRING':
        this.advance();
        return { type: 'StringLiteral', val: unquoteString(t.val), pos: { start: t.pos, end: t.end } };
      case '(': {
        this.advance();
        const inner = this.parseBinary(1);
        if (this.k() !== ')') this.unexpected();
        const close = this.advance();
        return { type: 'ParenExpr', expr: inner, pos: { start: t.pos, end: close.end } };
      }
      case '{':
        return this.parseVectorSelector(undefined);
      case 'IDENT':
        this.advance();
        if (this.k() === '(') return this.parseCall(t);
        return this.parseVectorSelector(t);
      case 'METRIC_IDENT':
        this.advance();
        return this.parseVectorSelector(t);
      case 'AGGR': {
        this.advance();
        const n = this.tok;
        if (n.kind === '(' || (n.kind === 'KW' && (n.val === 'by' || n.val === 'without'))) return this.parseAggregate(t);
        if (
          n.kind === 'IDENT' ||
          n.kind === 'METRIC_IDENT' ||
          n.kind === 'NUMBER' ||
          n.kind === 'DURATION' ||
          n.kind === 'STRING' ||
          n.kind === 'AGGR' ||
          (n.kind === 'KW' && (n.val === 'start' || n.val === 'end'))
        ) {
          this.unexpected('aggregation');
        }
        return this.parseVectorSelector(t);
      }
      case 'KW':
      case 'OP':
        if (METRIC_NAME_KEYWORDS.has(t.val)) {
          this.advance();
          return this.parseVectorSelector(t);
        }
        return this.unexpected();
      default:
        return this.unexpected();
    }
  }

  private number(t: Token): number {
    const s = t.val.replace(/_/g, '');
    const lower = s.toLowerCase();
    if (lower === 'inf') return Infinity;
    if (lower === 'nan') return NaN;
    if (/^0[xX][0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
    // Go's ParseInt(s, 0, 64) comes first: a leading 0 means octal.
    if (/^0[0-7]+$/.test(s)) return parseInt(s.slice(1), 8);
    const v = Number(s);
    if (Number.isNaN(v)) this.fail({ start: t.pos, end: t.end }, `error parsing number: strconv.ParseFloat: parsing ${goQuote(t.val)}: invalid syntax`);
    return v;
  }

  private durationMs(t: Token): number {
    let ms: number;
    try {
      ms = parseDuration(t.val);
    } catch (err) {
      return this.fail({ start: t.pos, end: t.end }, (err as Error).message);
    }
    if (ms === 0) this.fail({ start: t.pos, end: t.end }, 'duration must be greater than 0');
    return ms;
  }

  /** number_duration_literal in ranges, steps and offsets: a number is seconds. */
  private parseDurationLiteral(context: string, expected: string): number {
    const t = this.tok;
    if (t.kind === 'NUMBER') {
      this.advance();
      return Math.trunc(this.number(t) * 1000);
    }
    if (t.kind === 'DURATION') {
      this.advance();
      return this.durationMs(t);
    }
    return this.unexpected(context, expected);
  }

  private parseVectorSelector(nameTok: Token | undefined): VectorSelector {
    const start = nameTok ? nameTok.pos : this.tok.pos;
    let end = nameTok ? nameTok.end : this.tok.end;
    const matchers: LabelMatcher[] = [];
    if (this.k() === '{') {
      this.advance();
      while (this.k() !== '}') {
        matchers.push(this.parseLabelMatcher());
        if (this.k() === ',') {
          this.advance();
        } else if (this.k() !== '}') {
          this.unexpected('label matching', '"," or "}"');
        }
      }
      end = this.advance().end;
    }
    const vs: VectorSelector = { type: 'VectorSelector', matchers, offsetMs: 0, pos: { start, end } };
    if (nameTok) {
      vs.name = nameTok.val;
      matchers.push({ type: '=', name: METRIC_NAME, value: nameTok.val });
    }
    return vs;
  }

  private parseLabelMatcher(): LabelMatcher {
    const t = this.tok;
    let name: string;
    if (t.kind === 'IDENT') name = t.val;
    else if (t.kind === 'STRING') name = unquoteString(t.val);
    else return this.unexpected('label matching', 'identifier or "}"');
    this.advance();
    const opTok = this.tok;
    let type: MatchType;
    if (opTok.kind === '=') type = '=';
    else if (opTok.kind === 'OP' && (opTok.val === '!=' || opTok.val === '=~' || opTok.val === '!~')) type = opTok.val;
    else if (t.kind === 'STRING' && (opTok.kind === ',' || opTok.kind === '}')) {
      return { type: '=', name: METRIC_NAME, value: name }; // {"metric.name"}
    } else if (t.kind === 'STRING') {
      return this.unexpected('label matching', '"," or "}"');
    } else {
      return this.unexpected('label matching', 'label matching operator');
    }
    this.advance();
    const v = this.tok;
    if (v.kind !== 'STRING') return this.unexpected('label matching', 'string');
    this.advance();
    const m: LabelMatcher = { type, name, value: unquoteString(v.val) };
    if (type === '=~' || type === '!~') {
      try {
        compileRegex(m.value, { dotAll: true });
      } catch (err) {
        // RegexError texts are Go's: "error parsing regexp: missing closing ): `(a`".
        const anchored = this.opts.anchoredRegexErrors ? anchoredRegexError(m.value) : undefined;
        this.fail({ start: t.pos, end: v.end }, anchored ?? (err as Error).message);
      }
    }
    return m;
  }

  private parseGroupingLabels(): string[] {
    if (this.k() !== '(') this.unexpected('grouping opts', '"("');
    this.advance();
    const labels: string[] = [];
    while (this.k() !== ')') {
      const t = this.tok;
      if (
        t.kind === 'IDENT' ||
        t.kind === 'METRIC_IDENT' ||
        t.kind === 'KW' ||
        t.kind === 'AGGR' ||
        (t.kind === 'OP' && /^[a-z]/.test(t.val) && t.val !== '@')
      ) {
        labels.push(t.val);
      } else if (t.kind === 'STRING') {
        labels.push(unquoteString(t.val));
      } else {
        this.unexpected('grouping opts', 'label');
      }
      this.advance();
      if (this.k() === ',') this.advance();
      else if (this.k() !== ')') this.unexpected('grouping opts', '"," or ")"');
    }
    this.advance();
    return labels;
  }

  /** function_call_body after the name: "(" args ")". */
  private parseCallArgs(): { args: Expr[]; end: number } {
    this.advance(); // (
    const args: Expr[] = [];
    while (this.k() !== ')') {
      args.push(this.parseBinary(1));
      if (this.k() === ',') {
        const comma = this.advance();
        if (this.k() === ')') this.fail({ start: comma.pos, end: comma.end }, 'trailing commas not allowed in function call args');
      } else if (this.k() !== ')') {
        this.unexpected();
      }
    }
    return { args, end: this.advance().end };
  }

  private parseCall(nameTok: Token): Call {
    const { args, end } = this.parseCallArgs();
    const func = FUNCTIONS.get(nameTok.val);
    if (!func) this.fail({ start: nameTok.pos, end: nameTok.end }, `unknown function with name ${goQuote(nameTok.val)}`);
    return { type: 'Call', func, args, pos: { start: nameTok.pos, end } };
  }

  private parseAggregate(opTok: Token): AggregateExpr {
    const op = opTok.val as AggregateOp;
    let grouping: string[] = [];
    let without = false;
    let modified = false;
    let end: number;
    if (this.isKw('by') || this.isKw('without')) {
      without = this.tok.val === 'without';
      this.advance();
      grouping = this.parseGroupingLabels();
      modified = true;
    }
    if (this.k() !== '(') this.unexpected('aggregation');
    const body = this.parseCallArgs();
    end = body.end;
    if (!modified && (this.isKw('by') || this.isKw('without'))) {
      without = this.tok.val === 'without';
      this.advance();
      grouping = this.parseGroupingLabels();
      end = this.lastClosing;
    }
    const pos = { start: opTok.pos, end };
    const args = body.args;
    if (args.length === 0) this.fail(pos, 'no arguments for aggregate expression provided');
    const desired = AGGREGATORS_WITH_PARAM.has(op) ? 2 : 1;
    if (args.length !== desired) {
      this.fail(pos, `wrong number of arguments for aggregate expression provided, expected ${desired}, got ${args.length}`);
    }
    const agg: AggregateExpr = {
      type: 'AggregateExpr',
      op,
      expr: args[desired - 1],
      grouping,
      without,
      experimental: EXPERIMENTAL_AGGREGATORS.has(op),
      pos,
    };
    if (desired === 2) agg.param = args[0];
    return agg;
  }

  private parseRangeOrSubquery(e: Expr): Expr {
    const open = this.advance(); // [
    const range = this.parseDurationLiteral('subquery selector', 'number or duration');
    if (this.k() === ']') {
      const close = this.advance();
      let msg = '';
      if (e.type !== 'VectorSelector') msg = 'ranges only allowed for vector selectors';
      else if (e.offsetMs !== 0) msg = 'no offset modifiers allowed before range';
      else if (e.timestampMs !== undefined || e.startOrEnd !== undefined) msg = 'no @ modifiers allowed before range';
      if (msg) this.fail({ start: open.pos, end: close.end }, msg);
      const ms: MatrixSelector = {
        type: 'MatrixSelector',
        vectorSelector: e as VectorSelector,
        rangeMs: range,
        pos: { start: e.pos.start, end: close.end },
      };
      return ms;
    }
    if (this.k() !== ':') this.unexpected('subquery or range', '":" or "]"');
    this.advance();
    let step = 0;
    if (this.k() !== ']') {
      step = this.parseDurationLiteral('subquery selector', 'number or duration or "]"');
      if (this.k() !== ']') this.unexpected('subquery selector', '"]"');
    }
    const close = this.advance();
    const sq: SubqueryExpr = {
      type: 'SubqueryExpr',
      expr: e,
      rangeMs: range,
      stepMs: step,
      offsetMs: 0,
      pos: { start: e.pos.start, end: close.end },
    };
    return sq;
  }

  /** The node whose offset/@ a modifier sets, or an error (Prometheus addOffset/getAtModifierVars). */
  private modifierTarget(e: Expr, what: string): VectorSelector | SubqueryExpr {
    switch (e.type) {
      case 'VectorSelector':
        return e;
      case 'SubqueryExpr':
        return e;
      case 'MatrixSelector':
        return e.vectorSelector;
      default:
        return this.fail(e.pos, `${what} modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
    }
  }

  private parseOffset(e: Expr): void {
    this.advance(); // offset
    let sign = 1;
    if (this.isOp('-') || this.isOp('+')) {
      if (this.tok.val === '-') sign = -1;
      this.advance();
    }
    const ms = this.parseDurationLiteral('offset', 'number or duration') * sign;
    const target = this.modifierTarget(e, 'offset');
    if (target.offsetMs !== 0) this.fail(e.pos, 'offset may not be set multiple times');
    target.offsetMs = ms;
    e.pos = { start: e.pos.start, end: this.lastClosing };
  }

  private parseAt(e: Expr): void {
    this.advance(); // @
    let ts: number | undefined;
    let startOrEnd: 'start' | 'end' | undefined;
    if (this.isKw('start') || this.isKw('end')) {
      startOrEnd = this.tok.val as 'start' | 'end';
      this.advance();
      if (this.k() !== '(') this.unexpected('@', '"("');
      this.advance();
      if (this.k() !== ')') this.unexpected('@', '")"');
      this.advance();
    } else {
      let sign = 1;
      if (this.isOp('-') || this.isOp('+')) {
        if (this.tok.val === '-') sign = -1;
        this.advance();
      }
      const t = this.tok;
      if (t.kind === 'NUMBER') ts = this.number(t) * sign;
      else if (t.kind === 'DURATION') ts = (this.durationMs(t) / 1000) * sign;
      else this.unexpected('@', 'timestamp');
      this.advance();
    }
    const target = this.modifierTarget(e, '@');
    if (ts !== undefined && (!Number.isFinite(ts) || ts >= 9.223372036854776e18 || ts <= -9.223372036854776e18)) {
      this.fail(e.pos, `timestamp out of bounds for @ modifier: ${goFloatF(ts)}`);
    }
    if (target.timestampMs !== undefined || target.startOrEnd !== undefined) {
      this.fail(e.pos, '@ <timestamp> may not be set multiple times');
    }
    if (ts !== undefined) target.timestampMs = Math.round(ts * 1000);
    if (startOrEnd) target.startOrEnd = startOrEnd;
    e.pos = { start: e.pos.start, end: this.lastClosing };
  }

  // ---- type checking (Prometheus checkAST) ----

  private checkAST(node: Expr): ValueType {
    const typ = valueTypeOf(node);
    switch (node.type) {
      case 'AggregateExpr':
        this.expectType(node.expr, 'vector', 'aggregation expression');
        if (node.param) {
          if (node.op === 'count_values') this.expectType(node.param, 'string', 'aggregation parameter');
          else this.expectType(node.param, 'scalar', 'aggregation parameter');
        }
        break;
      case 'BinaryExpr': {
        const lt = this.checkAST(node.lhs);
        const rt = this.checkAST(node.rhs);
        const opRange = (): PosRange => {
          let s = node.lhs.pos.end;
          while (s < this.input.length && /\s/.test(this.input[s])) s++;
          let e = node.rhs.pos.start - 1;
          while (e > s && /\s/.test(this.input[e])) e--;
          return { start: s, end: e };
        };
        const isCmp = COMPARISON_OPS.has(node.op);
        const isSet = SET_OPS.has(node.op);
        if (node.returnBool && !isCmp) this.fail(opRange(), 'bool modifier can only be used on comparison operators');
        if (isCmp && !node.returnBool && lt === 'scalar' && rt === 'scalar') {
          this.fail(opRange(), 'comparisons between scalars must use BOOL modifier');
        }
        const vm = node.vectorMatching;
        if (vm) {
          if (isSet && vm.card === 'one-to-one') vm.card = 'many-to-many';
          if (vm.on) {
            for (const l of vm.matchingLabels) {
              if (vm.include.includes(l)) this.fail(opRange(), `label ${goQuote(l)} must not occur in ON and GROUP clause at once`);
            }
          }
        }
        if (lt !== 'scalar' && lt !== 'vector') this.fail(node.lhs.pos, 'binary expression must contain only scalar and instant vector types');
        if (rt !== 'scalar' && rt !== 'vector') this.fail(node.rhs.pos, 'binary expression must contain only scalar and instant vector types');
        if ((lt !== 'vector' || rt !== 'vector') && vm) {
          if (vm.matchingLabels.length > 0) this.fail(node.pos, 'vector matching only allowed between instant vectors');
          delete node.vectorMatching;
        } else if (isSet && vm) {
          if (vm.card === 'one-to-many' || vm.card === 'many-to-one') this.fail(node.pos, `no grouping allowed for ${goQuote(node.op)} operation`);
          if (vm.card !== 'many-to-many') this.fail(node.pos, 'set operations must always be many-to-many');
        }
        if ((lt === 'scalar' || rt === 'scalar') && isSet) {
          this.fail(node.pos, `set operator ${goQuote(node.op)} not allowed in binary scalar expression`);
        }
        break;
      }
      case 'Call': {
        const f = node.func;
        const nargs = f.argTypes.length;
        if (f.variadic === 0) {
          if (nargs !== node.args.length) {
            this.fail(node.pos, `expected ${nargs} argument(s) in call to ${goQuote(f.name)}, got ${node.args.length}`);
          }
        } else {
          const na = nargs - 1;
          if (na > node.args.length) {
            this.fail(node.pos, `expected at least ${na} argument(s) in call to ${goQuote(f.name)}, got ${node.args.length}`);
          } else if (f.variadic > 0 && na + f.variadic < node.args.length) {
            this.fail(node.pos, `expected at most ${na + f.variadic} argument(s) in call to ${goQuote(f.name)}, got ${node.args.length}`);
          }
        }
        node.args.forEach((arg, i) => {
          if (i >= nargs) {
            if (f.variadic === 0) return;
            i = nargs - 1;
          }
          this.expectType(arg, f.argTypes[i], `call to function ${goQuote(f.name)}`);
        });
        break;
      }
      case 'ParenExpr':
        this.checkAST(node.expr);
        break;
      case 'UnaryExpr': {
        const t = this.checkAST(node.expr);
        if (t !== 'scalar' && t !== 'vector') {
          this.fail(node.pos, `unary expression only allowed on expressions of type scalar or instant vector, got ${goQuote(documentedType(t))}`);
        }
        break;
      }
      case 'SubqueryExpr': {
        const t = this.checkAST(node.expr);
        if (t !== 'vector') this.fail(node.pos, `subquery is only allowed on instant vector, got ${t}`);
        break;
      }
      case 'MatrixSelector':
        this.checkAST(node.vectorSelector);
        break;
      case 'VectorSelector': {
        if (node.name !== undefined) {
          for (const m of node.matchers.slice(0, -1)) {
            if (m.name === METRIC_NAME) {
              this.fail(node.pos, `metric name must not be set twice: ${goQuote(node.name)} or ${goQuote(m.value)}`);
            }
          }
          break;
        }
        if (!node.matchers.some((m) => !matcherMatchesEmpty(m))) {
          this.fail(node.pos, 'vector selector must contain at least one non-empty matcher');
        }
        break;
      }
      default:
        break;
    }
    return typ;
  }

  private expectType(node: Expr, want: ValueType, context: string): void {
    const t = this.checkAST(node);
    if (t !== want) this.fail(node.pos, `expected type ${documentedType(want)} in ${context}, got ${documentedType(t)}`);
  }
}

/** Go's %f. */
function goFloatF(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return v.toFixed(6);
}

/** Whether a matcher accepts the empty string (a selector needs one matcher that does not). */
export function matcherMatchesEmpty(m: LabelMatcher): boolean {
  return compileMatcher(m, { dotAll: true })('');
}

// ---- printing (Prometheus String()) ----

function quoteLabelName(n: string): string {
  return isLegacyLabelName(n) ? n : goQuote(n);
}

function joinLabels(ls: readonly string[]): string {
  return ls.map(quoteLabelName).join(', ');
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  const s = String(v);
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, int, frac = '', expS] = m;
  const exp = Number(expS);
  const digits = int + frac;
  const point = int.length + exp;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

function formatMs(ms: number): string {
  return formatDuration(ms);
}

function atAndOffset(n: { timestampMs?: number; startOrEnd?: 'start' | 'end'; offsetMs: number }): string {
  let s = '';
  if (n.timestampMs !== undefined) s += ` @ ${(n.timestampMs / 1000).toFixed(3)}`;
  else if (n.startOrEnd) s += ` @ ${n.startOrEnd}()`;
  if (n.offsetMs > 0) s += ` offset ${formatMs(n.offsetMs)}`;
  else if (n.offsetMs < 0) s += ` offset -${formatMs(-n.offsetMs)}`;
  return s;
}

function formatMatcher(m: LabelMatcher): string {
  return `${quoteLabelName(m.name)}${m.type}${goQuote(m.value)}`;
}

function formatVectorSelector(vs: VectorSelector, withModifiers: boolean): string {
  const parts: string[] = [];
  for (const m of vs.matchers) {
    if (m.name === METRIC_NAME && m.type === '=' && m.value === vs.name && m.value !== '') continue;
    parts.push(formatMatcher(m));
  }
  const mods = withModifiers ? atAndOffset(vs) : '';
  const name = vs.name ?? '';
  if (parts.length === 0) return `${name}${mods}`;
  parts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `${name}{${parts.join(',')}}${mods}`;
}

/** Prometheus-style String() of an expression; parses back to the same AST. */
export function formatExpr(e: Expr): string {
  switch (e.type) {
    case 'NumberLiteral':
      if (e.duration) return e.val < 0 ? `-${formatMs(Math.round(-e.val * 1000))}` : formatMs(Math.round(e.val * 1000));
      return formatNumber(e.val);
    case 'StringLiteral':
      return goQuote(e.val);
    case 'ParenExpr':
      return `(${formatExpr(e.expr)})`;
    case 'UnaryExpr':
      return `${e.op}${formatExpr(e.expr)}`;
    case 'StepInvariantExpr':
      return formatExpr(e.expr);
    case 'VectorSelector':
      return formatVectorSelector(e, true);
    case 'MatrixSelector':
      return `${formatVectorSelector(e.vectorSelector, false)}[${formatMs(e.rangeMs)}]${atAndOffset(e.vectorSelector)}`;
    case 'SubqueryExpr':
      return `${formatExpr(e.expr)}[${formatMs(e.rangeMs)}:${e.stepMs ? formatMs(e.stepMs) : ''}]${atAndOffset(e)}`;
    case 'Call':
      return `${e.func.name}(${e.args.map(formatExpr).join(', ')})`;
    case 'AggregateExpr': {
      let s: string = e.op;
      if (e.without) s += ` without (${joinLabels(e.grouping)}) `;
      else if (e.grouping.length > 0) s += ` by (${joinLabels(e.grouping)}) `;
      s += '(';
      if (e.param) s += `${formatExpr(e.param)}, `;
      return `${s}${formatExpr(e.expr)})`;
    }
    case 'BinaryExpr': {
      let matching = '';
      const vm = e.vectorMatching;
      const grouped = vm && (vm.card === 'many-to-one' || vm.card === 'one-to-many');
      if (vm && (vm.matchingLabels.length > 0 || vm.on || grouped)) {
        matching = ` ${vm.on ? 'on' : 'ignoring'} (${joinLabels(vm.matchingLabels)})`;
        if (grouped) matching += ` group_${vm.card === 'many-to-one' ? 'left' : 'right'} (${joinLabels(vm.include)})`;
      }
      return `${formatExpr(e.lhs)} ${e.op}${e.returnBool ? ' bool' : ''}${matching} ${formatExpr(e.rhs)}`;
    }
  }
}
