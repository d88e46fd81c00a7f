import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { LayoutSettings } from '../config.js';
import { POLICY_FILES, policyName, renderPolicy, type Persona } from './layout.js';

// policies/ sits at the package root, two levels above both src/vault and dist/vault.
const POLICY_DIR = fileURLToPath(new URL('../../policies/', import.meta.url));

export function policyText(persona: Persona, layout: LayoutSettings): string {
  return renderPolicy(readFileSync(POLICY_DIR + POLICY_FILES[persona], 'utf8'), layout);
}

/** Vault policy name → rendered HCL, for the four personas. */
export function allPolicies(layout: LayoutSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of Object.keys(POLICY_FILES) as Persona[]) out[policyName(layout, p)] = policyText(p, layout);
  return out;
}
