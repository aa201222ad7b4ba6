/** Generated Julia Manifest.toml files for the benchmarks (shared by several of them). */
import { randomBytes } from 'crypto';

/**
 * A manifest_format 2.0 Manifest of `packages` packages (random uuids and tree hashes,
 * 4 to 15 deps, weakdeps and extensions each): 400 packages make about 200 KB.
 */
export function manifest(packages: number): string {
  const uuid = () => {
    const h = randomBytes(16).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const lines = [
    '# This file is machine-generated - editing it directly is not advised',
    '',
    'julia_version = "1.10.4"',
    'manifest_format = "2.0"',
    `project_hash = "${randomBytes(20).toString('hex')}"`,
    ''
  ];
  for (let i = 0; i < packages; i++) {
    const deps = Array.from(
      { length: 4 + (i % 12) },
      (_, k) => `"Package${(i * 7 + k) % packages}"`
    );
    lines.push(
      `[[deps.Package${i}]]`,
      `deps = [${deps.join(', ')}]`,
      `git-tree-sha1 = "${randomBytes(20).toString('hex')}"`,
      `uuid = "${uuid()}"`,
      `version = "${i % 5}.${i % 13}.${i % 7}"`,
      '',
      `    [deps.Package${i}.weakdeps]`,
      `    ChainRulesCore = "d360d2e6-b24c-11e9-a2a3-2a2ae2dbcce4"`,
      `    SparseArrays = "2f01184e-e22b-5df5-ae63-d93ebab69eaf"`,
      '',
      `    [deps.Package${i}.extensions]`,
      `    Package${i}ChainRulesCoreExt = "ChainRulesCore"`,
      `    Package${i}SparseArraysExt = "SparseArrays"`,
      ''
    );
  }
  return lines.join('\n');
}
