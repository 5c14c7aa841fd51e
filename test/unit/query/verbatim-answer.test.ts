// verbatimData (json-api-client.ts): a whole query's answer passes on as the server wrote it only
// when its bytes are what the engine would write; anything else (another layout, a point off the
// steps, an unsorted answer the engine would sort, labels it would drop or reorder) is parsed.

import { describe, expect, it } from 'vitest';
import { verbatimData } from '../../../src/query/downstream/json-api-client.js';
import type { PushdownRequest } from '../../../src/storage/interface.js';

const RANGE: PushdownRequest = { query: 'rate(x[5m])', matchers: [], startMs: 60_000, endMs: 180_000, stepMs: 60_000, verbatim: 'sorted' };
const INSTANT: PushdownRequest = { query: 'x', matchers: [], startMs: 60_500, endMs: 60_500, stepMs: 0, verbatim: 'sorted' };

const envelope = (data: string): string => `{"status":"success","data":${data}}`;
const matrix = (...series: string[]): string => envelope(`{"resultType":"matrix","result":[${series.join(',')}]}`);
const vector = (...series: string[]): string => envelope(`{"resultType":"vector","result":[${series.join(',')}]}`);

function check(body: string, req: PushdownRequest): ReturnType<typeof verbatimData> {
  return verbatimData(Buffer.from(body), req);
}

describe('verbatimData', () => {
  it("passes on Prometheus's answer: the data member's bytes, with its series and points counted", () => {
    const a = '{"metric":{"__name__":"x","job":"a"},"values":[[60,"1"],[120,"2.5"],[180,"NaN"]]}';
    const b = '{"metric":{"__name__":"x","job":"b"},"values":[[180,"1e-07"]]}';
    const body = matrix(a, b);
    const v = check(body, RANGE);
    expect(Buffer.from(v!.data).toString()).toBe(`{"resultType":"matrix","result":[${a},${b}]}`);
    expect([v!.series, v!.points]).toEqual([2, 4]);
    const inst = vector('{"metric":{"job":"a"},"value":[60.500,"3"]}');
    expect(check(inst, INSTANT)?.points).toBe(1);
    expect(check(vector(), INSTANT)).toEqual({ data: Buffer.from('{"resultType":"vector","result":[]}'), series: 0, points: 0 });
  });

  it('keeps the server order only where the engine keeps it (sort, topk): otherwise it must be label order already', () => {
    const body = vector('{"metric":{"job":"b"},"value":[60.500,"1"]}', '{"metric":{"job":"a"},"value":[60.500,"2"]}');
    expect(check(body, INSTANT)).toBeUndefined();
    expect(check(body, { ...INSTANT, verbatim: 'any' })?.series).toBe(2);
    // The same labels twice is not an order either.
    expect(check(vector('{"metric":{"job":"a"},"value":[60.500,"1"]}', '{"metric":{"job":"a"},"value":[60.500,"2"]}'), INSTANT)).toBeUndefined();
  });

  it('parses instead when a point is off the steps, out of time order, or a series has none', () => {
    const s = (values: string) => matrix(`{"metric":{"job":"a"},"values":${values}}`);
    expect(check(s('[[60,"1"],[120,"2"]]'), RANGE)).toBeDefined();
    expect(check(s('[[90,"1"]]'), RANGE)).toBeUndefined();
    expect(check(s('[[240,"1"]]'), RANGE)).toBeUndefined();
    expect(check(s('[[120,"1"],[60,"2"]]'), RANGE)).toBeUndefined();
    expect(check(s('[[60,"1"],[60,"2"]]'), RANGE)).toBeUndefined();
    expect(check(s('[]'), RANGE)).toBeUndefined();
    expect(check(s('[[60,1]]'), RANGE)).toBeUndefined();
    expect(check(vector('{"metric":{"job":"a"},"value":[61,"3"]}'), INSTANT)).toBeUndefined();
    expect(check(s('[[60,"1"x]]'), RANGE)).toBeUndefined();
    expect(check(s('[[60,"1 "]]'), RANGE)).toBeUndefined();
  });

  it('parses instead when labels would be written otherwise: out of order, empty, escaped, not plain ASCII', () => {
    const one = (metric: string) => vector(`{"metric":${metric},"value":[60.500,"1"]}`);
    expect(check(one('{"instance":"i","job":"a"}'), INSTANT)).toBeDefined();
    expect(check(one('{"job":"a","instance":"i"}'), INSTANT)).toBeUndefined();
    expect(check(one('{"instance":"","job":"a"}'), INSTANT)).toBeUndefined();
    expect(check(one('{"a":"x","1b":"y"}'), INSTANT)).toBeUndefined();
    expect(check(one('{"job":"a\\"b"}'), INSTANT)).toBeUndefined();
    expect(check(one('{"job":"\\u003cb"}'), INSTANT)).toBeUndefined();
    expect(check(one('{"job":"<b"}'), INSTANT)).toBeUndefined();
    expect(check(one('{"job":"é"}'), INSTANT)).toBeUndefined();
  });

  it('parses instead when a timestamp is not written as MarshalTimestamp writes it', () => {
    const at = (t: string, req = INSTANT) => check(vector(`{"metric":{"job":"a"},"value":[${t},"1"]}`), req);
    expect(at('60.500')).toBeDefined();
    expect(at('60.5')).toBeUndefined();
    expect(at('060.500')).toBeUndefined();
    expect(at('60.5000')).toBeUndefined();
    expect(at('6.05e1')).toBeUndefined();
    const whole = { ...INSTANT, startMs: 60_000, endMs: 60_000 };
    expect(at('60', whole)).toBeDefined();
    expect(at('60.000', whole)).toBeUndefined();
    expect(at('-1.500', { ...INSTANT, startMs: -1500, endMs: -1500 })).toBeDefined();
    expect(at('-0.250', { ...INSTANT, startMs: -250, endMs: -250 })).toBeDefined();
  });

  it('parses instead for another layout: spaces, another result type, extra members, native histograms', () => {
    expect(check(`{"status": "success","data":{"resultType":"vector","result":[]}}`, INSTANT)).toBeUndefined();
    expect(check(matrix(), INSTANT)).toBeUndefined();
    expect(check(vector(), RANGE)).toBeUndefined();
    expect(check(envelope('{"resultType":"vector","result":[],"stats":{}}'), INSTANT)).toBeUndefined();
    expect(check(vector('{"metric":{"job":"a"},"value":[60.500,"1"],"histogram":[60.500,{}]}'), INSTANT)).toBeUndefined();
    expect(check(vector('{"metric":{"job":"a"},"histogram":[60.500,{}]}'), INSTANT)).toBeUndefined();
    // Annotations after `data`: not the answer's bytes alone.
    expect(check(`{"status":"success","data":{"resultType":"vector","result":[]},"warnings":["w"]}`, INSTANT)).toBeUndefined();
    expect(check(`{"status":"success","data":{"resultType":"vector","result":[]}} `, INSTANT)).toBeUndefined();
  });
});
