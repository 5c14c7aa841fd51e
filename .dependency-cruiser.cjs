// Import rules of the layout in ARCHITECTURE.md, checked by `npm run deps` (part of `npm test` and
// `npm run lint`): no cycles, and every module imports only from the layers below it. A module
// folder not named here (a new capability) may import any layer but server, dev, bench and test.
/** @type {import('dependency-cruiser').IConfiguration} */

// Layers, lowest first. Each may import itself and what is listed for it.
const allowed = {
  util: [],
  model: ['util'],
  remote: ['util', 'model'],
  storage: ['util', 'model'],
  promql: ['util', 'model', 'storage'],
  config: ['util', 'model'],
  client: ['util', 'model', 'config'],
  shard: ['util', 'model', 'config', 'client'],
  query: ['util', 'model', 'remote', 'storage', 'promql', 'config', 'client'],
};
const layers = Object.keys(allowed);
const all = [...layers, 'server', 'push', 'stream', 'fleet', 'rules', 'errors\\.ts', 'version\\.ts'];

const layerRules = layers.map((layer) => {
  const ok = [layer, ...allowed[layer], 'errors\\.ts', 'version\\.ts'];
  const forbidden = all.filter((x) => !ok.includes(x));
  return {
    name: `${layer}-imports-only-lower-layers`,
    comment: `src/${layer} may import only ${[...allowed[layer], 'errors.ts', 'version.ts'].join(', ')} (ARCHITECTURE.md)`,
    severity: 'error',
    from: { path: `^src/${layer}/` },
    to: { path: `^src/(${forbidden.join('|')})` },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle: split the shared part into a lower module.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'errors-and-version-import-nothing-of-ours',
      comment: 'src/errors.ts and src/version.ts sit below every layer.',
      severity: 'error',
      from: { path: '^src/(errors|version)\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'product-does-not-import-tools',
      comment: 'dist holds only the program: src never imports dev, bench or test.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(dev|bench|test)/' },
    },
    {
      name: 'only-server-imports-new-capabilities-freely',
      comment: 'Capabilities (push, stream, fleet, rules) do not import the server layer.',
      severity: 'error',
      from: { path: '^src/(push|stream|fleet|rules)/' },
      to: { path: '^src/server/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|dist-tools)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
