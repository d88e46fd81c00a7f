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
    [`x 10.0.0.1 22 /a ${SECRET}`, /^fleet\.txt:2: expected "<name> <host> \[port\] \[config-path\] \[fleet=<org>\/<fleet>\] \[uuid=<uuid>\]"$/],
    [`x 10.0.0.1 fleet=${SECRET}`, /^fleet\.txt:2: invalid fleet \(field fleet=: /],
    [`x 10.0.0.1 22 uuid=${SECRET}`, /^fleet\.txt:2: invalid uuid \(field uuid=: /],
    [`x 10.0.0.1 ${SECRET.replace(':', '=')}`, /^fleet\.txt:2: unknown field after the positional ones /],
    [`x 10.0.0.1 fleet=acme/a ${SECRET}`, /^fleet\.txt:2: unknown field after the positional ones /],
    [`x 10.0.0.1 fleet=acme/a fleet=${SECRET}`, /^fleet\.txt:2: field fleet= given twice$/],
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

describe('parseDevicesFile fleet= and uuid=', () => {
  const U = '0123456789abcdef0123456789abcdef';

  it('reads them after the positional fields, normalized', () => {
    expect(parseDevicesFile(`a 10.0.0.1 22 /mnt/boot/config.json fleet=ACME/Sensors uuid=${U.toUpperCase()}\nb h fleet=acme/x\n`)).toEqual([
      { name: 'a', host: '10.0.0.1', port: 22, configPath: '/mnt/boot/config.json', fleet: 'acme/sensors', uuid: U },
      { name: 'b', host: 'h', port: 22222, configPath: '/mnt/boot/config.json', fleet: 'acme/x' },
    ]);
  });

  it('takes the uuid from a name that is one; uuid= may repeat it (any case)', () => {
    const [a, b] = parseDevicesFile(`${U} h1 uuid=${U.toUpperCase()}\n${U.replace('0', 'e')} h2 2222 fleet=o/f\n`);
    expect(a).toMatchObject({ uuid: U });
    expect(b).toMatchObject({ uuid: U.replace('0', 'e'), port: 2222, fleet: 'o/f' });
  });

  it('review #14: refuses a uuid= that contradicts a uuid-shaped name (device B\'s principal on device A)', () => {
    const other = 'f'.repeat(32);
    expect(() => parseDevicesFile(`${U} h1 fleet=acme/a uuid=${other}\n`, { source: 'f' }))
      .toThrow(new RegExp(`^f:1: uuid= contradicts the device name ${U} \\(a balena uuid\\); drop uuid= or fix one of them$`));
  });

  it('review #14: the same device twice (uuid name in two cases, or uuid= repeated) is refused', () => {
    expect(() => parseDevicesFile(`${U.toUpperCase()} 10.0.0.1 fleet=acme/a\n${U} 10.0.0.2 fleet=acme/b\n`, { source: 'f' }))
      .toThrow(/^f:2: device \S+ is the device of line 1 \(same uuid\); list each device once$/);
    expect(() => parseDevicesFile(`a h1 uuid=${U}\nb h2 uuid=${U.toUpperCase()}\n`, { source: 'f' })).toThrow(/^f:2: device b is the device of line 1/);
  });

  it('leaves files without them as they were', () => {
    expect(parseDevicesFile('a 10.0.0.1\n')).toEqual([{ name: 'a', host: '10.0.0.1', port: 22222, configPath: '/mnt/boot/config.json' }]);
  });

  it('refuses positional fields after key=value ones', () => {
    expect(() => parseDevicesFile('a h fleet=o/f 22\n', { source: 'f' })).toThrow(/^f:1: unknown field after the positional ones/);
  });
});
