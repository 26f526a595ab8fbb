import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyVariableWarnings, KNOWN_VARIABLES, unknownVariableWarnings } from '../../../src/config-variables.js';

/** The AGENTMESH_* names in a tree's sources, without the NATS stream names (not variables). */
function namesIn(dir: string, names = new Set<string>()): Set<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) namesIn(path, names);
    else if (/\.(ts|mjs|sh)$/u.test(entry) && !path.endsWith('config-variables.ts') && !path.endsWith('config-variables.test.ts')) for (const [name] of readFileSync(path, 'utf8').matchAll(/AGENTMESH_[A-Z0-9_]*[A-Z0-9]/gu)) names.add(name);
  }
  for (const stream of ['AGENTMESH_WORK', 'AGENTMESH_EVENTS']) names.delete(stream);
  return names;
}

describe('AGENTMESH_* variables', () => {
  it('lists exactly the names the sources, benchmarks and tests read', () => {
    const read = new Set([...namesIn('src'), ...namesIn('bench'), ...namesIn('test')]);
    // Misspellings the tests make on purpose.
    for (const misspelt of ['AGENTMESH_PROT']) read.delete(misspelt);
    expect([...KNOWN_VARIABLES].sort()).toEqual([...read].sort());
  });

  it('documents in the README every variable the mesh and the CLI read', () => {
    const readme = readFileSync('README.md', 'utf8');
    const undocumented = [...namesIn('src')].filter((name) => !readme.includes(name));
    expect(undocumented).toEqual([]);
  });

  it('warns of a misspelt variable and names the one it most likely meant', () => {
    expect(unknownVariableWarnings({ AGENTMESH_LOG_LEVLE: 'debug', AGENTMESH_PORT: '1', PATH: '/bin' })).toEqual([
      'AGENTMESH_LOG_LEVLE is not a setting AgentMesh reads; it is ignored (did you mean AGENTMESH_LOG_LEVEL?)',
    ]);
    expect(unknownVariableWarnings({ AGENTMESH_AUDIT_CHECKPOINT_INTERVAL_MS: '5000' })).toEqual([
      'AGENTMESH_AUDIT_CHECKPOINT_INTERVAL_MS is not a setting AgentMesh reads; it is ignored (did you mean AGENTMESH_AUDIT_CHECKPOINT_SECONDS?)',
    ]);
    expect(unknownVariableWarnings({ AGENTMESH_NOTHING_LIKE_IT: 'x' })).toEqual(['AGENTMESH_NOTHING_LIKE_IT is not a setting AgentMesh reads; it is ignored']);
    expect(unknownVariableWarnings({})).toEqual([]);
  });

  it('warns of a known variable set but empty (it counts as unset), not of an unset one, nor of the data directory (refused instead)', () => {
    expect(emptyVariableWarnings({ AGENTMESH_PORT: '', AGENTMESH_HOST: '  ', AGENTMESH_LOG_LEVEL: 'info', AGENTMESH_DATA_DIR: '', AGENTMESH_NOT_KNOWN: '' })).toEqual([
      'AGENTMESH_PORT is set but empty, which counts as unset: its default is used',
      'AGENTMESH_HOST is set but empty, which counts as unset: its default is used',
    ]);
    expect(emptyVariableWarnings({})).toEqual([]);
  });
});
