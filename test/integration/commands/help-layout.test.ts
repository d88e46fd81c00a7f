// Help as the bundled CLI prints it at 80 columns: a type tag never glued to its description
// (cliui rendered "…raspberrypi4-64[string]" when the last line left exactly the tag's room), and
// ssh's --json described as what it does there (stderr), not the general "on stdout".
import { test, expect } from '../../support/context.js';
import { runCli } from '../../support/cli.js';

const glued = /\S\[(boolean|string|number|count|array|required|default|choices)\b/;

for (const cmd of [['provision', 'register'], ['ca', 'rotate'], ['ssh'], ['login'], ['context', 'add']]) {
  test(`fleetvault ${cmd.join(' ')} --help: no type tag glued to its description`, async ({ tmp }) => {
    const r = await runCli([...cmd, '--help'], { env: { HOME: tmp, COLUMNS: '80' } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter((l) => glued.test(l))).toEqual([]);
    if (cmd[0] === 'ssh') {
      expect(r.stdout).toMatch(/--json +the session summary as JSON on stderr/);
      expect(r.stdout).not.toMatch(/--json +machine-readable output on stdout/);
    }
  });
}
