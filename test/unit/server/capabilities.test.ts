import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Capability, CapabilityFactory } from '../../../src/capability.js';
import type { Config } from '../../../src/config/schema.js';
import { createApp } from '../../../src/server/app.js';
import { capabilityProblems, CapabilitySet } from '../../../src/server/capabilities.js';

// A capability keyed on `log_level` (a section every config has), so the tests need no real section.
function recorder(name: string, events: string[]): CapabilityFactory {
  return {
    name,
    enabled: (c) => c.log_level !== 'silent',
    section: (c) => c.log_level,
    problems: (c) => (c.log_level === 'fatal' ? [`${name}: refuses fatal`] : []),
    create(c): Capability {
      events.push(`${name} create ${c.log_level}`);
      return {
        name,
        start: () => Promise.resolve(void events.push(`${name} start`)),
        reload: (n) => Promise.resolve(void events.push(`${name} reload ${n.log_level}`)),
        stop: () => Promise.resolve(void events.push(`${name} stop`)),
        fetch: (req) => (new URL(req.url).pathname === `/${name}` ? new Response(`from ${name}`) : undefined),
        metrics: () => Promise.resolve(`${name}_up 1\n`),
        status: () => ({ level: c.log_level }),
      };
    },
  };
}

const config = (level: Config['log_level']) => ({ listen: '127.0.0.1:0', log_level: level }) as Config;
const ctx = { log: pino({ level: 'silent' }), configFile: undefined, listen: '127.0.0.1:0', queryApi: () => Promise.resolve(undefined) };

describe('CapabilitySet', () => {
  it('creates, starts, reloads only on a changed section, removes and re-adds', async () => {
    const events: string[] = [];
    const set = new CapabilitySet(config('info'), ctx, [recorder('a', events)]);
    await set.start();
    expect(await set.apply(config('info'))).toEqual([]);
    expect(await set.apply(config('debug'))).toEqual(['a']);
    expect(await set.apply(config('silent'))).toEqual(['a']);
    expect(set.current).toHaveLength(0);
    expect(await set.apply(config('warn'))).toEqual(['a']);
    await set.stop();
    expect(events).toEqual(['a create info', 'a start', 'a reload debug', 'a stop', 'a create warn', 'a start', 'a stop']);
  });

  it('lists the problems of enabled capabilities only', () => {
    const f = [recorder('a', []), recorder('b', [])];
    expect(capabilityProblems(config('fatal'), undefined, f)).toEqual(['a: refuses fatal', 'b: refuses fatal']);
    expect(capabilityProblems(config('info'), undefined, f)).toEqual([]);
  });

  it('routes, /metrics and /status reach the capabilities in service', async () => {
    const set = new CapabilitySet(config('info'), ctx, [recorder('a', []), recorder('b', [])]);
    const app = createApp({ shard: undefined, capabilities: () => set.current, startedAt: Date.now() });
    expect(await (await app.request('/b')).text()).toBe('from b');
    expect((await app.request('/c')).status).toBe(404);
    expect(await (await app.request('/metrics')).text()).toContain('a_up 1\nb_up 1\n');
    expect(await (await app.request('/status')).json()).toMatchObject({ a: { level: 'info' }, b: { level: 'info' } });
  });
});
