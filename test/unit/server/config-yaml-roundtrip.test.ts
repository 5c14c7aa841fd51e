// /api/v1/status/config's YAML must be a config promfront accepts again (check-config): every
// duration written with its unit, refined ones (positive durations such as dial_timeout) included.

import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../src/config/load.js';
import { configToYaml } from '../../../src/server/config-yaml.js';

const CONFIG = `listen: 127.0.0.1:9999
query:
  timeout: 90s
  server_groups:
    - name: a
      static_configs: [{targets: ["127.0.0.1:9090"]}]
      file_sd_configs: [{files: ["/tmp/none.json"], refresh_interval: 2m}]
      dns_sd_configs: [{names: ["prom.example"], type: A, port: 9090, refresh_interval: 45s}]
      anti_affinity: 5s
      http_client: {dial_timeout: 250ms}
`;

describe('status/config YAML', () => {
  it('writes every duration with its unit, so the output loads again to the same config', () => {
    const config = parseConfigText(CONFIG);
    const yaml = configToYaml(config);
    expect(yaml).toContain('dial_timeout: 250ms');
    expect(yaml).toContain('refresh_interval: 2m');
    expect(yaml).toContain('refresh_interval: 45s');
    expect(yaml).not.toMatch(/(timeout|interval|affinity): \d+$/m);
    expect(parseConfigText(yaml)).toEqual(config);
  });

  it('the defaults written back load again too', () => {
    const config = parseConfigText('listen: 127.0.0.1:1\nquery:\n  server_groups: [{name: g, static_configs: [{targets: ["h:1"]}]}]\n');
    const yaml = configToYaml(config);
    expect(yaml).toContain('dial_timeout: 200ms');
    expect(parseConfigText(yaml)).toEqual(config);
  });
});
