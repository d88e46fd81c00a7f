import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LayoutSettings } from '../config.js';
import { POLICY_FILES, renderPolicy, type PolicyName } from './layout.js';

// policies/ sits at the package root, two levels above both src/vault and dist/vault.
const POLICY_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));

export function policyText(name: PolicyName, layout: LayoutSettings): string {
  return renderPolicy(readFileSync(POLICY_DIR + POLICY_FILES[name], 'utf8'), layout);
}

export function allPolicies(layout: LayoutSettings): Record<PolicyName, string> {
  const out = {} as Record<PolicyName, string>;
  for (const n of Object.keys(POLICY_FILES) as PolicyName[]) out[n] = policyText(n, layout);
  return out;
}
