import { describe, expect, it } from 'vitest';
import { jumpConfig, needsForwarding, passThroughArgs, splitAttachedSshFlags } from '../../../src/ssh/pass-through.js';
import { UsageError } from '../../../src/errors.js';

describe('ssh option pass-through', () => {
  it('builds ssh argv: one element per value, -v capped at -vvv', () => {
    expect(passThroughArgs({ options: ['ConnectTimeout=5', 'User fv'], jump: 'root@10.0.0.1:22222', localForwards: ['8080:127.0.0.1:80'], remoteForwards: ['9000:127.0.0.1:9000'], verbose: 5 }))
      .toEqual(['-o', 'ConnectTimeout=5', '-o', 'User fv', '-J', 'root@10.0.0.1:22222', '-L', '8080:127.0.0.1:80', '-R', '9000:127.0.0.1:9000', '-vvv']);
    expect(passThroughArgs(undefined)).toEqual([]);
  });

  it('refuses values ssh would read as options, bare keys and control characters', () => {
    for (const bad of [{ options: ['-oProxyCommand=id'] }, { options: ['ConnectTimeout'] }, { jump: '-oProxyCommand=id' }, { localForwards: ['80\n'] }]) {
      expect(() => passThroughArgs(bad)).toThrow(UsageError);
    }
  });

  it('forwarding (and -J, which is ssh -W through the jump host) needs permit-port-forwarding', () => {
    expect(needsForwarding({ options: ['User=x'], verbose: 2 })).toBe(false);
    expect(needsForwarding({ jump: 'h' })).toBe(true);
    expect(needsForwarding({ localForwards: ['1:h:2'] })).toBe(true);
    expect(needsForwarding({ remoteForwards: ['1:h:2'] })).toBe(true);
  });

  it('the -J config carries the certificate and host-key settings, then the user\'s own config', () => {
    expect(jumpConfig({ user: 'root', keyPath: '/t/id', strictHostKeyChecking: 'yes', userKnownHostsFile: '/k' })).toBe([
      'User root', 'IdentityFile "/t/id"', 'CertificateFile "/t/id-cert.pub"', 'IdentitiesOnly yes', 'IdentityAgent none',
      'StrictHostKeyChecking yes', 'UserKnownHostsFile "/k"', 'Include ~/.ssh/config', '',
    ].join('\n'));
  });

  it('splits ssh\'s attached forms (-oKey=V, -Jhost, -L8080:h:80) for ssh only, and never after --', () => {
    expect(splitAttachedSshFlags(['ssh', 'd', '-oUser=x', '-Jj:2', '-L1:h:2', '-R3:h:4', '-vv', '--', '-oNot=me']))
      .toEqual(['ssh', 'd', '-o', 'User=x', '-J', 'j:2', '-L', '1:h:2', '-R', '3:h:4', '-vv', '--', '-oNot=me']);
    expect(splitAttachedSshFlags(['cert', 'sign', '-oX'])).toEqual(['cert', 'sign', '-oX']);
  });

  it('-o User= goes through the principal validator: a look-alike of root is refused (review of issue 11, item 8)', () => {
    for (const o of ['User=r\u043eot', 'user r\u043eot', 'USER = root\u200b', 'User=-oProxyCommand=x', 'User=a,b', 'User=']) {
      expect(() => passThroughArgs({ options: [o] }), JSON.stringify(o)).toThrow(UsageError);
    }
    expect(() => passThroughArgs({ options: ['User=r\u043eot'] })).toThrow(/principal "r\\u043eot" refused/);
    expect(passThroughArgs({ options: ['User=root', 'user fv', 'UserKnownHostsFile=/dev/null'] })).toEqual(['-o', 'User=root', '-o', 'user fv', '-o', 'UserKnownHostsFile=/dev/null']);
  });
});
