// Devices-file errors name the line and the field, never the value (review of issue 11, item 7):
// a shadow file or a key passed by mistake must not be echoed to a terminal or a CI log.
import { describe, expect, it } from 'vitest';
import { parseDevicesFile } from '../../../src/ca/devices-file.js';

const SECRET = 'root:$6$salt$HASH';

describe('parseDevicesFile errors', () => {
  const cases: [string, RegExp][] = [
    [`x ${SECRET}`, /^fleet\.txt:2: invalid host \(field 2: /],
    [`${SECRET} 10.0.0.1`, /^fleet\.txt:2: invalid device name \(field 1: /],
    [`x 10.0.0.1 ${SECRET}`, /^fleet\.txt:2: invalid port \(field 3: 1-65535\)$/],
    [`x 10.0.0.1 22 /mnt/${SECRET}`, /^fleet\.txt:2: unsafe config path \(field 4: /],
    [`x 10.0.0.1 22 /a ${SECRET}`, /^fleet\.txt:2: expected "<name> <host> \[port\] \[config-path\]"$/],
  ];
  for (const [line, want] of cases) {
    it(`${want.source} without echoing the line`, () => {
      let msg = '';
      try {
        parseDevicesFile(`# devices\n${line}\n`, { source: 'fleet.txt' });
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(want);
      expect(msg).not.toContain('HASH');
      expect(msg).not.toContain('$6$');
    });
  }

  it('still accepts a good file', () => {
    expect(parseDevicesFile('a 10.0.0.1 22 /mnt/boot/config.json\nb host.local\n')).toMatchObject([{ name: 'a', port: 22 }, { name: 'b', port: 22222 }]);
  });
});
