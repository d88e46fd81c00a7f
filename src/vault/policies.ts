import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../package-root.js';
import type { LayoutSettings } from '../config.js';
import { POLICY_FILES, policyName, renderPolicy, type Persona } from './layout.js';


export function policyText(persona: Persona, layout: LayoutSettings): string {
  return renderPolicy(readFileSync(join(packageRoot(), 'policies', POLICY_FILES[persona]), 'utf8'), layout);
}

/** Vault policy name → rendered HCL, for the four personas. */
export function allPolicies(layout: LayoutSettings): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of Object.keys(POLICY_FILES) as Persona[]) out[policyName(layout, p)] = policyText(p, layout);
  return out;
}
